"""Which float-money charges ``chaoslab reconcile`` treats as a finished drill's known damage."""

from chaoslab.chaos.reconcile import float_drill_ended_at


def test_a_running_float_deploy_is_never_explained():
    started = [{"ts": 10.0, "event": "fault.started", "kind": "bad_deploy", "service": "payment"}]
    assert float_drill_ended_at(started) == 0.0


def test_the_latest_reset_revert_or_payment_deploy_ends_the_damage():
    audit = [
        {"ts": 10.0, "event": "fault.started", "kind": "bad_deploy", "service": "payment"},
        {"ts": 20.0, "event": "fault.reverted", "kind": "bad_deploy", "service": "payment"},
        {"ts": 30.0, "event": "deploy", "service": "payment"},
        {"ts": 40.0, "event": "fault.reverted", "kind": "latency", "service": "service-a"},
        {"ts": 50.0, "event": "deploy", "service": "service-a"},
    ]
    assert float_drill_ended_at(audit) == 30.0
    assert float_drill_ended_at([*audit, {"ts": 60.0, "event": "lab.reset"}]) == 60.0
