"""The lab daemon pages like Prometheus would, on a real lab under real Locust load: a short baseline fires
nothing above P4, and two drills fire their primary alerts, which the CLI shows with tier, owner, value and
runbook, and whose fired and resolved transitions it keeps with timestamps; the deadlock, whose front door
cannot even answer its own /metrics, pages P1 through the synthetic prober and that page opens the incident.
Each page reaches people as it happens: `chaoslab incident watch` prints it, and the lab daemon posts it to
a real webhook receiver in Alertmanager's payload. (bench/alert_timing.py times the whole catalogue and ten
minutes of baseline.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from chaoslab.alerts.tiers import rank
from chaoslab.chaos import scenarios
from chaoslab.incident.webhook import NEVER
from support import WebhookReceiver, poll_until, reset_around, start_lab, stop_lab

pytestmark = pytest.mark.disruptive
BASELINE_S = 20
PAGE_DEADLINE_S = 150  # generous: bench/alert_timing.py measures the 90 s target


@pytest.fixture(scope="module")
def receiver():
    found = WebhookReceiver()
    yield found
    found.close()


@pytest.fixture(scope="module")
def subscriber():
    """The status page's subscriber: a second real receiver, of Statuspage's webhook bodies."""
    found = WebhookReceiver()
    yield found
    found.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, receiver, subscriber):
    started = start_lab(
        tmp_path_factory.mktemp("alerts-lab"),
        CHAOSLAB_PAGE_WEBHOOK=receiver.url,
        CHAOSLAB_PAGE_STATUS_WEBHOOK=subscriber.url,
    )
    yield started
    stop_lab(started)


@pytest.fixture(scope="module")
def watch(lab):
    """`chaoslab incident watch --json` running beside the lab, as a trainee's terminal would: what it
    printed, as (arrival time, notice)."""
    command = [sys.executable, "-m", "chaoslab", "--state-dir", str(lab.state_dir), "incident", "watch", "--json"]
    proc = subprocess.Popen(command, env={**os.environ, **lab.env}, stdout=subprocess.PIPE, text=True)
    printed: list[tuple[float, dict]] = []

    def read():
        for line in proc.stdout:
            printed.append((time.time(), json.loads(line)))

    threading.Thread(target=read, daemon=True).start()
    yield printed
    proc.terminate()
    proc.wait(timeout=10)


clean = reset_around()


def state(lab, history: bool = True) -> dict:
    return json.loads(lab.cli("alerts", "--json", *(["--history"] if history else [])).stdout)


def transitions(lab, alert: str, kind: str) -> list[dict]:
    return [e for e in state(lab)["events"] if e["alert"] == alert and e["kind"] == kind]


def test_baseline_load_fires_nothing_above_p4(lab):
    lab.cli("load", "start", "-u", "10", "-r", "10", "--think-time", "0.5")
    start = state(lab)["evaluated_at"] or 0
    poll_until(
        lambda: (state(lab)["evaluated_at"] or 0) > start + BASELINE_S,
        f"{BASELINE_S} s of alert evaluations under baseline load",
        timeout=BASELINE_S + 30,
        interval=1,
    )
    seen = state(lab)
    assert seen["series"] > 20, "the daemon keeps the series the rules read"
    assert set(seen["targets"]) == {"gateway", "payment", "service-a", "service-b", "service-c", "worker", "prober"}
    assert all(seen["targets"][name]["up"] for name in seen["targets"]), seen["targets"]
    assert {name: probe["success"] for name, probe in seen["probes"].items()} == {"browse": True, "checkout": True}
    loud = [e for e in seen["events"] if e["kind"] == "alert_fired" and rank(e["severity"]) < 4]
    assert not loud, f"baseline load fired alerts above P4: {loud}"
    api = lab.refresh()["lab"]["api"]
    response = requests.get(f"{api}/api/alerts?since=abc", timeout=5)
    assert response.status_code == 400 and "since must be a sequence number" in response.json()["message"]


def test_the_worker_failure_drill_pages_fulfilment_and_resolves_after_stop(lab, watch, receiver, subscriber):
    drill = scenarios.get("worker-failure")
    lab.cli("scenario", "start", drill.id, "--ttl", "300")
    poll_until(lambda: transitions(lab, drill.alert, "alert_fired"), f"{drill.alert} to fire", PAGE_DEADLINE_S, 1)
    (fired,) = transitions(lab, drill.alert, "alert_fired")
    page = poll_until(lambda: next((n for _, n in watch if n["sort"] == "page"), None), "the page on the watch", 10)
    assert page["severity"] == "P2" and page["state"] == "detected", page
    # A late notification of an earlier test's incident may reach the receiver too: this page's is the
    # one grouped under its incident.
    grouped = {"incident": page["incident"]}
    sent = poll_until(
        lambda: [(t, b) for t, b in receiver.got if b["status"] == "firing" and b["groupLabels"] == grouped],
        "the page on the webhook",
        10,
    )
    posted, body = sent[0]
    assert body["version"] == "4" and [a["labels"]["alertname"] for a in body["alerts"]] == [drill.alert], body
    watched = next(t for t, n in watch if n["sort"] == "page") - fired["ts"]
    posted -= fired["ts"]
    print(f"the page reached the watch {watched:.1f} s and the webhook {posted:.1f} s after {drill.alert} fired")
    shown = lab.cli("alerts").stdout
    assert f"firing   P2  {drill.alert}  owner fulfilment  since" in shown, shown
    assert "paid orders wait on the fulfilment queue" in shown
    assert f"runbook: docs/runbooks/worker-and-queue.md (chaoslab runbook {drill.alert})" in shown
    lab.cli("scenario", "stop")
    (resolved,) = poll_until(
        lambda: transitions(lab, drill.alert, "alert_resolved"), f"{drill.alert} to resolve", 90, 1
    )
    (fired,) = transitions(lab, drill.alert, "alert_fired")
    assert fired["ts"] < resolved["ts"] and fired["value"] > 50 and fired["owner"] == "fulfilment"
    assert fired["labels"] == {"team": "local", "severity": "P2", "owner": "fulfilment"}
    history = lab.cli("alerts", "--history").stdout
    assert f"fired    P2  {drill.alert}" in history and f"resolved P2  {drill.alert}" in history
    # the page opened an incident by itself, and its resolution mitigated it
    opened = poll_until(lambda: paged_incident(lab, drill.alert), "the incident the page opened", 30, 0.5)
    assert opened["detected_by"] == "alerting" and opened["severity"] == "P2", opened
    kinds = [entry["kind"] for entry in opened["timeline"]]
    assert "alert_fired" in kinds and "alert_resolved" in kinds and opened["mitigated_at"], kinds
    resolved_alert = poll_until(
        lambda: [
            a for b in receiver.bodies if b["groupLabels"] == grouped for a in b["alerts"] if a["status"] == "resolved"
        ],
        "the alert's resolution on the webhook",
        10,
    )
    assert resolved_alert[0]["labels"]["alertname"] == drill.alert and resolved_alert[0]["endsAt"] != NEVER
    assert any(n["kind"] == "mitigated" for _, n in watch), [n["kind"] for _, n in watch]
    public = [b["incident"]["status"] for b in subscriber.bodies if b.get("incident", {}).get("id") == page["incident"]]
    moved = [b["component"] for b in subscriber.bodies if "component" in b]
    assert public[:1] == ["investigating"] and "monitoring" in public, public  # the customers' view, as it went
    assert any(c["name"] == "Fulfilment" and c["status"] == "partial_outage" for c in moved), moved
    assert drill.alert not in str(subscriber.bodies)  # nothing internal reaches a subscriber


def paged_incident(lab, alert: str) -> dict | None:
    """The incident a page of ``alert`` opened, once the lab has written its resolution too."""
    for listed in json.loads(lab.cli("incident", "list", "--json").stdout):
        found = json.loads(lab.cli("incident", "show", listed["id"], "--json").stdout)
        fired = [e for e in found["timeline"] if e["kind"] == "alert_fired" and e["data"]["alert"] == alert]
        if fired and found["mitigated_at"]:
            return found
    return None


def test_the_latency_drill_pages_on_the_checkout_latency_slo(lab):
    drill = scenarios.get("latency-500ms")
    lab.cli("scenario", "start", drill.id, "--ttl", "300")
    (fired,) = poll_until(
        lambda: transitions(lab, drill.alert, "alert_fired"), f"{drill.alert} to fire", PAGE_DEADLINE_S, 1
    )
    assert fired["severity"] == "P2" and fired["owner"] == "orders" and fired["value"] > 0.144
    assert "of checkouts take longer than 500ms over 2m" in fired["summary"]


def test_a_hung_front_door_pages_p1_and_the_page_opens_the_incident(lab):
    """The deadlock fills service-a's handler pool: its own /metrics hangs too, so no checkout SLO alert can
    see a failed checkout, and TargetDown (P2) was all that paged while every checkout failed. The synthetic
    prober, a shopper outside, gets no answer in time: JourneyAvailabilityFastBurn pages P1 and opens the
    incident itself."""
    for listed in json.loads(lab.cli("incident", "list", "--json").stdout):  # the earlier drills' incidents
        if listed["resolved_at"] is None:
            lab.cli("incident", "resolve", listed["id"], "--unverified")
    before = {e["seq"] for e in state(lab)["events"]}
    lab.cli("scenario", "start", "deadlock", "--ttl", "300")
    opened = poll_until(lambda: new_incident(lab), "a page to open a new incident", PAGE_DEADLINE_S, 1)
    first = next(e for e in opened["timeline"] if e["kind"] == "alert_fired")
    assert (first["data"]["alert"], first["data"]["severity"]) == ("JourneyAvailabilityFastBurn", "P1"), first
    assert opened["severity"] == "P1" and opened["detected_by"] == "alerting", opened
    assert first["data"]["owner"] == "orders" and first["data"]["labels"]["journey"] in ("browse", "checkout")
    assert opened["title"].startswith("Shoppers cannot ") and "front door fails or hangs" in opened["title"]
    probes = state(lab, history=False)["probes"]
    assert not probes["checkout"]["success"] and "no answer within" in probes["checkout"]["error"], probes
    fired = [e["alert"] for e in state(lab)["events"] if e["seq"] not in before and e["kind"] == "alert_fired"]
    assert "CheckoutAvailabilityFastBurn" not in fired, "the front door's own checkout counters never came"


def new_incident(lab) -> dict | None:
    """The incident that is not resolved, once a page has opened it."""
    for listed in json.loads(lab.cli("incident", "list", "--json").stdout):
        if listed["resolved_at"] is None:
            return json.loads(lab.cli("incident", "show", listed["id"], "--json").stdout)
    return None
