"""Notices read back from the incident record (what `incident watch` prints) and the page webhook
(Alertmanager's payload, version 4) posted to a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import time

import pytest

from chaoslab.chaos.journal import FileStore
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.incident.notify import Follower
from chaoslab.incident.record import IncidentLog
from chaoslab.incident.webhook import NEVER, Sender, forward
from chaoslab.settings import Paging, SettingsError, load
from support import WebhookReceiver, poll_until


def fire(store, name="CheckoutAvailabilityFastBurn", tier="P1", state="fired", ts=None):
    event = AlertEvent(
        name=name,
        tier=tier,
        state=state,
        ts=time.time() if ts is None else ts,
        owner="checkout-team",
        summary="checkouts fail",
        labels={"team": "local"},
        runbook_url="https://runbooks.example/checkout",
    )
    return on_alert(store, event)


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path)


def test_a_watch_starts_at_the_end_and_then_tells_the_page_and_rings(store):
    old = fire(store)
    IncidentLog(store, "ana").write(old, "resolved", "fixed", {"verified": False})
    follower = Follower(store)
    assert follower.poll() == []  # what was written before the watch started is not news
    incident = fire(store, ts=time.time())
    notices = follower.poll()
    assert [n.sort for n in notices] == ["page", "alert"]
    assert notices[0].rings and not notices[1].rings
    assert incident.id in notices[0].line() and "P1" in notices[0].line()
    assert json.loads(json.dumps(notices[0].to_json()))["incident"] == incident.id
    assert follower.poll() == []  # each notice once


def test_a_replay_tells_what_the_record_already_holds(store):
    fire(store)
    assert [n.sort for n in Follower(store, replay=True).poll()] == ["page", "alert"]


def test_an_unacknowledged_p1_escalates_on_the_watch_though_nobody_else_reads(store):
    follower = Follower(store)
    fire(store, ts=time.time() - 600)  # paged ten minutes ago, never acknowledged
    notices = follower.poll()
    escalations = [n for n in notices if n.sort == "escalation"]
    assert len(escalations) == 1 and escalations[0].rings, [n.sort for n in notices]
    assert follower.poll() == []  # written once, told once


def test_the_team_s_own_words_are_not_notices(store):
    incident = fire(store)
    follower = Follower(store)
    log = IncidentLog(store, "ana")
    log.write(incident, "note", "looking at payment")
    log.write(incident, "acknowledged", "ack", {"commander": "ana"})
    assert [(n.sort, n.entry["kind"]) for n in follower.poll()] == [("state", "acknowledged")]


def test_the_payload_is_alertmanagers_version_4_grouped_by_incident(store):
    follower = Follower(store)
    fire(store)
    fire(store, name="PaymentSuccessFastBurn")
    bodies = []
    assert forward(follower, bodies.append, "http://127.0.0.1:9/console") == 1  # one incident, one notification
    body = bodies[0]
    assert {k: body[k] for k in ("version", "status", "receiver", "truncatedAlerts")} == {
        "version": "4",
        "status": "firing",
        "receiver": "chaoslab",
        "truncatedAlerts": 0,
    }
    incident = body["groupLabels"]["incident"]
    assert body["groupKey"] == f'{{}}:{{incident="{incident}"}}'
    assert {a["labels"]["alertname"] for a in body["alerts"]} == {
        "CheckoutAvailabilityFastBurn",
        "PaymentSuccessFastBurn",
    }
    first = body["alerts"][0]
    assert first["status"] == "firing" and first["endsAt"] == NEVER and first["startsAt"].endswith("Z")
    assert first["labels"]["severity"] == "P1" and first["annotations"]["runbook_url"].startswith("https://")
    assert len(first["fingerprint"]) == 16
    assert body["commonLabels"] == {"incident": incident, "severity": "P1", "owner": "checkout-team", "team": "local"}
    assert "PAGE" in body["commonAnnotations"]["notices"]


def test_a_resolved_incident_sends_resolved_alerts_with_their_end(store):
    incident = fire(store)
    follower = Follower(store)
    fire(store, state="resolved")
    IncidentLog(store, "ana").write(IncidentLog(store).get(incident.id), "resolved", "fixed", {"verified": True})
    bodies = []
    forward(follower, bodies.append)
    assert len(bodies) == 1 and bodies[0]["status"] == "resolved"
    assert bodies[0]["alerts"][0]["status"] == "resolved" and bodies[0]["alerts"][0]["endsAt"] != NEVER


def test_an_incident_opened_from_a_report_is_its_own_alert(store):
    follower = Follower(store)
    found = IncidentLog(store, "ana").declare("checkout hangs", "P2", "user-report")
    bodies = []
    forward(follower, bodies.append)
    (alert,) = bodies[0]["alerts"]
    assert alert["labels"] == {"alertname": "IncidentDeclared", "severity": "P2", "incident": found.id}


@pytest.fixture
def receiver():
    found = WebhookReceiver()
    yield found
    found.close()


def test_a_failing_receiver_is_retried_with_back_off(receiver):
    receiver.answers = [503, 503]
    sender = Sender(receiver.url, delays_s=(0.05, 0.05, 0.05))
    sender.post({"groupKey": "k", "n": 1})
    poll_until(lambda: len(receiver.got) == 3, "two failures and the delivery")
    assert receiver.bodies[-1] == {"groupKey": "k", "n": 1}
    sender.stop()


def test_a_receiver_that_hangs_never_holds_up_the_caller(receiver):
    receiver.held.clear()  # the receiver takes the body and never answers
    sender = Sender(receiver.url, delays_s=())
    sender.post({"groupKey": "first"})
    poll_until(lambda: receiver.got, "the receiver to be holding the first body")
    sender.post({"groupKey": "second"})  # returns while the first delivery still hangs: paging goes on
    assert [b["groupKey"] for b in receiver.bodies] == ["first"] and sender.thread.is_alive()
    receiver.held.set()
    poll_until(lambda: [b["groupKey"] for b in receiver.bodies] == ["first", "second"], "both, in order")
    sender.stop()


def test_a_receiver_that_refuses_the_body_is_not_asked_again(receiver):
    receiver.answers = [400]
    sender = Sender(receiver.url, delays_s=(0.05, 0.05))
    sender.post({"groupKey": "bad"})
    sender.post({"groupKey": "next"})
    poll_until(lambda: [b["groupKey"] for b in receiver.bodies] == ["bad", "next"], "the next body after a refusal")
    sender.stop()


def test_a_dead_receiver_is_given_up_after_the_last_attempt_and_the_next_still_goes(receiver):
    receiver.answers = [503, 503, 503]
    sender = Sender(receiver.url, delays_s=(0.01, 0.01))
    sender.post({"groupKey": "lost"})
    sender.post({"groupKey": "kept"})
    poll_until(
        lambda: [b["groupKey"] for b in receiver.bodies] == ["lost"] * 3 + ["kept"], "three tries, then the next"
    )
    sender.stop()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://127.0.0.1/x", "expected an http:// or https:// URL"),
        ("https://hooks.example.com/x", "loopback only"),
        ("http://10.0.0.5:9093/", "loopback only"),
    ],
)
def test_a_webhook_the_local_lab_may_not_post_to_is_refused_in_one_line(url, said):
    with pytest.raises(SettingsError, match=said) as caught:
        load(Paging, {"CHAOSLAB_PAGE_WEBHOOK": url}).loopback_only()
    assert "CHAOSLAB_PAGE_WEBHOOK" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost:9/", "http://[::1]:9/"])
def test_loopback_webhooks_are_taken(url):
    assert load(Paging, {"CHAOSLAB_PAGE_WEBHOOK": url}).loopback_only().webhook == url
