"""A fault that keeps its own service down is still an active fault: the process-crash drill on a lab of
its own, whose service-b crash-loops on the drill's fault and is down most of the time."""

from __future__ import annotations

import json

import pytest

from support import module_lab, poll_until

pytestmark = pytest.mark.disruptive
lab = module_lab("crash-loop")


def crash_fault(lab, service: str = "service-b") -> dict | None:
    """The crash fault on ``service`` as `fault list --json` shows it, if it is listed."""
    listed = json.loads(lab.cli("fault", "list", "--json").stdout)["faults"]
    return next((f for f in listed if f["kind"] == "crash" and f["service"] == service), None)


def test_the_crash_loops_fault_is_active_while_its_service_is_down_and_reset_counts_it(lab):
    lab.cli("scenario", "start", "process-crash", "--no-load")
    try:
        poll_until(lambda: lab.process("service-b")["restarts"] >= 2, "service-b to crash and be restarted", timeout=60)
        down = poll_until(
            lambda: (lambda f: f if f and f.get("agent") == "down" else None)(crash_fault(lab)),
            "the crash fault listed while service-b is down between two crashes",
            timeout=60,
        )
        assert down["remaining_s"] > 0 and down["scenario"] == "process-crash"

        lab.cli("stop", "service-b")  # down for good now: every answer below is the saved faults'
        assert "1/1 faults active" in lab.cli("scenario", "status").stdout
        table = lab.cli("fault", "list").stdout
        assert "no active faults" not in table and "crash" in table and "service-b" in table, table
        assert "removed 1 fault(s)" in lab.cli("reset").stdout
        assert crash_fault(lab) is None
    finally:
        lab.cli("reset")
        lab.cli("start", "service-b", check=False)
    lab.wait_ready()
    assert "no active faults" in lab.cli("fault", "list").stdout


def test_removing_the_fault_of_a_stopped_service_starts_it_clean(lab):
    added = lab.cli("fault", "add", "crash", "mode=loop", "delay_s=1", "--service", "service-c").stdout
    fault_id = added.split()[1].rstrip(":")
    lab.cli("stop", "service-c")
    assert crash_fault(lab, "service-c")["agent"] == "down"
    lab.cli("fault", "rm", fault_id)
    assert fault_id not in lab.cli("fault", "list").stdout
    lab.cli("start", "service-c")
    lab.wait_ready()
    assert "no active faults" in lab.cli("fault", "list").stdout
