"""What the drill tests judge a lab by: a drill's checks holding over one window, latency judged as
verify judges it (tests/integration/test_drills.py and test_drill_fixes.py)."""

from __future__ import annotations

from chaoslab.chaos import checks
from chaoslab.chaos.drill import DrillJournal
from chaoslab.loadtest.verify import judge_latency
from chaoslab.local.backend import LocalBackend

SYMPTOM_DEADLINE_S = 60
RECOVERY_DEADLINE_S = 120
"""A deadline, not a timing: the poll returns as soon as the SLO holds. A fix (a breaker opening, its
pool draining) on a host busy starting three labs has taken over 90 s."""


def holding(lab, wanted: tuple[checks.Check, ...]):
    """A poll_until check: every check holds over one window (returns the results, or None), latency
    judged as verify judges it: against the drill's healthy figures where the SLO's bound is out of
    reach on this host (chaoslab.loadtest.verify.judge_latency)."""
    local = LocalBackend(lab.state_dir, "test")
    traffic = local.load()
    latest = DrillJournal(local.store()).latest()
    healthy = latest.healthy if latest and latest.running() else None
    results = checks.observe(list(wanted), local.probe(), traffic.stats_source() if traffic.stats() else None)
    results = [judge_latency(r, healthy) for r in results]
    return results if all(r.ok for r in results) else None


def describe(wanted) -> str:
    return "; ".join(c.describe() for c in wanted)
