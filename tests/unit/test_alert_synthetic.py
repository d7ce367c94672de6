"""The synthetic prober's contract: what counts as a failed journey (an error status, no whole answer in
time, no connection at all: a 0, never missing data), what a checkout probe sends, how its results are
exposed and when they stop being shown, and its settings. The front door here is a stand-in HTTP server on
loopback that can hang, trickle, refuse or fail on purpose; the prober against the real service-a, and its
P1 page in the deadlock drill, are in tests/integration/test_alerts.py."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from werkzeug.test import Client

from chaoslab.alerts.history import History
from chaoslab.alerts.scrape import Scraper, Target, parse_exposition
from chaoslab.alerts.synthetic import (
    JOURNEYS,
    KEY_PREFIX,
    ProbeResult,
    ProberStalled,
    SyntheticProber,
    chart_document,
    probe,
    wsgi_app,
)
from chaoslab.local.ports import free_port
from chaoslab.settings import Prober, SettingsError, load
from support import poll_until

BROWSE, CHECKOUT = JOURNEYS
TIMEOUT_S = 0.5


class StandInFrontDoor(BaseHTTPRequestHandler):
    """Stands in for service-a: the first path segment picks its behaviour (``/ok``, ``/hang``, ``/trickle``,
    ``/status-503``, ``/status-402``, ``/starting``), and every request is remembered."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict]] = []
    release = threading.Event()
    """Set at the end of a test: a hanging handler stops waiting."""

    def do_GET(self):
        self._answer(b"")

    def do_POST(self):
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _answer(self, body: bytes) -> None:
        mode, _, rest = self.path.lstrip("/").partition("/")
        self.seen.append({"method": self.command, "path": "/" + rest, "headers": dict(self.headers), "body": body})
        if mode == "starting":  # not ready yet: everything, readiness included, is a 503
            return self._send(503, b'{"error": "unavailable"}')
        if rest == "health/ready":
            return self._send(200, b'{"status": "ok"}')
        if mode == "hang":
            self.release.wait(10)
            return None
        if mode == "trickle":  # the status at once, the body never: the whole answer is late
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"[")
            self.wfile.flush()
            self.release.wait(10)
            return None
        status = int(mode.removeprefix("status-")) if mode.startswith("status-") else 201 if body else 200
        return self._send(status, b'{"id": 1}')

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def front_door():
    StandInFrontDoor.seen = []
    StandInFrontDoor.release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInFrontDoor)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    StandInFrontDoor.release.set()
    server.shutdown()
    server.server_close()


def test_a_healthy_front_door_passes_both_journeys_and_each_checkout_is_a_new_order(front_door):
    browse = probe(front_door + "/ok", BROWSE, TIMEOUT_S)
    first, second = (probe(front_door + "/ok", CHECKOUT, TIMEOUT_S) for _ in range(2))
    assert (browse.success, browse.status, browse.error) == (True, 200, "")
    assert (first.success, first.status) == (True, 201) and second.success
    get, *posts = StandInFrontDoor.seen
    assert get["method"] == "GET" and get["path"] == "/products" and not get["body"]
    assert "Idempotency-Key" not in get["headers"], "browsing writes nothing"
    keys = [post["headers"]["Idempotency-Key"] for post in posts]
    assert all(key.startswith(KEY_PREFIX) for key in keys) and keys[0] != keys[1], "a fresh key: a real order each"
    assert json.loads(posts[0]["body"]) == CHECKOUT.body and posts[0]["path"] == "/checkout"
    assert posts[0]["headers"]["Content-Type"] == "application/json"
    assert posts[0]["headers"]["User-Agent"].startswith("chaoslab-prober/")


def test_a_front_door_that_hangs_refuses_or_fails_is_a_failed_probe(front_door):
    hung = probe(front_door + "/hang", BROWSE, TIMEOUT_S)
    assert (hung.success, hung.status, hung.error) == (False, 0, f"no answer within {TIMEOUT_S:g}s")
    late = probe(front_door + "/trickle", BROWSE, TIMEOUT_S)
    assert not late.success and late.error == f"no answer within {TIMEOUT_S:g}s", "the whole answer, in time"
    failing = probe(front_door + "/status-503", CHECKOUT, TIMEOUT_S)
    assert (failing.success, failing.status, failing.error) == (False, 503, "answered 503")
    closed = probe(f"http://127.0.0.1:{free_port()}", BROWSE, TIMEOUT_S)
    assert (closed.success, closed.status, closed.error) == (False, 0, "connection refused")
    declined = probe(front_door + "/status-402", CHECKOUT, TIMEOUT_S)
    assert declined.success, "a declined card is the shop working"


def samples(text: str) -> dict[tuple[str, str], float]:
    return {(labels["__name__"], labels["journey"]): value for labels, value in parse_exposition(text)}


def test_a_probe_that_cannot_connect_is_exposed_as_a_zero_not_as_missing_data(front_door):
    prober = SyntheticProber(f"http://127.0.0.1:{free_port()}", 1.0, TIMEOUT_S)
    stopping = threading.Event()
    prober.armed.set()  # it had seen the front door ready; now nothing listens there
    threading.Thread(target=prober.run, args=(stopping,), daemon=True).start()
    try:
        found = poll_until(lambda: len(s := samples(prober.exposition())) == 6 and s, "both journeys probed", 10)
    finally:
        stopping.set()
    assert found[("probe_success", "browse")] == 0 and found[("probe_success", "checkout")] == 0
    assert found[("probe_http_status_code", "checkout")] == 0
    assert prober.results()["checkout"]["error"] == "connection refused"


def test_it_waits_for_the_front_door_to_be_ready_once_then_counts_every_probe(front_door):
    prober = SyntheticProber(front_door + "/starting", 1.0, TIMEOUT_S)
    stopping = threading.Event()
    threading.Thread(target=prober.run, args=(stopping,), daemon=True).start()
    try:
        poll_until(lambda: len([s for s in StandInFrontDoor.seen if s["path"] == "/health/ready"]) >= 2, "two looks")
        assert prober.exposition().count("journey=") == 0, "a lab still starting: no probe, no page"
        assert not [s for s in StandInFrontDoor.seen if s["path"] != "/health/ready"]
        prober.front_door_url = front_door + "/ok"  # it became ready
        poll_until(lambda: len(prober.results()) == 2, "both journeys probed once the front door was ready")
        prober.front_door_url = front_door + "/starting"  # unready again: now that is a failure
        poll_until(lambda: not prober.results()["checkout"]["success"], "the checkout probe to fail")
    finally:
        stopping.set()
    assert prober.armed.is_set() and prober.results()["checkout"]["error"] == "answered 503"


def test_old_results_are_not_shown_and_a_stalled_prober_fails_its_scrape():
    prober = SyntheticProber("http://127.0.0.1:9", 5.0, 3.0)
    with pytest.raises(ProberStalled, match="no journey was probed"):
        prober.exposition()  # never started: nothing it says would be current
    prober._tried = {j.name: time.monotonic() for j in JOURNEYS}  # as run() does when it starts
    prober.record(ProbeResult("browse", True, 0.01, 200, "", time.time()))
    prober.record(ProbeResult("checkout", True, 0.05, 201, "", time.time(), time.monotonic() - prober.max_age_s - 1))
    assert set(samples(prober.exposition())) == {
        ("probe_success", "browse"),
        ("probe_duration_seconds", "browse"),
        ("probe_http_status_code", "browse"),
    }, "the stale checkout success is not shown"
    prober._tried["checkout"] = time.monotonic() - prober.max_age_s - 1  # its thread stopped trying
    assert not prober.alive()
    with pytest.raises(ProberStalled):
        prober.exposition()


def test_the_daemon_scrapes_it_in_process_with_the_labels_prometheus_gives_its_pod():
    prober = SyntheticProber("http://127.0.0.1:9", 5.0, 3.0)
    prober._tried = {j.name: time.monotonic() for j in JOURNEYS}
    prober.record(ProbeResult("checkout", False, 3.0, 0, "no answer within 3s", time.time()))
    history = History(600_000)
    scraper = Scraper(history)
    target = Target("prober", "http://127.0.0.1:4318", "red", read=prober.exposition)
    assert scraper.scrape([target], 1_000) == {"prober": None}
    (series,) = [s for s in history.select([], 0, 2_000) if s.labels["__name__"] == "probe_success"]
    assert series.labels == {
        "__name__": "probe_success",
        "job": "chaoslab",
        "instance": "127.0.0.1:4318",
        "service": "prober",
        "team": "red",
        "journey": "checkout",
    }
    assert series.points == [(1_000, 0.0)]
    prober._tried["checkout"] = 0.0  # stalled: the scrape fails and up says so
    assert "no journey was probed" in scraper.scrape([target], 6_000)["prober"]
    (up,) = [s for s in history.select([], 0, 7_000) if s.labels["__name__"] == "up"]
    assert up.points == [(1_000, 1.0), (6_000, 0.0)]
    scraper.close()


def test_its_http_endpoints_for_prometheus_and_the_kubelet():
    prober = SyntheticProber("http://127.0.0.1:9", 5.0, 3.0)
    client = Client(wsgi_app(prober))
    stalled = client.get("/metrics")
    assert stalled.status_code == 503 and stalled.json["error"] == "stalled"
    assert client.get("/health/live").status_code == 503 and client.get("/health/ready").status_code == 200
    prober._tried = {j.name: time.monotonic() for j in JOURNEYS}
    prober.record(ProbeResult("browse", True, 0.01, 200, "", time.time()))
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.content_type.startswith("text/plain; version=0.0.4")
    assert samples(metrics.get_data(as_text=True))[("probe_success", "browse")] == 1
    assert client.get("/health/live").status_code == 200
    assert client.get("/nope").status_code == 404 and "/metrics" in client.get("/nope").json["message"]
    refused = client.post("/metrics")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET"


def test_its_settings_keep_the_timeout_below_the_interval_and_bad_values_get_one_line():
    assert load(Prober, {}).timeout_s < load(Prober, {}).interval_s
    with pytest.raises(SettingsError, match=r"^PROBER_TIMEOUT_S=5: must be below PROBER_INTERVAL_S=5, or probes"):
        load(Prober, {"PROBER_TIMEOUT_S": "5"})
    with pytest.raises(SettingsError, match=r"^PROBER_INTERVAL_S='soon': expected a number$"):
        load(Prober, {"PROBER_INTERVAL_S": "soon"})
    with pytest.raises(ValueError, match="below the interval"):
        SyntheticProber("http://127.0.0.1:9", 2.0, 2.0)


def test_the_blackbox_exporter_gets_the_same_journeys():
    document = chart_document()
    assert document["journeys"] == {"browse": "/products", "checkout": "/checkout"}
    checkout = document["blackbox"]["modules"]["checkout"]["http"]
    assert checkout["method"] == "POST" and json.loads(checkout["body"]) == CHECKOUT.body
    assert checkout["headers"]["Idempotency-Key"].startswith(KEY_PREFIX)
    assert checkout["valid_status_codes"] == list(CHECKOUT.ok)
