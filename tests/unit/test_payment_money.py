"""payment's money path (services/payment/charges.py) without HTTP in front of it: a real PostgreSQL
(a database of this module's own) and the real gateway served in-process on a loopback port.

Where a test needs the gateway to fail, it uses the lab's own fault on the gateway (``upstream_failure``
through its fault agent), as a drill would; nothing here is mocked.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from decimal import Decimal

import psycopg
import pytest
import requests
from prometheus_client import REGISTRY

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services import gateway as gateway_service
from chaoslab.services.common.db import Database
from chaoslab.services.common.errors import ApiError, DependencyDown, DependencyTimeout
from chaoslab.services.common.migrations import apply, ensure_database
from chaoslab.services.common.peers import HttpPeer, circuit_breaker
from chaoslab.services.payment.charges import Charges
from chaoslab.services.payment.gateway_client import GatewayClient
from chaoslab.services.payment.ledger import Ledger
from chaoslab.services.payment.validation import ChargeRequest
from chaoslab.settings import Common, Gateway, load
from chaoslab.wsgi import HttpServer
from support import poll_until

_order_ids = itertools.count(1)


@pytest.fixture(scope="module")
def ledger_url(postgres_url):
    url = psycopg.conninfo.make_conninfo(postgres_url, dbname=f"ledger_{uuid.uuid4().hex[:10]}")
    ensure_database(url)
    apply(url)
    yield url
    with psycopg.connect(psycopg.conninfo.make_conninfo(postgres_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {psycopg.conninfo.conninfo_to_dict(url)['dbname']} WITH (FORCE)")


@pytest.fixture(scope="module")
def ledger(ledger_url):
    db = Database(ledger_url, name="payment-tests", pool_size=4, connect_timeout_s=5, pool_timeout_s=5).open()
    yield Ledger(db)
    db.close()


class Upstream:
    """The gateway service on 127.0.0.1:0, with its fault agent at hand."""

    def __init__(self, **settings):
        self.agent = FaultAgent("gateway")
        app = gateway_service.create_app(
            load(Gateway, {}, **{"latency_ms": 0.0, **settings}), load(Common, {}, access_log=False), self.agent
        )
        self.server = HttpServer(app, "127.0.0.1", 0, 4, "gateway").start()
        self.url = self.server.url

    def charge(self, key: str, amount_minor: int) -> requests.Response:
        """A charge sent straight to the gateway, as an attempt whose answer never reached payment."""
        return requests.post(
            f"{self.url}/v1/charges",
            json={"amount_minor": amount_minor, "currency": "USD"},
            headers={"Idempotency-Key": key},
            timeout=5,
        )

    def stop(self) -> None:
        self.server.stop()
        self.agent.close()


@pytest.fixture
def upstream():
    started: list[Upstream] = []

    def start(**settings) -> Upstream:
        started.append(Upstream(**settings))
        return started[-1]

    yield start
    for one in started:
        one.stop()


@pytest.fixture
def payment(ledger):
    """Charges on ``ledger`` through the gateway at ``url``, wired as payment's app wires them."""
    peers: list[HttpPeer] = []

    def make(url: str, money_math: str = "decimal", timeout_s: float = 2.0, fail_max: int = 5) -> Charges:
        peers.append(HttpPeer("gateway", url, timeout_s))
        breaker = circuit_breaker("gateway", fail_max, reset_s=60.0)
        return Charges(ledger, GatewayClient(peers[-1], breaker, lambda: True), lambda: money_math)

    yield make
    for peer in peers:
        peer.close()


def attempt(amount: str = "12.34", order_id: int | None = None, n: int = 1) -> ChargeRequest:
    order_id = order_id or next(_order_ids)
    return ChargeRequest(order_id, 1, Decimal(amount), "USD", f"order-{order_id}-{n}")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def rows(ledger_url: str, order_id: int) -> list[tuple]:
    with psycopg.connect(ledger_url) as conn:
        return conn.execute(
            "SELECT charge_key, amount, requested_amount, money_math FROM ledger.entries WHERE order_id = %s",
            (order_id,),
        ).fetchall()


def failed_with(code: str, call) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call()
    assert raised.value.code == code, raised.value.body()
    return raised.value


def test_a_charge_is_captured_and_recorded_once_under_retries_with_the_same_key(upstream, payment, ledger_url):
    charges = payment(upstream().url)
    request = attempt("12.34")
    succeeded, entries = sample("payment_processed_total", status="succeeded"), sample("ledger_entries_total")
    captured = sample("gateway_charges_total", status="succeeded")

    first = charges.charge(request)
    retries = [charges.charge(request) for _ in range(3)]

    assert not first.replayed and all(r.replayed and r.entry["id"] == first.entry["id"] for r in retries)
    assert rows(ledger_url, request.order_id) == [(request.key, Decimal("12.34"), Decimal("12.34"), "decimal")]
    assert sample("payment_processed_total", status="succeeded") == succeeded + 1
    assert sample("ledger_entries_total") == entries + 1
    assert sample("gateway_charges_total", status="succeeded") == captured + 1


def test_a_declined_charge_is_a_402_that_writes_nothing_and_resolves_as_declined(upstream, payment, ledger_url):
    charges = payment(upstream(decline_rate=1.0).url)
    request = attempt()
    declined = sample("payment_processed_total", status="declined")

    error = failed_with("payment_declined", lambda: charges.charge(request))

    assert error.status == 402 and error.details == {"order_id": request.order_id}
    assert sample("payment_processed_total", status="declined") == declined + 1
    assert rows(ledger_url, request.order_id) == []
    assert charges.resolve(request).status == "declined"
    failed_with("charge_voided", lambda: charges.charge(request))  # settled: this key never charges now


def test_a_gateway_timeout_leaves_the_attempt_unresolved_until_the_gateway_has_answered(
    upstream, payment, ledger_url, caplog
):
    charges = payment(upstream(latency_ms=1500.0).url, timeout_s=0.25)
    request = attempt("5.00")
    failed = sample("payment_processed_total", status="failed")

    with pytest.raises(DependencyTimeout):
        charges.charge(request)
    assert sample("payment_processed_total", status="failed") == failed + 1
    assert rows(ledger_url, request.order_id) == []
    still_charging = failed_with("charge_in_progress", lambda: charges.resolve(request))
    assert still_charging.status == 409

    with caplog.at_level(logging.WARNING, logger="chaoslab.payment"):
        resolved = poll_until(lambda: charges.resolve(request), "the gateway to finish the charge", timeout=10)

    assert resolved.status == "succeeded" and resolved.entry["charge_key"] == request.key
    assert f"order {request.order_id}: recovered a captured charge payment had not recorded" in caplog.messages
    assert charges.charge(request).replayed  # the client's retry finds it recorded
    assert charges.resolve(request).entry["id"] == resolved.entry["id"]
    assert len(rows(ledger_url, request.order_id)) == 1


def test_a_void_closes_the_key_for_good(upstream, payment, ledger_url):
    gateway = upstream()
    charges = payment(gateway.url)
    request = attempt()
    voided = sample("payment_resolutions_total", outcome="voided")

    assert charges.resolve(request).status == "voided"
    assert charges.resolve(request).status == "voided"  # asking again gives the same answer
    assert sample("payment_resolutions_total", outcome="voided") == voided + 2

    error = failed_with("charge_voided", lambda: charges.charge(request))
    assert error.status == 409 and error.details == {"order_id": request.order_id}
    assert gateway.charge(request.key, 1234).json()["error"] == "charge_voided"  # closed at the gateway too
    assert rows(ledger_url, request.order_id) == []
    assert not charges.charge(attempt(order_id=request.order_id, n=2)).replayed  # a new attempt has a new key


def test_a_void_the_gateway_holds_refuses_a_charge_the_ledger_let_through(upstream, payment, ledger_url):
    """The race a resolution closes: payment read the ledger before the void, then called the gateway."""
    gateway = upstream()
    request = attempt()
    requests.post(f"{gateway.url}/v1/charges/void", headers={"Idempotency-Key": request.key}, timeout=5)

    failed_with("charge_voided", lambda: payment(gateway.url).charge(request))
    assert rows(ledger_url, request.order_id) == []


def test_a_different_amount_under_a_captured_key_conflicts_and_the_same_one_records_the_capture(
    upstream, payment, ledger_url
):
    gateway = upstream()
    charges = payment(gateway.url)
    request = attempt("0.29")
    captured = gateway.charge(request.key, 29).json()  # an earlier attempt's charge payment never recorded

    conflict = failed_with("charge_in_progress", lambda: charges.charge(attempt("0.30", request.order_id)))
    assert conflict.status == 409 and "different amount" in conflict.message
    assert rows(ledger_url, request.order_id) == []

    recorded = charges.charge(request)
    assert not recorded.replayed and recorded.entry["gateway_charge_id"] == captured["id"]


@pytest.mark.parametrize(
    "money_math,captured,mischarged",
    [("decimal", Decimal("0.29"), 0), ("float", Decimal("0.28"), 1)],
)
def test_float_money_math_charges_a_cent_short_and_counts_the_mischarge(
    upstream, payment, ledger_url, money_math, captured, mischarged
):
    charges = payment(upstream().url, money_math=money_math)
    request = attempt("0.29")
    before, drift = sample("ledger_mischarged_entries_total"), sample("ledger_drift_amount", currency="USD")

    entry = charges.charge(request).entry

    assert (entry["amount"], entry["requested_amount"], entry["money_math"]) == (captured, Decimal("0.29"), money_math)
    assert sample("ledger_mischarged_entries_total") == before + mischarged
    assert sample("ledger_drift_amount", currency="USD") == pytest.approx(drift + float(Decimal("0.29") - captured))


def test_a_charge_recorded_late_keeps_the_money_math_that_made_it(upstream, payment, ledger_url):
    gateway = upstream()
    request = attempt("0.29")
    gateway.charge(request.key, 28)  # what float money math sent before its answer was lost
    before = sample("ledger_mischarged_entries_total")

    resolved = payment(gateway.url).resolve(request)

    assert resolved.status == "succeeded"
    assert rows(ledger_url, request.order_id) == [(request.key, Decimal("0.28"), Decimal("0.29"), "float")]
    assert sample("ledger_mischarged_entries_total") == before + 1


def test_the_breaker_opens_after_repeated_failures_and_then_fails_fast(upstream, payment):
    gateway = upstream()
    charges = payment(gateway.url, fail_max=3)
    failing = gateway.agent.add({"kind": "upstream_failure", "service": "gateway", "params": {"status": 500}})

    for _ in range(2):
        assert failed_with("upstream_failed", lambda: charges.charge(attempt())).status == 502
    with pytest.raises(DependencyDown, match=r"failed 3 times in a row; failing fast for 60s \(circuit open\)"):
        charges.charge(attempt())  # the third failure opens it
    assert sample("circuit_breaker_open", peer="gateway") == 1

    gateway.agent.remove(failing.id)
    calls = sample("outbound_requests_total", peer="gateway", operation="POST /v1/charges", outcome="ok")
    with pytest.raises(DependencyDown, match="circuit open"):
        charges.charge(attempt())  # the gateway is well again, but the open breaker does not ask it
    assert sample("outbound_requests_total", peer="gateway", operation="POST /v1/charges", outcome="ok") == calls
