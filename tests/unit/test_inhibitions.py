"""Inhibitions, Alertmanager's way: while a cause fires, its downstream symptom goes on the timeline
marked, opens no incident, raises no severity and notifies nobody (neither the watch nor the webhook)."""

from __future__ import annotations

import time

import pytest

from chaoslab.alerts import matchers
from chaoslab.alerts.definitions import INHIBITIONS, RULES, inhibitor
from chaoslab.chaos.journal import FileStore
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.incident.notify import Follower
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.webhook import payload


def event(name, tier="P2", state="fired", ts=None, **labels):
    return AlertEvent(name, tier, state, time.time() if ts is None else ts, owner="orders", labels=labels)


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path)


def test_every_inhibition_names_alerts_the_lab_has_and_none_inhibits_itself():
    names = {rule.alert for rule in RULES}
    for rule in INHIBITIONS:
        for side in (rule.source, rule.target):
            named = [m for m in map(matchers.parse, side) if m[0] == "alertname"]
            assert named and all(any(matchers.matches([m], {"alertname": n}) for n in names) for m in named), side
        source = {m[0]: m[2] for m in map(matchers.parse, rule.source)}
        assert not matchers.matches([matchers.parse(m) for m in rule.target], source), rule


def test_a_cause_keeps_its_symptom_quiet_only_with_the_same_equal_labels():
    redis = {"alertname": "RedisErrors", "service": "worker", "team": "red"}
    assert inhibitor({"alertname": "QueueBacklog", "team": "red"}, [redis])[1] == redis
    assert inhibitor({"alertname": "QueueBacklog", "team": "blue"}, [redis]) is None  # another team's outage
    assert inhibitor({"alertname": "CheckoutLatencyFastBurn", "team": "red"}, [redis]) is None  # not its symptom
    down = {"alertname": "TargetDown", "service": "worker"}
    assert inhibitor({"alertname": "QueueBacklog"}, [down]) is not None
    assert inhibitor({"alertname": "QueueBacklog"}, [down | {"service": "payment"}]) is None


def test_an_inhibited_symptom_joins_the_timeline_marked_and_tells_nobody(store):
    follower = Follower(store)
    incident = on_alert(store, event("RedisErrors", service="worker"))
    told = [n.entry["kind"] for n in follower.poll()]
    assert told == ["declared", "alert_fired"]
    joined = on_alert(store, event("QueueBacklog", tier="P1"))
    assert joined.id == incident.id and "QueueBacklog" in joined.firing
    marked = joined.of_kind("alert_fired")[-1]
    assert "inhibited: RedisErrors is firing" in marked["text"]
    assert joined.severity == "P2"  # a quiet symptom raises no severity
    assert follower.poll() == []
    on_alert(store, event("QueueBacklog", tier="P1", state="resolved"))
    assert follower.poll() == []  # its resolve is as quiet as its firing
    body = payload(IncidentLog(store, "x").get(incident.id), [], "")
    assert [a["labels"]["alertname"] for a in body["alerts"]] == ["RedisErrors"]


def test_an_inhibited_symptom_opens_no_incident_and_the_symptom_alone_still_pages(store):
    on_alert(store, event("RedisErrors", service="worker"))
    first = IncidentLog(store, "x").current()
    IncidentLog(store, "x").write(first, "resolved", "done", {"verified": False})
    assert on_alert(store, event("QueueBacklog")) is None  # the cause still fires: the symptom opens nothing
    on_alert(store, event("RedisErrors", state="resolved", service="worker"))
    on_alert(store, event("QueueBacklog", state="resolved"))
    alone = on_alert(store, event("QueueBacklog"))
    assert alone is not None and alone.id != first.id  # with its cause quiet, the backlog pages
