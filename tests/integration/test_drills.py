"""Every drill against a real lab under real Locust load: the symptom shows, then the lab recovers;
every fix restores the SLO while the fault is still on.

Each scenario brings its own traffic (``scenario start`` starts it); recovery
is judged under the default shop traffic, started the same way a trainee would.
"""

from __future__ import annotations

import pytest

from chaoslab.chaos import checks, scenarios
from chaoslab.chaos.drill import DrillJournal
from chaoslab.loadtest.verify import judge_latency
from chaoslab.local.backend import LocalBackend
from support import module_lab, poll_until, reset_around

pytestmark = pytest.mark.disruptive
SYMPTOM_DEADLINE_S = 60
RECOVERY_DEADLINE_S = 90


lab = module_lab("scenario-lab", CHAOSLAB_DRILL_HEALTHY_S="5")


clean = reset_around()


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


def describe(lab, wanted) -> str:
    return "; ".join(c.describe() for c in wanted)


@pytest.mark.parametrize("scenario_id", scenarios.ids())
def test_symptom_appears_under_load_and_the_lab_recovers_after_stop(lab, scenario_id):
    drill = scenarios.get(scenario_id)
    lab.cli("scenario", "start", scenario_id, "--ttl", "600")
    poll_until(
        lambda: holding(lab, drill.symptom),
        f"{scenario_id}'s symptom ({describe(lab, drill.symptom)})",
        timeout=SYMPTOM_DEADLINE_S,
        interval=0,
    )
    lab.cli("scenario", "stop")
    lab.cli("load", "start", "-u", "10", "-r", "10", "--think-time", "0.5")
    poll_until(
        lambda: holding(lab, drill.slo),
        f"{scenario_id}: the SLO after stop ({describe(lab, drill.slo)})",
        timeout=RECOVERY_DEADLINE_S,
        interval=0,
    )


FIXES = [(s.id, f.id) for s in scenarios.catalogue() for f in s.fixes]


@pytest.mark.parametrize("scenario_id,fix_id", FIXES, ids=[f"{s}-{f}" for s, f in FIXES])
def test_a_fix_restores_the_slo_with_the_fault_still_on(lab, scenario_id, fix_id):
    drill = scenarios.get(scenario_id)
    lab.cli("scenario", "start", scenario_id, "--ttl", "600")  # its symptom test proved the faults bite
    lab.cli("scenario", "fix", fix_id)
    poll_until(
        lambda: holding(lab, drill.slo),
        f"{scenario_id} with fix {fix_id}: {describe(lab, drill.slo)}",
        timeout=RECOVERY_DEADLINE_S,
        interval=0,
    )
    still_on = lab.cli("scenario", "status").stdout
    assert f"{len(drill.faults) + len(drill.red_herrings)}/" in still_on and " faults active" in still_on
    active = still_on.split(", ")[2].split("/")
    assert active[0] == active[1].split()[0], f"the scenario's faults must still be on: {still_on}"
