"""The one call the lab makes when an alert fires or resolves: ``on_alert(store, event)``.

A firing alert of a paging tier (P1, P2) opens an incident, or joins the one already open (a lab has
one incident at a time in a drill; a second page is part of the same story until someone resolves
it), unless that one belongs to another drill run: a page from a new drill is a new story and opens
its own incident. A silence (chaoslab.incident.silence: a verify's own traffic) keeps a page from
opening one. Any alert that fires or resolves while an incident is open goes on its timeline, so the
review shows the P3 CPU warning next to the P1 page. When the last paging alert of an incident
resolves, the SLIs are back in target: the incident is *mitigated* (the lab says so, not the team).
A symptom whose cause is firing (chaoslab.alerts.definitions.INHIBITIONS: Redis unreachable, then the
queue backs up) is *inhibited*: it goes on the timeline marked so, opens no incident, raises no
severity and notifies nobody.

``AlertEvent`` is the interface: the alerts evaluation on the lab daemon (``chaoslab.alerts.local``)
produces ``Event`` records and hands each to ``on_evaluator_event``; ``AlertEvent.from_evaluator``
reads one. An instructor can page a team by hand through the same call (``chaoslab incident page``).
On Kubernetes Prometheus evaluates the rules and the team's pager folds its alerts, as Alertmanager
holds them, into the team's record with this call (``chaoslab.incident.pager``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from chaoslab.alerts.definitions import headline, inhibitor
from chaoslab.chaos.journal import Journal, Store
from chaoslab.incident import severity as tiers
from chaoslab.incident.record import Incident, IncidentLog
from chaoslab.incident.silence import Silences

ALERTS = "alerts.jsonl"
"""Store key of the board's alert log: every transition ``on_alert`` saw, whether or not an incident was
open to take it (triage's WHAT and OWNER accept an alert that fired before the team's report)."""
LOCAL_ACTOR = "lab alerts"
"""Who pages on the local lab: the lab daemon's own alert evaluation (no Alertmanager runs there)."""


@dataclass(frozen=True)
class AlertEvent:
    """One alert transition: what an incident's timeline needs to know about it."""

    name: str
    """The alert's name (``CheckoutAvailabilityFastBurn``): the answer to triage's WHAT."""
    tier: str
    """P1 to P4."""
    state: str
    """``fired`` or ``resolved``."""
    ts: float
    """When it fired or resolved (seconds since the epoch)."""
    owner: str = ""
    """The team it routes to."""
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    value: float | None = None
    runbook_url: str = ""

    @classmethod
    def from_evaluator(cls, event: dict) -> AlertEvent | None:
        """From ``dataclasses.asdict`` of a ``chaoslab.alerts.evaluator.Event`` (``kind`` alert_fired or
        alert_resolved); None for the transitions incidents ignore (alert_pending)."""
        state = {"alert_fired": "fired", "alert_resolved": "resolved"}.get(event.get("kind", ""))
        if state is None:
            return None
        value = event.get("value")
        return cls(
            name=str(event["alert"]),
            tier=tiers.normalise(event["severity"]),
            state=state,
            ts=float(event["ts"]),
            owner=str(event.get("owner") or ""),
            summary=str(event.get("summary") or ""),
            labels={str(k): str(v) for k, v in (event.get("labels") or {}).items()},
            value=None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value),
            runbook_url=str(event.get("runbook_url") or ""),
        )

    @property
    def pages(self) -> bool:
        return tiers.contract(self.tier).pages

    @property
    def all_labels(self) -> dict[str, str]:
        """Its labels as Alertmanager sees them: ``alertname``, ``severity`` and ``owner`` among them."""
        return {**self.labels, "alertname": self.name, "severity": self.tier, "owner": self.owner}

    def data(self) -> dict:
        return {
            "alert": self.name,
            "severity": self.tier,
            "owner": self.owner,
            "labels": self.labels,
            "value": self.value,
            "summary": self.summary,
            "runbook_url": self.runbook_url,
        }


def on_alert(
    store: Store,
    event: AlertEvent,
    snapshot: Callable[[], dict | None] = lambda: None,
    source: str = "alert",
    actor: str = LOCAL_ACTOR,
) -> Incident | None:
    """Put one alert transition on the record; returns the incident it joined or opened (None when it
    touched none: a P3/P4 with nothing open, or a resolution of an alert no incident knew).

    ``snapshot`` is called when an incident opens and when it is mitigated: the services' counters at
    detection and at mitigation (see chaoslab.incident.impact), the review's impact window. Never raises
    for an unreadable snapshot.
    """
    inhibited = _inhibited(store, event) if event.state == "fired" else None
    data = event.data() | ({"inhibited_by": inhibited} if inhibited else {})
    Journal(store, ALERTS).append(f"alert_{event.state}", ts=event.ts, **data)
    log = IncidentLog(store, actor)
    log.settle(event.ts)
    incident = log.current()
    links = [event.runbook_url] if event.runbook_url else []
    if event.state == "fired":
        if event.pages:
            incident = log.story_at(event.ts)  # an open incident of another drill is another story
        if incident is None:
            if not event.pages or inhibited:  # an inhibited symptom's cause is the page
                return None
            silences = Silences(store)
            if silences.covering(event.ts, event.all_labels) is not None:
                silences.muted(event.ts, event.name, event.tier)
                return None
            counters = _safely(snapshot)
            incident = log.declare(
                headline(event.name, event.labels),
                event.tier,
                "alerting",
                source=source,
                actor=actor,
                ts=event.ts,
                snapshot=counters,
            )
        elif event.name in incident.firing:
            return incident  # the same alert again (a second reader of the same evaluation): once is enough
        said = f"{event.tier} {event.name} fired" + (f": {event.summary}" if event.summary else "")
        if inhibited:
            said += f" (inhibited: {inhibited['alert']} is firing, and {inhibited['why']})"
        log.write(incident, "alert_fired", said, source=source, actor=actor, ts=event.ts, links=links, data=data)
        if event.pages and not inhibited and tiers.rank(event.tier) < tiers.rank(incident.severity):
            log.write(
                incident,
                "severity",
                f"severity raised to {event.tier} by {event.name}",
                {"severity": event.tier},
                source="lab",
                actor="lab",
                ts=event.ts,
            )
        return log.get(incident.id)
    incident = next((i for i in reversed(log.all()) if i.open and event.name in i.firing), None)
    if incident is None:  # no open incident knew it fired (two may be open: each drill's own)
        return None
    inhibited = incident.firing[event.name].get("inhibited_by")  # its resolve is as quiet as its firing
    data = event.data() | ({"inhibited_by": inhibited} if inhibited else {})
    log.write(
        incident,
        "alert_resolved",
        f"{event.name} resolved",
        source=source,
        actor=actor,
        ts=event.ts,
        links=links,
        data=data,
    )
    incident = log.get(incident.id)
    still_paging = [name for name, data in incident.firing.items() if tiers.contract(data.get("severity", "P4")).pages]
    paged = [e for e in incident.of_kind("alert_fired") if tiers.contract(e["data"].get("severity", "P4")).pages]
    if not still_paging and incident.mitigated_at is None and paged:  # a P3 ticket resolving mitigates nothing
        counters = _safely(snapshot)
        log.write(
            incident,
            "mitigated",
            "every paging alert has resolved: the SLIs are back in target",
            {"snapshot": counters} if counters else None,
            source="lab",
            actor="lab",
            ts=event.ts,
        )
    return log.get(incident.id)


def _inhibited(store: Store, event: AlertEvent) -> dict | None:
    """What keeps ``event`` quiet (``{"alert": its cause, "why": ...}``), from the alerts firing on the
    board now (chaoslab.alerts.definitions.INHIBITIONS); None when nothing does."""
    last: dict[str, tuple[str, dict[str, str]]] = {}
    for e in Journal(store, ALERTS).entries():
        labels = {str(k): str(v) for k, v in (e.get("labels") or {}).items()}
        labels |= {"alertname": str(e.get("alert")), "severity": str(e.get("severity")), "owner": str(e.get("owner"))}
        last[json.dumps(labels, sort_keys=True)] = (e["event"], labels)
    found = inhibitor(event.all_labels, [labels for kind, labels in last.values() if kind == "alert_fired"])
    return None if found is None else {"alert": found[1]["alertname"], "why": found[0].why}


def fired(store: Store, start: float, end: float) -> list[dict]:
    """The alerts that fired on this lab from ``start`` to ``end``, oldest first (the board's alert log)."""
    return [e for e in Journal(store, ALERTS).entries(since_ts=start) if e["event"] == "alert_fired" and e["ts"] <= end]


def _safely(snapshot: Callable[[], dict | None]) -> dict | None:
    try:
        return snapshot()
    except Exception:  # the review then has one number fewer; paging must never fail
        return None


def on_evaluator_event(store: Store, event: dict, snapshot: Callable[[], dict | None] = lambda: None) -> None:
    """The wiring point for the lab daemon's alert loop: call it with ``dataclasses.asdict`` of each
    ``chaoslab.alerts.evaluator.Event`` an evaluation returns (pending ones are ignored)."""
    read = AlertEvent.from_evaluator(event)
    if read is not None:
        on_alert(store, read, snapshot)
