"""Pages out to a webhook, in Alertmanager's webhook payload (version 4), so any receiver that takes
Alertmanager's takes the lab's: a chat relay, an on-call tool's Alertmanager integration, a script.

One notification per incident per look at the record, grouped by incident (``groupKey``
``{}:{incident="INC-3"}``): its alerts with their states, the notices that prompted it in
``commonAnnotations``. A page, an alert firing or resolving, an escalation, an overdue update and the
resolve are sent; the team's own steps (ack, notes) are not. Delivery runs on a thread of its own
with retries and back-off, so a slow or dead receiver never holds up paging or the record.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable

import requests

from chaoslab.incident.notify import Follower, Notice
from chaoslab.incident.record import Incident
from chaoslab.timefmt import utc

log = logging.getLogger("chaoslab.webhook")

VERSION = "4"
RECEIVER = "chaoslab"
NEVER = "0001-01-01T00:00:00Z"
"""Alertmanager's ``endsAt`` of an alert still firing."""
SENT_FOR = ("page", "alert", "escalation", "overdue")
"""Notice sorts that are sent (and the state changes that close an incident)."""
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
"""Waits between attempts: five attempts in about 15 s, then the notification is dropped and logged."""
TIMEOUT_S = 5.0


def _fingerprint(labels: dict[str, str]) -> str:
    text = "\x00".join(f"{k}\x00{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _alert(labels: dict[str, str], annotations: dict[str, str], starts: float, ends: float | None) -> dict:
    """One alert as Alertmanager lists it; ``ends`` None: still firing."""
    return {
        "status": "firing" if ends is None else "resolved",
        "labels": labels,
        "annotations": annotations,
        "startsAt": utc(starts),
        "endsAt": NEVER if ends is None else utc(ends),
        "generatorURL": "",
        "fingerprint": _fingerprint(labels),
    }


def _alerts(incident: Incident) -> list[dict]:
    """Each alert that fired on the incident (the latest firing of each); an incident declared from a
    report, with none, is its own one alert."""
    latest: dict[str, dict] = {}
    for e in incident.of_kind("alert_fired", "alert_resolved"):
        data = e.get("data") or {}
        if data.get("inhibited_by"):  # Alertmanager sends no inhibited alert either
            continue
        name = str(data.get("alert", "?"))
        if e["kind"] == "alert_fired":
            latest[name] = {"data": data, "starts": e["ts"], "ends": None}
        elif name in latest:
            latest[name]["ends"] = e["ts"]
    found = []
    for name, seen in latest.items():
        data = seen["data"]
        labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
        labels |= {"alertname": name, "severity": str(data.get("severity", "")), "incident": incident.id}
        if data.get("owner"):
            labels["owner"] = str(data["owner"])
        annotations = {"summary": str(data.get("summary") or "")}
        if data.get("runbook_url"):
            annotations["runbook_url"] = str(data["runbook_url"])
        firing = seen["ends"] is None and name in incident.firing
        ends = None if firing else seen["ends"] or incident.resolved_at or seen["starts"]
        found.append(_alert(labels, annotations, seen["starts"], ends))
    if not found:
        labels = {"alertname": "IncidentDeclared", "severity": incident.severity, "incident": incident.id}
        ends = None if incident.open else incident.resolved_at or incident.declared_at
        found.append(_alert(labels, {"summary": incident.title}, incident.declared_at, ends))
    return found


def payload(incident: Incident, notices: list[Notice], external_url: str = "") -> dict:
    """Alertmanager's webhook body (version 4) for one incident and the notices that prompted it."""
    alerts = _alerts(incident)
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    firing = incident.open and any(a["status"] == "firing" for a in alerts)
    return {
        "version": VERSION,
        "groupKey": f'{{}}:{{incident="{incident.id}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": RECEIVER,
        "groupLabels": {"incident": incident.id},
        "commonLabels": common,
        "commonAnnotations": {
            "title": incident.title,
            "state": incident.describe_state(),
            "notices": "\n".join(n.line() for n in notices),
            "paged": ", ".join(dict.fromkeys(n.paged for n in notices if n.paged)),
        },
        "externalURL": external_url,
        "alerts": alerts,
    }


def sent(notice: Notice) -> bool:
    return notice.sort in SENT_FOR or notice.entry["kind"] in ("resolved", "disposition")


class Sender:
    """Posts payloads to ``url`` in order, from a thread of its own; a failure is retried with back-off
    and, after the last attempt, dropped and logged. ``post`` never blocks."""

    def __init__(self, url: str, delays_s: tuple[float, ...] = RETRY_DELAYS_S, name: str = "page webhook"):
        self.url = url
        self.delays_s = delays_s
        self.name = name
        self.outbox: queue.Queue[dict | None] = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name.replace(" ", "-"), daemon=True)
        self.thread.start()

    def post(self, body: dict) -> None:
        self.outbox.put(body)

    def stop(self) -> None:
        self.stopping.set()
        self.outbox.put(None)

    def _run(self) -> None:
        while (body := self.outbox.get()) is not None:
            self._deliver(body)

    def _deliver(self, body: dict) -> None:
        for attempt, wait in enumerate((*self.delays_s, None), start=1):
            try:
                answer = requests.post(self.url, json=body, timeout=TIMEOUT_S)
                if answer.status_code < 400:
                    return
                why = f"HTTP {answer.status_code}"
                if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429):
                    wait = None  # the receiver refuses this body: sending it again changes nothing
            except requests.RequestException as exc:
                why = type(exc).__name__
            if wait is None or self.stopping.wait(wait):
                log.error("%s %s gave up on %s after %d attempts: %s", self.name, self.url, _what(body), attempt, why)
                return
            log.warning("%s %s: attempt %d failed (%s); again in %gs", self.name, self.url, attempt, why, wait)


def _what(body: dict) -> str:
    """Which notification a body is, for the log: its group, or the status page's incident or component."""
    found = body.get("groupKey") or (body.get("incident") or body.get("component") or {}).get("id")
    return str(found or "?")


def forward(follower: Follower, send: Callable[[dict], None], external_url: str = "") -> int:
    """One look at the record: a notification per incident with notices worth sending; how many."""
    by_incident: dict[str, list[Notice]] = {}
    for notice in follower.poll():
        if sent(notice):
            by_incident.setdefault(notice.incident.id, []).append(notice)
    for notices in by_incident.values():
        send(payload(notices[-1].incident, notices, external_url))
    return len(by_incident)
