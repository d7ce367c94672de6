"""Silences: a window in which a paging alert opens no new incident (a maintenance window).

``verify`` sets one for its own run: its load is the team's test, not a customer, and a page it set
off (a fix that does not hold, or the alert windows still full of the run's own traffic a minute
later) must not open an incident of its own, attributed to nobody's drill. A silence covers the
drill run being played when it was set (or the time between drills): a new drill started meanwhile
pages as it should. An alert that fires while an incident is open still joins that incident: a
silence only keeps new ones from being opened, and the alert is written on the silence's record
instead, so nothing is lost.

A team sets its own too, Alertmanager's way (``chaoslab alerts silence alertname=X owner=payments
--for 10m --reason ...``): matchers on the alert's labels (chaoslab.alerts.matchers), a start, an end,
who and why; one with no matcher silences every alert. A team's silence holds across drills until it
ends or ``chaoslab alerts unsilence ID`` ends it early.

Silences are a journal on the team's board (``silences.jsonl``): the team sets them, like the
acknowledgments and notes it writes there.
"""

from __future__ import annotations

import time
import uuid

from chaoslab import command
from chaoslab.alerts.definitions import BURN_WINDOWS
from chaoslab.alerts.matchers import matches
from chaoslab.alerts.promql import parse_duration
from chaoslab.chaos.drill import DrillJournal
from chaoslab.chaos.journal import Journal, Store
from chaoslab.errors import Refused

SILENCES = "silences.jsonl"
SETTLE_S = max(parse_duration(w.long) / 1000 + w.for_s for w in BURN_WINDOWS if w.page)
"""How long a run's traffic stays in the paging alerts' windows after it ends: their long window plus
their ``for:``."""


class Silences:
    def __init__(self, store: Store):
        self.journal = Journal(store, SILENCES)

    def add(
        self,
        start: float,
        until: float,
        reason: str,
        actor: str,
        matchers: list[list[str]] | None = None,
        for_this_run: bool = True,
    ) -> dict:
        """A silence from ``start`` to ``until``; ``for_this_run``: only while the drill run being played at
        ``start`` goes on (a verify's), else across drills (a team's maintenance window)."""
        run = DrillJournal(self.journal.store).at(start) if for_this_run else None
        return self.journal.append(
            "silence",
            id=f"S-{uuid.uuid4().hex[:6]}",
            start=start,
            until=until,
            reason=reason,
            actor=actor,
            drill=run.id if run else None,
            any_run=not for_this_run,
            matchers=matchers or [],
        )

    def active(self, ts: float) -> list[dict]:
        """The silences in force at ``ts`` (by time and by the unsilences written since), any run."""
        entries = self.journal.entries()
        ended = {e.get("id") for e in entries if e["event"] == "unsilence" and e["ts"] <= ts}
        found = []
        for item in (e for e in entries if e["event"] == "silence" and e.get("id") not in ended):
            try:
                if float(item["start"]) <= ts <= float(item["until"]):
                    found.append(item)
            except (KeyError, TypeError, ValueError):
                continue
        return found

    def covering(self, ts: float, labels: dict[str, str] | None = None) -> dict | None:
        """The silence in force at ``ts`` whose matchers match ``labels`` (a verify's: for the drill run
        being played then), if any."""
        run = DrillJournal(self.journal.store).at(ts)
        for item in self.active(ts):
            same_run = item.get("any_run") or item.get("drill") == (run.id if run else None)
            if same_run and matches(item.get("matchers") or [], labels or {}):
                return item
        return None

    def end(self, silence_id: str, actor: str) -> dict:
        """End a silence now; Refused when no silence of that id is in force."""
        now = time.time()
        if not any(item.get("id") == silence_id for item in self.active(now)):
            raise Refused(f"no silence {silence_id!r} in force; `{command('alerts silences')}` lists them")
        return self.journal.append("unsilence", id=silence_id, actor=actor)

    def muted(self, ts: float, alert: str, tier: str) -> None:
        """Record an alert a silence kept from opening an incident."""
        self.journal.append("muted", alert=alert, tier=tier, at=round(ts, 3))


def for_run(store: Store, duration_s: float, reason: str, actor: str, now: float | None = None) -> dict:
    """Silence new pages from now until a run of ``duration_s`` seconds (and its drain) has left the
    alert windows."""
    now = time.time() if now is None else now
    return Silences(store).add(now, now + duration_s + SETTLE_S, reason, actor)
