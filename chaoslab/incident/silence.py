"""Silences: a window in which a paging alert opens no new incident (a maintenance window).

``verify`` sets one for its own run: its load is the team's test, not a customer, and a page it set
off (a fix that does not hold, or the alert windows still full of the run's own traffic a minute
later) must not open an incident of its own, attributed to nobody's drill. A silence covers the
drill run being played when it was set (or the time between drills): a new drill started meanwhile
pages as it should. An alert that fires while an incident is open still joins that incident: a
silence only keeps new ones from being opened, and the alert is written on the silence's record
instead, so nothing is lost.

Silences are a journal on the team's board (``silences.jsonl``): the team sets them, like the
acknowledgments and notes it writes there.
"""

from __future__ import annotations

import time

from chaoslab.alerts.definitions import BURN_WINDOWS
from chaoslab.alerts.promql import parse_duration
from chaoslab.chaos.drill import DrillJournal
from chaoslab.chaos.journal import Journal, Store

SILENCES = "silences.jsonl"
SETTLE_S = max(parse_duration(w.long) / 1000 + w.for_s for w in BURN_WINDOWS if w.page)
"""How long a run's traffic stays in the paging alerts' windows after it ends: their long window plus
their ``for:``."""


class Silences:
    def __init__(self, store: Store):
        self.journal = Journal(store, SILENCES)

    def add(self, start: float, until: float, reason: str, actor: str) -> dict:
        run = DrillJournal(self.journal.store).at(start)
        return self.journal.append(
            "silence", start=start, until=until, reason=reason, actor=actor, drill=run.id if run else None
        )

    def covering(self, ts: float) -> dict | None:
        """The silence in force at ``ts`` for the drill run being played then, if any."""
        run = DrillJournal(self.journal.store).at(ts)
        for item in self.journal.entries():
            try:
                if float(item["start"]) <= ts <= float(item["until"]) and item.get("drill") == (
                    run.id if run else None
                ):
                    return item
            except (KeyError, TypeError, ValueError):
                continue
        return None

    def muted(self, ts: float, alert: str, tier: str) -> None:
        """Record an alert a silence kept from opening an incident."""
        self.journal.append("muted", alert=alert, tier=tier, at=round(ts, 3))


def for_run(store: Store, duration_s: float, reason: str, actor: str, now: float | None = None) -> dict:
    """Silence new pages from now until a run of ``duration_s`` seconds (and its drain) has left the
    alert windows."""
    now = time.time() if now is None else now
    return Silences(store).add(now, now + duration_s + SETTLE_S, reason, actor)
