"""payment's HTTP API: ``POST /payments``, ``GET /payments/<order_id>``."""

from __future__ import annotations

import logging
import re

from flask import Flask, jsonify
from prometheus_client import Counter, Gauge
from pybreaker import CircuitBreakerError

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.db import Database
from chaoslab.services.common.errors import ApiError, DependencyDown, DependencyTimeout, bad_request, not_found
from chaoslab.services.common.flags import Flags
from chaoslab.services.common.health import Health
from chaoslab.services.common.migrations import LATEST
from chaoslab.services.common.money import MoneyError, from_minor_units, parse_amount, to_minor_units
from chaoslab.services.common.peers import HttpPeer, circuit_breaker
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.common.web import HttpServer, json_body
from chaoslab.services.common.web import create_app as create_http_app
from chaoslab.settings import Common, Payment, load

NAME = "payment"
log = logging.getLogger("chaoslab.payment")
PROCESSED = Counter("payment_processed", "Charge attempts by outcome: succeeded, declined or failed.", ["status"])
LEDGER_AMOUNT = Counter("ledger_amount", "Money written to the ledger (captured amounts).", ["currency"])
LEDGER_ENTRIES = Counter("ledger_entries", "Ledger entries written (one per charged order).")
LEDGER_DRIFT = Gauge(
    "ledger_drift_amount",
    "Requested minus captured money since start; not 0 means the money math is wrong.",
    ["currency"],
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _positive_int(body: dict, field: str) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise bad_request(f"{field} must be a positive integer")
    return value


def _entry_json(row: dict) -> dict:
    return {
        "payment_id": f"pay_{row['id']}",
        "order_id": row["order_id"],
        "status": "succeeded",
        "amount": str(row["amount"]),
        "requested_amount": str(row["requested_amount"]),
        "currency": row["currency"].strip(),
        "gateway_charge_id": row["gateway_charge_id"],
        "created_at": row["created_at"].isoformat(),
    }


class Ledger:
    def __init__(self, db: Database):
        self.db = db

    def find(self, order_id: int) -> dict | None:
        with self.db.transaction() as tx:
            return tx.one("SELECT * FROM ledger.entries WHERE order_id = %s", (order_id,))

    def record(self, order_id: int, charge_id: str, amount, requested, currency: str, math: str) -> tuple[dict, bool]:
        """Write the entry; returns (entry, created). A concurrent duplicate loses the race and reads the winner."""
        with self.db.transaction() as tx:
            row = tx.one(
                """INSERT INTO ledger.entries
                                (order_id, gateway_charge_id, amount, requested_amount, currency, money_math)
                            VALUES (%s, %s, %s, %s, %s, %s)
                            ON CONFLICT (order_id) DO NOTHING RETURNING *""",
                (order_id, charge_id, amount, requested, currency, math),
            )
            if row is not None:
                return row, True
            return tx.one("SELECT * FROM ledger.entries WHERE order_id = %s", (order_id,)), False


class GatewayFailed(Exception):
    """A 5xx from the gateway: a failure for the circuit breaker, not a decline."""

    def __init__(self, response):
        super().__init__(f"gateway answered {response.status_code}")
        self.response = response


def create_app(settings: Payment | None = None, common: Common | None = None, agent: FaultAgent | None = None) -> Flask:
    settings = settings or load(Payment)
    common = common or load(Common)
    agent = agent or FaultAgent(NAME, Flags(NAME, settings, common.team))
    flags = agent.flags
    db = Database(
        common.database_url,
        name=NAME,
        pool_size=settings.db_pool_size,
        agent=agent,
        connect_timeout_s=common.db_connect_timeout_s,
        pool_timeout_s=common.db_pool_timeout_s,
    ).open()
    ledger = Ledger(db)
    gateway = HttpPeer(
        "gateway",
        settings.gateway_url,
        lambda: flags.get("gateway_timeout_s"),
        pool_size=settings.handler_threads,
        agent=agent,
    )
    breaker = circuit_breaker("gateway", settings.breaker_fail_max, settings.breaker_reset_s)
    health = Health()
    health.ready_check("postgres", lambda: db.check_schema(LATEST))
    app = create_http_app(NAME, health, max_body_bytes=8192, access_log=common.access_log, agent=agent)

    def charge_gateway(order_id: int, customer_id: int, minor: int, currency: str):
        response = gateway.call(
            "POST",
            "/v1/charges",
            "POST /v1/charges",
            json={"amount_minor": minor, "currency": currency, "reference": f"order {order_id} customer {customer_id}"},
            headers={"Idempotency-Key": f"order-{order_id}"},
        )
        if response.status_code >= 500:
            raise GatewayFailed(response)
        return response

    def stop() -> None:
        gateway.close()
        db.close()

    app.extensions["chaoslab.stop"] = stop

    @app.post("/payments")
    def pay():
        body = json_body()
        order_id = _positive_int(body, "order_id")
        customer_id = _positive_int(body, "customer_id")
        try:
            amount = parse_amount(body.get("amount"))
        except MoneyError as exc:
            raise bad_request(str(exc)) from None
        currency = body.get("currency", "USD")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise bad_request("currency must be a three-letter ISO code such as USD")

        existing = ledger.find(order_id)
        if existing is not None:
            return jsonify(_entry_json(existing) | {"replayed": True}), 200

        money_math = flags.get("money_math")
        minor = to_minor_units(amount, money_math)
        try:
            if flags.get("gateway_breaker"):
                with breaker.calling():
                    response = charge_gateway(order_id, customer_id, minor, currency)
            else:
                response = charge_gateway(order_id, customer_id, minor, currency)
        except (DependencyDown, DependencyTimeout):
            PROCESSED.labels("failed").inc()
            raise
        except GatewayFailed as exc:
            PROCESSED.labels("failed").inc()
            raise ApiError(
                502,
                "upstream_failed",
                f"gateway answered {exc.response.status_code} for order {order_id}",
                dependency="gateway",
            ) from None
        except CircuitBreakerError:
            PROCESSED.labels("failed").inc()
            raise DependencyDown(
                "gateway",
                f"the gateway failed {settings.breaker_fail_max} times in a row; "
                f"failing fast for {settings.breaker_reset_s:g}s (circuit open)",
            ) from None
        if response.status_code == 402:
            PROCESSED.labels("declined").inc()
            raise ApiError(402, "payment_declined", f"the card issuer declined order {order_id}", order_id=order_id)
        if response.status_code not in (200, 201):
            PROCESSED.labels("failed").inc()
            raise ApiError(
                502,
                "upstream_failed",
                f"gateway answered {response.status_code} for order {order_id}",
                dependency="gateway",
            )
        charge = response.json()
        captured = from_minor_units(charge["amount_minor"])
        entry, created = ledger.record(order_id, charge["id"], captured, amount, currency, money_math)
        if not created:
            return jsonify(_entry_json(entry) | {"replayed": True}), 200
        PROCESSED.labels("succeeded").inc()
        LEDGER_ENTRIES.inc()
        LEDGER_AMOUNT.labels(currency).inc(float(captured))
        LEDGER_DRIFT.labels(currency).inc(float(amount - captured))
        return jsonify(_entry_json(entry)), 201

    @app.get("/payments/<order_id>")
    def payment(order_id: str):
        if not order_id.isdigit() or int(order_id) <= 0:
            raise bad_request("order id must be a positive integer")
        entry = ledger.find(int(order_id))
        if entry is None:
            raise not_found(f"no payment for order {order_id}")
        return jsonify(_entry_json(entry))

    return app


def build(runtime: ServiceRuntime) -> HttpServer:
    settings = load(Payment)
    return runtime.serve_http(create_app(settings, runtime.common, runtime.agent(settings)), settings)


def main() -> int:
    return run(NAME, build)
