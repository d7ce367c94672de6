"""Every fix of every drill restores the drill's SLO while its faults are still on, on a real lab under
the drill's own Locust traffic (test_drills.py proves each drill's faults bite)."""

from __future__ import annotations

import pytest
from drillchecks import RECOVERY_DEADLINE_S, describe, holding

from chaoslab.chaos import scenarios
from support import module_lab, poll_until, reset_around

pytestmark = pytest.mark.disruptive


lab = module_lab("fix-lab", CHAOSLAB_DRILL_HEALTHY_S="5")


clean = reset_around()

FIXES = [(s.id, f.id) for s in scenarios.catalogue() for f in s.fixes]


@pytest.mark.parametrize("scenario_id,fix_id", FIXES, ids=[f"{s}-{f}" for s, f in FIXES])
def test_a_fix_restores_the_slo_with_the_fault_still_on(lab, scenario_id, fix_id):
    drill = scenarios.get(scenario_id)
    lab.cli("scenario", "start", scenario_id, "--ttl", "600")
    lab.cli("scenario", "fix", fix_id)
    poll_until(
        lambda: holding(lab, drill.slo),
        f"{scenario_id} with fix {fix_id}: {describe(drill.slo)}",
        timeout=RECOVERY_DEADLINE_S,
        interval=0,
    )
    still_on = lab.cli("scenario", "status").stdout
    assert f"{len(drill.faults) + len(drill.red_herrings)}/" in still_on and " faults active" in still_on
    active = still_on.split(", ")[2].split("/")
    assert active[0] == active[1].split()[0], f"the scenario's faults must still be on: {still_on}"
