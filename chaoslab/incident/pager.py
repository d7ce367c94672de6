"""Pages on Kubernetes: Prometheus's firing alerts folded into the team's incident record (the
Kubernetes wing reads them: chaoslab.kubernetes.prometheus).

On the local lab the daemon evaluates the rules and hands each transition to ``on_alert``. On a
cluster Prometheus evaluates the same rules (charts/chaoslab/files/alerts.yaml); the reaper CronJob,
which already runs every minute in each team's namespace, reads Prometheus's firing alerts for the
team and calls ``on_alert`` with every change since its last run. What it has paged is kept on the
team's board (``PAGED``), so each alert fires once and resolves once however often the reaper runs.

Times: an alert fires at its ``activeAt`` plus its rule's ``for:`` (when Prometheus turned it from
pending to firing), and resolves when the reaper first finds it gone; a page reaches the record up
to a reaper's period (one minute) late, and the incident is dated when the alert fired.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from chaoslab.alerts.definitions import RULES
from chaoslab.chaos.journal import Store
from chaoslab.errors import BadInput
from chaoslab.incident import severity as tiers
from chaoslab.incident.alerting import AlertEvent, on_alert

PAGED = "paged.json"
"""Key on the team's board: the alerts already put on the record, by fingerprint."""


def fingerprint(labels: dict) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def _fired_at(alert: dict, now: float) -> float:
    """When Prometheus turned it firing: activeAt (when it went pending) plus the rule's ``for:``."""
    try:
        active = datetime.fromisoformat(str(alert["activeAt"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return now
    rule = next((r for r in RULES if r.alert == alert["labels"].get("alertname")), None)
    return min(now, active + (rule.for_s if rule is not None else 0.0))


def _tier(severity: str) -> str:
    """An alert of a rule that is not the lab's (a shared Prometheus) with a severity of its own is
    awareness only: it goes on an open incident's timeline and pages nobody."""
    try:
        return tiers.normalise(severity)
    except BadInput:
        return "P4"


def _event(labels: dict, annotations: dict, state: str, ts: float, value=None) -> AlertEvent:
    return AlertEvent(
        name=labels.get("alertname", "?"),
        tier=_tier(labels.get("severity", "P4")),
        state=state,
        ts=ts,
        owner=labels.get("owner", ""),
        summary=annotations.get("summary", ""),
        labels={k: v for k, v in labels.items() if k not in ("alertname", "severity", "owner")},
        value=value,
        runbook_url=annotations.get("runbook_url", ""),
    )


def fold(store: Store, team: str, firing: list[dict], now: float | None = None) -> list[AlertEvent]:
    """Put every change in the team's firing alerts since the last fold on its incident record; returns
    the transitions, in order. An alert of another team (a shared Prometheus) is not this team's."""
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
            value = alert.get("value")
            try:
                value = float(value) if value is not None else None
            except (TypeError, ValueError):
                value = None
            event = _event(alert["labels"], alert.get("annotations") or {}, "fired", _fired_at(alert, now), value)
            events.append(event)
            paged[key] = {"labels": alert["labels"], "annotations": alert.get("annotations") or {}}
    for key in [k for k in paged if k not in current]:
        gone = paged.pop(key)
        events.append(_event(gone.get("labels", {}), gone.get("annotations", {}), "resolved", now))
    events.sort(key=lambda e: e.ts)
    for event in events:
        on_alert(store, event, source="alert", actor="prometheus")
    if events:
        store.write(PAGED, json.dumps(paged))
    return events
