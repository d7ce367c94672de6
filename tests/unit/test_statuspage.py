"""The shop's public status page from the team's record: components by the alerts that fire, the
incident's public state from investigating to resolved, only external updates, served by the
console without a token and escaped."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from flask import Flask

from chaoslab.chaos.journal import FileStore
from chaoslab.cli import cli
from chaoslab.console.web import create_blueprint
from chaoslab.incident import statuspage
from chaoslab.incident.alerting import AlertEvent, on_alert
from chaoslab.local.console import LocalSource
from chaoslab.local.statedir import StateDir
from chaoslab.local.tracestore import TraceStore
from chaoslab.servicegraph import from_spans


@pytest.fixture
def run(tmp_path):
    def invoke(*args: str):
        result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), *args])
        assert result.exit_code == 0, result.output
        return result

    return invoke


def fire(store, name, tier, owner, state="fired"):
    return on_alert(store, AlertEvent(name, tier, state, time.time(), owner=owner, summary=f"{name} burns"))


def test_a_quiet_shop_is_all_operational(tmp_path):
    doc = statuspage.build(FileStore(tmp_path))
    assert doc["status"] == "all systems operational" and doc["incidents"] == []
    assert {c["status"] for c in doc["components"]} == {"operational"}


def test_components_follow_the_alerts_that_fire_and_the_incident_goes_through_all_four_states(run, tmp_path):
    store = FileStore(tmp_path)
    fire(store, "PaymentSuccessFastBurn", "P1", "payments")
    fire(store, "FulfilmentQueueBacklog", "P3", "fulfilment")
    doc = statuspage.build(store)
    status = {c["name"]: c["status"] for c in doc["components"]}
    assert status == {
        "Checkout": "operational",
        "Order history": "operational",
        "Payments": "major outage",
        "Fulfilment": "degraded performance",
    }
    assert doc["status"] == "major outage"
    states = [doc["incidents"][0]["state"]]
    run("incident", "ack")
    run("incident", "update", "status", "--audience", "external")
    run("incident", "update", "status", "--say", "internal only: pool exhausted")
    run("incident", "rootcause", "--service", "payment", "--kind", "error")
    states.append(statuspage.build(store)["incidents"][0]["state"])
    fire(store, "PaymentSuccessFastBurn", "P1", "payments", state="resolved")  # the last paging alert: mitigated
    states.append(statuspage.build(store)["incidents"][0]["state"])
    run("incident", "resolve", "--unverified")
    doc = statuspage.build(store)
    states.append(doc["incidents"][0]["state"])
    assert states == ["investigating", "identified", "monitoring", "resolved"]
    (update,) = doc["incidents"][0]["updates"]  # the external one; the internal note is not public
    assert update["text"].startswith("Investigating:") and "pool exhausted" not in str(doc)
    assert "PaymentSuccessFastBurn" not in str(doc) and "payments" not in str(doc)  # no alert names, no owners
    assert doc["status"] == "all systems operational"


def test_a_false_positive_is_not_on_the_public_page(run, tmp_path):
    run("incident", "open", "the verify paged", "--severity", "P2")
    run("incident", "mark", "false-positive", "--reason", "our own load")
    assert statuspage.build(FileStore(tmp_path))["incidents"] == []


def test_the_console_serves_it_without_a_token_escaped(run, tmp_path):
    run("incident", "open", "<script>alert(1)</script> checkout", "--severity", "P2")
    source = LocalSource(StateDir.at(tmp_path), TraceStore(), from_spans([], now=time.time()), lambda: [])
    app = Flask(__name__)
    app.register_blueprint(create_blueprint(source, lambda: "secret"), url_prefix="/console")
    client = app.test_client()
    page = client.get("/console/status")
    assert page.status_code == 200 and "Shop status" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "investigating" in page.text.lower()
    feed = client.get("/console/status.json").get_json()
    assert feed["incidents"][0]["state"] == "investigating" and feed["status"] == "investigating reports"


def test_subscribers_get_each_change_of_the_page_in_statuspage_s_webhook_body(run, tmp_path):
    """What a customer would see change, posted as Statuspage posts it (to a real receiver on loopback):
    the incident on each public state and external update, a component when its status moves; nothing
    internal, and nothing that was already on the page when the subscription began."""
    from chaoslab.incident.subscribers import Subscription
    from chaoslab.incident.webhook import Sender
    from support import WebhookReceiver, poll_until

    store = FileStore(tmp_path)
    fire(store, "CheckoutLatencyFastBurn", "P2", "orders")
    subscription = Subscription(store, "red")
    assert subscription.changes() == []  # on the page before the subscription: not news
    run("incident", "ack")
    run("incident", "update", "status", "--say", "internal only: pool exhausted")
    assert subscription.changes() == []  # an internal update is nobody's business outside
    run("incident", "update", "status", "--public", "--say", "we are on it")
    fire(store, "PaymentSuccessFastBurn", "P1", "payments")
    receiver = WebhookReceiver()
    sender = Sender(receiver.url, delays_s=(0.05,), name="status webhook")
    for body in subscription.changes():
        sender.post(body)
    poll_until(lambda: len(receiver.bodies) == 2, "an incident update and a component change")
    update, component = receiver.bodies
    assert update["page"] == {"id": "red", "status_indicator": "critical", "status_description": "major outage"}
    assert update["incident"]["status"] == "investigating" and update["incident"]["id"] == "INC-1"
    assert [u["body"].endswith("we are on it") for u in update["incident"]["incident_updates"]] == [True]
    assert "pool exhausted" not in str(receiver.bodies) and "PaymentSuccessFastBurn" not in str(receiver.bodies)
    assert component["component_update"]["old_status"] == "operational"
    assert component["component"] == component["component"] | {"name": "Payments", "status": "major_outage"}
    fire(store, "PaymentSuccessFastBurn", "P1", "payments", state="resolved")
    fire(store, "CheckoutLatencyFastBurn", "P2", "orders", state="resolved")
    states = [b["incident"]["status"] for b in subscription.changes() if "incident" in b]
    assert states == ["monitoring"]  # every alert resolved: the incident is mitigated
    sender.stop()
