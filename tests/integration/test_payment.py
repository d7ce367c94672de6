"""payment against a real PostgreSQL and a real gateway process-local server on port 0."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
import requests
from prometheus_client import REGISTRY

from chaoslab.local.ports import free_port
from chaoslab.services import gateway, payment
from chaoslab.settings import Common, Gateway, Payment, load
from chaoslab.wsgi import HttpServer


def served(app, threads=4):
    server = HttpServer(app, "127.0.0.1", 0, threads, app.name).start()
    return server


@pytest.fixture(scope="module")
def gateway_url():
    server = served(gateway.create_app(load(Gateway, {}, latency_ms=0.0), load(Common, {}, access_log=False)))
    yield server.url
    server.stop()


def payment_server(postgres_url, gateway_url, **overrides):
    settings = load(Payment, {}, **{"gateway_url": gateway_url, "gateway_timeout_s": 2.0, **overrides})
    app = payment.create_app(settings, load(Common, {}, database_url=postgres_url, access_log=False))
    return app, served(app)


@pytest.fixture
def pay(postgres_url, gateway_url):
    started = []

    def make(**overrides):
        app, server = payment_server(postgres_url, overrides.pop("gateway_url", gateway_url), **overrides)
        started.append((app, server))
        return server.url

    yield make
    for app, server in started:
        server.stop()
        app.extensions["chaoslab.stop"]()


def processed(status: str) -> float:
    return REGISTRY.get_sample_value("payment_processed_total", {"status": status}) or 0.0


def charge(url, order_id, amount="0.29", key=None, path="/payments"):
    return requests.post(
        f"{url}{path}",
        json={
            "order_id": order_id,
            "customer_id": 1,
            "amount": amount,
            "currency": "USD",
            "idempotency_key": key or f"order-{order_id}-1",
        },
        timeout=10,
    )


def test_decimal_money_charges_exactly_and_replays(pay, postgres_url):
    url = pay()
    first = charge(url, 9001, "0.29")
    assert first.status_code == 201 and first.json()["amount"] == "0.29"
    again = charge(url, 9001, "0.29")
    assert again.status_code == 200 and again.json()["replayed"] is True
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.entries WHERE order_id = 9001").fetchone()[0] == 1


def test_float_money_math_drifts_by_a_cent_and_says_so_in_the_ledger(pay, postgres_url):
    url = pay(money_math="float")
    response = charge(url, 9002, "0.29")
    assert response.status_code == 201
    assert response.json()["amount"] == "0.28" and response.json()["requested_amount"] == "0.29"
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT amount, requested_amount, money_math FROM ledger.entries WHERE order_id = 9002"
        ).fetchone()
    assert row == (Decimal("0.28"), Decimal("0.29"), "float")


def test_declines_are_402_and_counted(postgres_url, pay):
    declining = served(
        gateway.create_app(load(Gateway, {}, latency_ms=0.0, decline_rate=1.0), load(Common, {}, access_log=False))
    )
    try:
        app, server = payment_server(postgres_url, declining.url)
        before = processed("declined")
        response = charge(server.url, 9003)
        assert response.status_code == 402 and response.json()["error"] == "payment_declined"
        assert processed("declined") == before + 1
        server.stop()
        app.extensions["chaoslab.stop"]()
    finally:
        declining.stop()


def test_gateway_down_is_503_counted_as_failed_and_writes_nothing(pay, postgres_url):
    url = pay(gateway_url=f"http://127.0.0.1:{free_port()}")
    before = processed("failed")
    response = charge(url, 9004)
    assert response.status_code == 503
    assert response.json() == {
        "error": "dependency_unavailable",
        "dependency": "gateway",
        "message": response.json()["message"],
    }
    assert processed("failed") == before + 1
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.entries WHERE order_id = 9004").fetchone()[0] == 0


@pytest.mark.parametrize(
    "body,message",
    [
        ({"amount": 1.5}, "decimal string"),
        ({"amount": "1.005"}, "more than two decimals"),
        ({"order_id": 0}, "order_id must be a positive integer"),
        ({"order_id": "7"}, "order_id must be a positive integer (a JSON number, not a string)"),
        ({"customer_id": "²"}, "customer_id must be a positive integer"),
        ({"currency": "usd"}, "three-letter"),
        ({"currency": "USD\n"}, "three-letter"),
        ({"idempotency_key": None}, "idempotency_key is required"),
        ({"idempotency_key": "has space"}, "idempotency_key must be 1-255 printable ASCII"),
        ({"tip": "1.00"}, "unknown field 'tip'"),
    ],
)
def test_bad_charges_are_400(pay, body, message):
    valid = {"order_id": 1, "customer_id": 1, "amount": "1.00", "currency": "USD", "idempotency_key": "k-1"}
    for path in ("/payments", "/payments/resolve"):
        response = requests.post(f"{pay()}{path}", json={**valid, **body}, timeout=10)
        assert response.status_code == 400 and message in response.json()["message"], response.text


@pytest.mark.parametrize(
    "method,path,data",
    [
        ("GET", "/payments/²", None),
        ("GET", "/payments/%EF%BC%91", None),  # fullwidth 1
        ("GET", "/payments/%00", None),
        ("POST", "/payments", '{"order_id": 1, "order_id": 2}'),
        ("POST", "/payments", "[" * 1000 + "]" * 1000),
    ],
)
def test_hostile_input_to_payment_is_a_clear_400(pay, method, path, data):
    response = requests.request(
        method, pay() + path, data=data, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request" and "\n" not in response.json()["message"]


def test_gateway_is_idempotent_per_key(gateway_url):
    def send(amount):
        return requests.post(
            f"{gateway_url}/v1/charges",
            json={"amount_minor": amount, "currency": "USD"},
            headers={"Idempotency-Key": "gw-1"},
            timeout=5,
        )

    first, second = send(100), send(100)
    assert first.status_code == 201 and second.status_code == 200 and first.json()["id"] == second.json()["id"]
    assert send(200).status_code == 409


@pytest.mark.parametrize(
    "body,headers,message",
    [
        ({"amount_minor": "100", "currency": "USD"}, {}, "amount_minor must be an integer"),
        ({"amount_minor": 100, "currency": "USD", "reference": {"a": 1}}, {}, "reference must be a string"),
        ({"amount_minor": 100, "currency": "USD"}, {"Idempotency-Key": "a b"}, "Idempotency-Key must be"),
    ],
)
def test_bad_gateway_input_is_400(gateway_url, body, headers, message):
    response = requests.post(
        f"{gateway_url}/v1/charges", json=body, headers={"Idempotency-Key": "gw-bad", **headers}, timeout=5
    )
    assert response.status_code == 400 and message in response.json()["message"], response.text


def test_the_circuit_breaker_does_not_serialise_gateway_calls(postgres_url):
    """pybreaker's breaker.call() holds a lock for the whole call; payment must not let it make
    concurrent charges wait for each other (it caps checkout throughput at one charge at a time)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    slow = gateway.create_app(load(Gateway, {}, latency_ms=300.0), load(Common, {}, access_log=False))
    in_flight, most = [0], [0]
    lock = threading.Lock()

    @slow.before_request
    def enter():
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])

    @slow.teardown_request
    def leave(_exc):
        with lock:
            in_flight[0] -= 1

    upstream = served(slow)
    app, server = payment_server(postgres_url, upstream.url, gateway_breaker=True)
    try:
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda n: charge(server.url, 9100 + n, "1.00").status_code, range(4)))
    finally:
        server.stop()
        app.extensions["chaoslab.stop"]()
        upstream.stop()
    assert codes == [201] * 4
    assert most[0] >= 2, "gateway calls went one at a time through the circuit breaker"


# ---- resolving a charge attempt by its key (service-a's recovery asks this) ------------------------


def ledger_rows(postgres_url, order_id):
    with psycopg.connect(postgres_url) as conn:
        return conn.execute("SELECT charge_key, amount FROM ledger.entries WHERE order_id = %s", (order_id,)).fetchall()


def test_resolving_an_uncharged_key_voids_it_so_a_late_charge_cannot_land(pay, postgres_url):
    url = pay()
    resolved = charge(url, 9201, key="order-9201-1", path="/payments/resolve")
    assert resolved.status_code == 200 and resolved.json()["status"] == "voided"
    assert charge(url, 9201, key="order-9201-1", path="/payments/resolve").json()["status"] == "voided"  # idempotent
    late = charge(url, 9201, key="order-9201-1")  # the attempt that was still on its way
    assert late.status_code == 409 and late.json()["error"] == "charge_voided", late.text
    assert ledger_rows(postgres_url, 9201) == []
    retry = charge(url, 9201, key="order-9201-2")  # a new attempt has a new key and may charge
    assert retry.status_code == 201
    assert [key for key, _ in ledger_rows(postgres_url, 9201)] == ["order-9201-2"]


def test_a_void_reaches_the_gateway_so_a_charge_payment_let_through_is_refused_there(pay, gateway_url):
    """The race: payment checked the key before the void, then called the gateway after it."""
    url = pay()
    assert charge(url, 9202, key="order-9202-1", path="/payments/resolve").json()["status"] == "voided"
    at_gateway = requests.post(
        f"{gateway_url}/v1/charges",
        json={"amount_minor": 29, "currency": "USD"},
        headers={"Idempotency-Key": "order-9202-1"},
        timeout=5,
    )
    assert at_gateway.status_code == 409 and at_gateway.json()["error"] == "charge_voided"


def test_resolving_records_a_charge_the_gateway_captured_but_payment_never_did(pay, gateway_url, postgres_url):
    captured = requests.post(
        f"{gateway_url}/v1/charges",
        json={"amount_minor": 29, "currency": "USD"},
        headers={"Idempotency-Key": "order-9203-1"},
        timeout=5,
    )
    assert captured.status_code == 201
    resolved = charge(pay(), 9203, "0.29", key="order-9203-1", path="/payments/resolve")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "succeeded" and resolved.json()["gateway_charge_id"] == captured.json()["id"]
    assert ledger_rows(postgres_url, 9203) == [("order-9203-1", Decimal("0.29"))]


def test_a_charge_in_flight_is_not_resolved_until_it_ends(postgres_url):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    slow = gateway.create_app(load(Gateway, {}, latency_ms=1500.0), load(Common, {}, access_log=False))
    in_flight = threading.Event()
    slow.before_request(lambda: in_flight.set() if request_path() == "/v1/charges" else None)
    upstream = served(slow)
    app, server = payment_server(postgres_url, upstream.url)
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(charge, server.url, 9204, "1.00", "order-9204-1")
            in_flight.wait(10)
            during = charge(server.url, 9204, "1.00", key="order-9204-1", path="/payments/resolve")
            assert during.status_code == 409 and during.json()["error"] == "charge_in_progress", during.text
            assert first.result().status_code == 201
        after = charge(server.url, 9204, "1.00", key="order-9204-1", path="/payments/resolve")
        assert after.status_code == 200 and after.json()["status"] == "succeeded"
    finally:
        server.stop()
        app.extensions["chaoslab.stop"]()
        upstream.stop()
    assert len(ledger_rows(postgres_url, 9204)) == 1


def request_path() -> str:
    from flask import request

    return request.path
