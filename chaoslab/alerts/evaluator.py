"""Alert state the way Prometheus keeps it: inactive → pending → firing → resolved, with timestamps.

Each evaluation runs every rule's PromQL at one instant. A result that is new becomes *pending*
(``active_at``); once it has been returned for the rule's whole ``for:`` window it is *firing*
(``fired_at``); when the expression stops returning it, a pending alert is dropped and a firing one is
*resolved* (``resolved_at``) and kept for ``RESOLVED_RETENTION_MS`` like Prometheus does. Every
change is an ``Event`` with a growing sequence number, kept in a bounded log: an incident opened from
a firing P1/P2 reads its timeline entries (alert fired, alert resolved, with labels and value) from
there, and ``since`` lets a reader follow the log without missing or repeating an entry.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import deque
from dataclasses import asdict, dataclass

from chaoslab.alerts import promql, templates
from chaoslab.alerts.rules import Rule
from chaoslab.alerts.tiers import rank

log = logging.getLogger("chaoslab.alerts")
RESOLVED_RETENTION_MS = 15 * 60_000
"""How long a resolved alert stays listed (Prometheus keeps it as long to tell Alertmanager)."""


def fingerprint(alert: str, labels: dict[str, str]) -> str:
    """A short stable id of one alert instance (its name and labels), like Alertmanager's fingerprint:
    the fired and the resolved transition of the same instance share it."""
    text = "\x00".join([alert, *(f"{k}={v}" for k, v in sorted(labels.items()))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Alert:
    """One alert instance: a rule and one label set its expression returned."""

    alert: str
    labels: dict[str, str]
    """The sample's labels plus the rule's (severity, owner, …); ``alertname`` is ``alert``."""
    fingerprint: str
    severity: str
    owner: str
    runbook_url: str
    expr: str
    for_s: float
    state: str = "pending"
    """pending, firing or resolved."""
    active_at: float = 0.0
    fired_at: float | None = None
    resolved_at: float | None = None
    value: float = math.nan
    summary: str = ""
    description: str = ""

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["value"] = None if math.isnan(self.value) else self.value
        return doc


@dataclass
class Event:
    """One transition of one alert, as an incident timeline wants it."""

    seq: int
    ts: float
    """Seconds since the epoch."""
    kind: str
    """alert_pending, alert_fired or alert_resolved."""
    alert: str
    fingerprint: str
    severity: str
    owner: str
    labels: dict[str, str]
    value: float | None
    summary: str
    runbook_url: str


class Evaluator:
    """Evaluates a fixed list of rules against a storage, remembering alerts and their transitions."""

    def __init__(self, rules: list[Rule], max_events: int = 2000):
        self.rules = rules
        self._active: list[dict[tuple, Alert]] = [{} for _ in rules]
        self._events: deque[Event] = deque(maxlen=max_events)
        self._seq = 0
        self._lock = threading.Lock()
        self.last_evaluation: float | None = None
        self.errors: dict[str, str] = {}

    def evaluate(self, storage: promql.Storage, t_ms: int) -> list[Event]:
        """Run every rule at ``t_ms``; returns the transitions it caused."""
        events: list[Event] = []
        with self._lock:
            for rule, active in zip(self.rules, self._active, strict=True):
                try:
                    result = promql.evaluate(rule.ast, storage, t_ms)
                except promql.PromQLError as exc:  # a rule that cannot run says so and skips this round
                    if self.errors.get(rule.alert) != str(exc):
                        log.error("alert rule %s: %s", rule.alert, exc)
                    self.errors[rule.alert] = str(exc)
                    continue
                self.errors.pop(rule.alert, None)
                if isinstance(result, float):
                    result = [promql.Sample({}, result)]
                self._step(rule, active, result, t_ms, events)
            self.last_evaluation = t_ms / 1000
        return events

    def _step(self, rule: Rule, active: dict[tuple, Alert], result, t_ms: int, events: list[Event]) -> None:
        now = t_ms / 1000
        seen = set()
        for sample in result:
            labels = {k: v for k, v in sample.labels.items() if k != "__name__"}
            labels.update(rule.all_labels)
            k = promql.key(labels)
            seen.add(k)
            summary = templates.render(rule.summary, sample.labels, sample.value)
            description = templates.render(rule.description, sample.labels, sample.value)
            alert = active.get(k)
            if alert is None or alert.state == "resolved":
                alert = active[k] = Alert(
                    rule.alert,
                    labels,
                    fingerprint(rule.alert, labels),
                    rule.severity,
                    rule.owner,
                    rule.runbook_url,
                    rule.expr,
                    rule.for_s,
                    active_at=now,
                )
                alert.value, alert.summary, alert.description = sample.value, summary, description
                events.append(self._event(now, "alert_pending", alert))
            alert.value, alert.summary, alert.description = sample.value, summary, description
        for k, alert in list(active.items()):
            if k not in seen:
                if alert.state == "pending":
                    del active[k]
                elif alert.state == "firing":
                    alert.state, alert.resolved_at = "resolved", now
                    events.append(self._event(now, "alert_resolved", alert))
                elif alert.resolved_at is not None and (now - alert.resolved_at) * 1000 > RESOLVED_RETENTION_MS:
                    del active[k]
                continue
            if alert.state == "pending" and now - alert.active_at >= rule.for_s:
                alert.state, alert.fired_at = "firing", now
                events.append(self._event(now, "alert_fired", alert))

    def _event(self, now: float, kind: str, alert: Alert) -> Event:
        self._seq += 1
        event = Event(
            self._seq,
            now,
            kind,
            alert.alert,
            alert.fingerprint,
            alert.severity,
            alert.owner,
            dict(alert.labels),
            None if math.isnan(alert.value) else alert.value,
            alert.summary,
            alert.runbook_url,
        )
        self._events.append(event)
        if kind != "alert_pending":
            log.info("%s %s %s %s", kind, alert.alert, alert.severity, alert.summary)
        return event

    def alerts(self) -> list[Alert]:
        """Every pending, firing and recently resolved alert: most severe first, then oldest first."""
        with self._lock:
            found = [alert for active in self._active for alert in active.values()]
        order = {"firing": 0, "pending": 1, "resolved": 2}
        return sorted(found, key=lambda a: (order[a.state], rank(a.severity), a.active_at, a.alert))

    def events(self, since: int = 0) -> list[Event]:
        """Transitions with a sequence number above ``since``, oldest first."""
        with self._lock:
            return [event for event in self._events if event.seq > since]
