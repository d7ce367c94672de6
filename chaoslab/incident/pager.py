"""Pages on Kubernetes: the team's alerts as Alertmanager holds them, folded into its incident record.

On the local lab the daemon evaluates the rules and hands each transition to ``on_alert``. On a
cluster Prometheus evaluates the same rules (charts/chaoslab/files/alerts.yaml) and sends its alerts to
Alertmanager, which routes each team's to the team's pager (chaoslab/kubernetes/receiver.py, a small
Deployment in the team's namespace). On every notification, and every few seconds besides, the pager
reads the team's alerts back from Alertmanager, silenced and inhibited ones included, and calls
``fold`` with them: every change since the last fold goes through ``on_alert``, which applies the
team's silences and the inhibitions as it does locally. What has been paged is kept on the team's
board (``PAGED``), so each alert fires once and resolves once however often the pager looks.

Times: an alert fires at its ``startsAt`` (when Prometheus turned it from pending to firing) and
resolves when the pager first finds it gone.
"""

from __future__ import annotations

import json
import time

from chaoslab.chaos.journal import Store
from chaoslab.errors import BadInput
from chaoslab.incident import severity as tiers
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.timefmt import rfc3339

PAGED = "paged.json"
"""Key on the team's board: the alerts already put on the record, by fingerprint."""


def fingerprint(labels: dict) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def _fired_at(alert: dict, now: float) -> float:
    """When Prometheus turned it firing (Alertmanager's ``startsAt``), never later than now."""
    fired = rfc3339(alert.get("startsAt", ""))
    return now if fired is None else min(now, fired)


def _tier(severity: str) -> str:
    """An alert of a rule that is not the lab's (a shared Prometheus) with a severity of its own is
    awareness only: it goes on an open incident's timeline and pages nobody."""
    try:
        return tiers.normalise(severity)
    except BadInput:
        return "P4"


def _event(labels: dict, annotations: dict, state: str, ts: float) -> AlertEvent:
    return AlertEvent(
        name=labels.get("alertname", "?"),
        tier=_tier(labels.get("severity", "P4")),
        state=state,
        ts=ts,
        owner=labels.get("owner", ""),
        summary=annotations.get("summary", ""),
        labels={k: v for k, v in labels.items() if k not in ("alertname", "severity", "owner")},
        runbook_url=annotations.get("runbook_url", ""),
    )


def fold(store: Store, team: str, firing: list[dict], now: float | None = None) -> list[AlertEvent]:
    """Put every change in the team's firing alerts (Alertmanager's: ``labels``, ``annotations``,
    ``startsAt``) since the last fold on its incident record; returns the transitions, in order. An
    alert of another team (a shared Alertmanager) is not this team's."""
    now = time.time() if now is None else now
    try:
        paged: dict[str, dict] = json.loads(store.read(PAGED) or "{}")
    except ValueError:
        paged = {}
    current = {
        fingerprint(a["labels"]): a
        for a in firing
        if isinstance(a.get("labels"), dict) and a["labels"].get("team", team) == team
    }
    events = []
    for key, alert in current.items():
        if key not in paged:
            event = _event(alert["labels"], alert.get("annotations") or {}, "fired", _fired_at(alert, now))
            events.append(event)
            paged[key] = {"labels": alert["labels"], "annotations": alert.get("annotations") or {}}
    for key in [k for k in paged if k not in current]:
        gone = paged.pop(key)
        events.append(_event(gone.get("labels", {}), gone.get("annotations", {}), "resolved", now))
    events.sort(key=lambda e: e.ts)
    for event in events:
        on_alert(store, event, source="alert", actor="alertmanager")
    if events:
        store.write(PAGED, json.dumps(paged))
    return events
