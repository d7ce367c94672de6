"""Every drill against a real lab under real Locust load: the symptom shows, then the lab recovers.
(test_drill_fixes.py: every fix restores the SLO while the fault is still on, on a lab of its own.)

Each scenario brings its own traffic (``scenario start`` starts it); recovery
is judged under the default shop traffic, started the same way a trainee would.
"""

from __future__ import annotations

import pytest
from drillchecks import RECOVERY_DEADLINE_S, SYMPTOM_DEADLINE_S, describe, holding

from chaoslab.chaos import scenarios
from support import module_lab, poll_until, reset_around

pytestmark = pytest.mark.disruptive


lab = module_lab("scenario-lab", CHAOSLAB_DRILL_HEALTHY_S="5")


clean = reset_around()


@pytest.mark.parametrize("scenario_id", scenarios.ids())
def test_symptom_appears_under_load_and_the_lab_recovers_after_stop(lab, scenario_id):
    drill = scenarios.get(scenario_id)
    lab.cli("scenario", "start", scenario_id, "--ttl", "600")
    poll_until(
        lambda: holding(lab, drill.symptom),
        f"{scenario_id}'s symptom ({describe(drill.symptom)})",
        timeout=SYMPTOM_DEADLINE_S,
        interval=0,
    )
    lab.cli("scenario", "stop")
    lab.cli("load", "start", "-u", "10", "-r", "10", "--think-time", "0.5")
    poll_until(
        lambda: holding(lab, drill.slo),
        f"{scenario_id}: the SLO after stop ({describe(drill.slo)})",
        timeout=RECOVERY_DEADLINE_S,
        interval=0,
    )
