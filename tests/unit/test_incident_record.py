"""The incident record on a real journal store: declaring, folding, paging, escalation and overdue updates."""

from __future__ import annotations

import json

import pytest

from chaoslab.chaos.journal import FileStore
from chaoslab.errors import BadInput
from chaoslab.incident.alerting import AlertEvent, on_alert, on_evaluator_event
from chaoslab.incident.record import INCIDENTS, IncidentLog, NoIncident, entry

T0 = 1_800_000_000.0


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path)


def fired(name="CheckoutAvailabilityFastBurn", tier="P1", ts=T0, **kw) -> AlertEvent:
    return AlertEvent(name=name, tier=tier, state="fired", ts=ts, owner="orders", summary=f"{name} burns", **kw)


def resolved(name="CheckoutAvailabilityFastBurn", tier="P1", ts=T0 + 600) -> AlertEvent:
    return AlertEvent(name=name, tier=tier, state="resolved", ts=ts, owner="orders")


def test_a_declared_incident_folds_from_its_entries(store):
    log = IncidentLog(store, "alice")
    first = log.declare("checkout hangs", "p0", "user-report", report="my cart spins", ts=T0)
    assert (first.id, first.severity, first.state, first.detected_by) == ("INC-1", "P1", "detected", "user-report")
    log.write(first, "acknowledged", "ack", {"commander": "bob"}, ts=T0 + 60)
    log.write(first, "severity", "down to P2", {"severity": "P2"}, ts=T0 + 70)
    again = log.get("1")
    assert (again.state, again.commander, again.acknowledged_at, again.severity) == (
        "acknowledged",
        "bob",
        T0 + 60,
        "P2",
    )
    log.write(again, "resolved", "done", {"verified": False}, ts=T0 + 900)
    done = log.get("INC-1")
    assert done.describe_state() == "resolved, unverified" and not done.open
    assert log.declare("second", "P3", "monitoring", ts=T0 + 1000).id == "INC-2"
    line = json.loads(store.read(INCIDENTS).splitlines()[0])
    assert set(line) == {"ts", "incident", "source", "actor", "kind", "text", "links", "data"}  # TRAINING.md's shape


def test_bad_input_is_refused_with_the_valid_values(store):
    log = IncidentLog(store, "alice")
    with pytest.raises(BadInput, match="use P1, P2, P3 or P4"):
        log.declare("x", "P7", "user-report")
    with pytest.raises(BadInput, match="needs a title"):
        log.declare("   ", "P2", "user-report")
    with pytest.raises(NoIncident, match="incident open"):
        log.get()
    log.declare("x", "P2", "user-report")
    with pytest.raises(NoIncident, match="no incident 'INC-9'"):
        log.get("INC-9")


def test_a_torn_line_and_a_racing_declaration_do_not_break_the_record(store):
    log = IncidentLog(store, "a")
    log.declare("one", "P2", "user-report", ts=T0)
    store.append(INCIDENTS, json.dumps(entry("INC-1", "declared", "racer", {"title": "racer"}, ts=T0 + 1)))
    store.append(INCIDENTS, '{"ts": 1, "incid')
    incidents = log.all()
    assert [i.title for i in incidents] == ["one"]


def test_a_p1_page_opens_an_incident_and_its_resolution_mitigates_it(store):
    incident = on_alert(store, fired(), snapshot=lambda: {"ts": T0, "total": 5.0})
    assert incident.id == "INC-1" and incident.detected_by == "alerting" and incident.severity == "P1"
    assert incident.first("declared")["data"]["snapshot"]["total"] == 5.0
    same = on_alert(store, fired(ts=T0 + 5))  # a second reader of the same evaluation
    assert len(same.of_kind("alert_fired")) == 1
    cpu = on_alert(store, fired("CPUHigh", "P3", ts=T0 + 20))
    assert cpu.id == "INC-1" and set(cpu.firing) == {"CheckoutAvailabilityFastBurn", "CPUHigh"}
    after = on_alert(store, resolved(ts=T0 + 300))
    assert after.mitigated_at == T0 + 300 and after.state == "mitigated"  # the P3 still firing does not page
    assert on_alert(store, resolved("NeverFired", ts=T0 + 310)) is None


def test_a_p3_alone_opens_nothing_and_a_p1_raises_an_open_p2(store):
    assert on_alert(store, fired("CPUHigh", "P3")) is None
    log = IncidentLog(store, "a")
    log.declare("slow", "P2", "user-report", ts=T0)
    raised = on_alert(store, fired(ts=T0 + 10))
    assert raised.severity == "P1" and raised.of_kind("severity")[0]["source"] == "lab"


def test_a_ticket_resolving_on_a_reported_incident_mitigates_nothing(store):
    IncidentLog(store, "a").declare("the ledger is short", "P2", "user-report", ts=T0)
    on_alert(store, fired("LedgerDrift", "P3", ts=T0 + 10))
    after = on_alert(store, resolved("LedgerDrift", "P3", ts=T0 + 20))
    assert after.of_kind("alert_resolved") and after.mitigated_at is None  # on the timeline, no verdict


def test_the_alerts_evaluators_event_reads_as_an_alert_event():
    event = {
        "seq": 7,
        "ts": T0,
        "kind": "alert_fired",
        "alert": "PaymentSuccessFastBurn",
        "severity": "p0",
        "owner": "payments",
        "labels": {"service": "payment"},
        "value": float("nan"),
        "summary": "payments fail",
        "runbook_url": "docs/runbooks/payment-failures.md",
        "extra": {},
    }
    read = AlertEvent.from_evaluator(event)
    assert (read.name, read.tier, read.state, read.value, read.pages) == (
        "PaymentSuccessFastBurn",
        "P1",
        "fired",
        None,
        True,
    )
    assert AlertEvent.from_evaluator(dict(event, kind="alert_pending")) is None


def test_the_daemons_wiring_point_opens_an_incident_from_an_evaluator_event(store):
    event = {"seq": 1, "ts": T0, "kind": "alert_fired", "alert": "TargetDown", "severity": "P1", "owner": "orders"}
    on_evaluator_event(store, dict(event, kind="alert_pending"))
    assert IncidentLog(store).current() is None
    on_evaluator_event(store, event, snapshot=lambda: {"ts": T0, "total": 1.0})
    opened = IncidentLog(store).current()
    assert opened.firing.keys() == {"TargetDown"} and opened.first("declared")["data"]["snapshot"]["total"] == 1.0


def test_an_unacknowledged_p1_escalates_once_at_its_deadline(store):
    log = IncidentLog(store, "a")
    log.declare("down", "P1", "alerting", ts=T0)
    assert log.settle(now=T0 + 299) == []
    written = log.settle(now=T0 + 301)
    assert [(e["kind"], e["ts"]) for e in written] == [("escalated", T0 + 300)]
    assert log.settle(now=T0 + 400) == []  # once
    acked = IncidentLog(store, "a")
    acked.declare("other", "P1", "alerting", ts=T0 + 1000)
    acked.write(acked.get("INC-2"), "acknowledged", "ack", ts=T0 + 1100)
    assert [e for e in acked.settle(now=T0 + 2000) if e["incident"] == "INC-2" and e["kind"] == "escalated"] == []


def test_status_updates_are_due_by_tier_and_missed_ones_are_flagged(store):
    log = IncidentLog(store, "a")
    log.declare("slow", "P2", "user-report", ts=T0)  # P2: an update every 30 min
    log.write(log.get(), "acknowledged", "ack", ts=T0 + 60)
    log.write(log.get(), "status_update", "ack message", ts=T0 + 120)
    assert [e for e in log.settle(now=T0 + 120 + 1799) if e["kind"] == "update_overdue"] == []
    overdue = [e for e in log.settle(now=T0 + 120 + 3600 + 1) if e["kind"] == "update_overdue"]
    assert [e["ts"] for e in overdue] == [T0 + 120 + 1800, T0 + 120 + 3600]
    log.write(log.get(), "resolved", "done", {"verified": True}, ts=T0 + 4000)
    assert log.settle(now=T0 + 99999) == []  # nothing is due once it is resolved
    assert len(log.get().of_kind("update_overdue")) == 2


def test_concurrent_settles_flag_each_deadline_once(store):
    log = IncidentLog(store, "a")
    log.declare("down", "P1", "alerting", ts=T0)
    incident = log.get()
    from chaoslab.incident.record import due_entries

    for item in due_entries(incident, T0 + 301) * 2:  # two readers wrote the same flag
        log.add(item)
    assert len(log.get().of_kind("escalated")) == 1
