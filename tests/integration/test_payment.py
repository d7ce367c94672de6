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


def charge(url, order_id, amount="0.29"):
    return requests.post(
        f"{url}/payments",
        json={"order_id": order_id, "customer_id": 1, "amount": amount, "currency": "USD"},
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
        ({"order_id": 1, "customer_id": 1, "amount": 1.5}, "decimal string"),
        ({"order_id": 1, "customer_id": 1, "amount": "1.005"}, "more than two decimals"),
        ({"order_id": 0, "customer_id": 1, "amount": "1.00"}, "order_id must be a positive integer"),
        ({"order_id": 1, "customer_id": 1, "amount": "1.00", "currency": "usd"}, "three-letter"),
    ],
)
def test_bad_charges_are_400(pay, body, message):
    response = requests.post(f"{pay()}/payments", json=body, timeout=10)
    assert response.status_code == 400 and message in response.json()["message"]


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
