"""payment's HTTP API: ``POST /payments``, ``GET /payments/<order_id>``."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from flask import Flask, jsonify
from prometheus_client import Counter, Gauge
from pybreaker import CircuitBreakerError

from chaoslab.chaos.agent import FaultAgent
from chaoslab.inputs import idempotency_key, json_int, text_int
from chaoslab.services.common.db import Database
from chaoslab.services.common.errors import ApiError, DependencyDown, bad_request, not_found
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
LEDGER_MISCHARGED = Counter(
    "ledger_mischarged_entries",
    "Ledger entries whose captured amount differs from the amount requested (the customers charged wrong).",
)
LEDGER_DRIFT = Gauge(
    "ledger_drift_amount",
    "Requested minus captured money since start; not 0 means the money math is wrong.",
    ["currency"],
)
RESOLVED = Counter(
    "payment_resolutions",
    "Charge attempts resolved on request (service-a's recovery), by outcome: succeeded, declined or voided.",
    ["outcome"],
)
_CURRENCY = re.compile(r"[A-Z]{3}")
_CHARGE_FIELDS = {"order_id", "customer_id", "amount", "currency", "idempotency_key"}


def _entry_json(row: dict) -> dict:
    return {
        "payment_id": f"pay_{row['id']}",
        "order_id": row["order_id"],
        "status": "succeeded",
        "amount": str(row["amount"]),
        "requested_amount": str(row["requested_amount"]),
        "currency": row["currency"].strip(),
        "gateway_charge_id": row["gateway_charge_id"],
        "idempotency_key": row["charge_key"],
        "created_at": row["created_at"].isoformat(),
    }


@dataclass(frozen=True)
class ChargeRequest:
    """A charge (or a resolution) as service-a asks for it: the order, the money, the attempt's key."""

    order_id: int
    customer_id: int
    amount: Decimal
    currency: str
    key: str

    @classmethod
    def parse(cls, body: dict) -> ChargeRequest:
        unknown = sorted(set(body) - _CHARGE_FIELDS)
        if unknown:
            raise bad_request(f"unknown field {unknown[0][:64]!r}; a charge has {', '.join(sorted(_CHARGE_FIELDS))}")
        try:
            amount = parse_amount(body.get("amount"))
        except MoneyError as exc:
            raise bad_request(str(exc)) from None
        currency = body.get("currency", "USD")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise bad_request("currency must be a three-letter ISO code such as USD")
        key = idempotency_key(body.get("idempotency_key"), "idempotency_key")
        if key is None:
            raise bad_request("idempotency_key is required: the charge attempt's key, recorded on the order")
        return cls(
            json_int(body.get("order_id"), "order_id"),
            json_int(body.get("customer_id"), "customer_id"),
            amount,
            currency,
            key,
        )


class Ledger:
    def __init__(self, db: Database):
        self.db = db

    def find(self, order_id: int) -> dict | None:
        with self.db.transaction() as tx:
            return tx.one("SELECT * FROM ledger.entries WHERE order_id = %s", (order_id,))

    def lookup(self, charge: ChargeRequest) -> tuple[dict | None, bool]:
        """(the order's ledger entry, whether the attempt's key was voided), in one statement: the
        charge path's only read before the gateway (db_slow adds its delay per statement)."""
        with self.db.transaction() as tx:
            row = tx.one(
                """SELECT e.*, EXISTS (SELECT 1 FROM ledger.voids WHERE charge_key = %s) AS voided
                     FROM (SELECT 1) AS one LEFT JOIN ledger.entries e ON e.order_id = %s""",
                (charge.key, charge.order_id),
            )
        return (row if row["id"] is not None else None), row["voided"]

    def void(self, key: str, order_id: int) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO ledger.voids (charge_key, order_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (key, order_id),
            )

    def record(self, charge: ChargeRequest, charge_id: str, captured: Decimal, math: str) -> tuple[dict, bool]:
        """Write the entry; returns (entry, created). A concurrent duplicate loses the race and reads the winner."""
        with self.db.transaction() as tx:
            row = tx.one(
                """INSERT INTO ledger.entries (order_id, charge_key, gateway_charge_id, amount, requested_amount,
                                               currency, money_math)
                            VALUES (%s, %s, %s, %s, %s, %s, %s)
                            ON CONFLICT DO NOTHING RETURNING *""",
                (charge.order_id, charge.key, charge_id, captured, charge.amount, charge.currency, math),
            )
            if row is not None:
                return row, True
            return tx.one("SELECT * FROM ledger.entries WHERE order_id = %s", (charge.order_id,)), False


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
    db = Database.of_service(NAME, settings.db_pool_size, common, agent)
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

    def call_gateway(path: str, charge: ChargeRequest, body: dict | None = None):
        """POST to the gateway under the charge's key, through the breaker when it is on. A 5xx is a 502,
        an open circuit a 503, a timeout a 504; anything else is returned for the caller to read."""

        def send():
            response = gateway.call(
                "POST", path, f"POST {path}", json=body or {}, headers={"Idempotency-Key": charge.key}
            )
            if response.status_code >= 500:
                raise GatewayFailed(response)
            return response

        try:
            if flags.get("gateway_breaker"):
                with breaker.calling():
                    return send()
            return send()
        except GatewayFailed as exc:
            raise ApiError(
                502,
                "upstream_failed",
                f"gateway answered {exc.response.status_code} for order {charge.order_id}",
                dependency="gateway",
            ) from None
        except CircuitBreakerError:
            raise DependencyDown(
                "gateway",
                f"the gateway failed {settings.breaker_fail_max} times in a row; "
                f"failing fast for {settings.breaker_reset_s:g}s (circuit open)",
            ) from None

    def record(charge: ChargeRequest, captured_charge: dict, money_math: str) -> tuple[dict, bool]:
        captured = from_minor_units(captured_charge["amount_minor"])
        entry, created = ledger.record(charge, captured_charge["id"], captured, money_math)
        if created:
            LEDGER_ENTRIES.inc()
            LEDGER_AMOUNT.labels(charge.currency).inc(float(captured))
            LEDGER_DRIFT.labels(charge.currency).inc(float(charge.amount - captured))
            if captured != charge.amount:
                LEDGER_MISCHARGED.inc()
        return entry, created

    def voided(charge: ChargeRequest) -> ApiError:
        return ApiError(
            409,
            "charge_voided",
            f"charge attempt {charge.key} of order {charge.order_id} was resolved as not charged and is closed; "
            "a new attempt needs a new key",
            order_id=charge.order_id,
        )

    def gateway_conflict(charge: ChargeRequest, response) -> ApiError:
        detail = response.json().get("message", "conflict") if response.content else "conflict"
        return ApiError(409, "charge_in_progress", f"order {charge.order_id}: {detail}; ask again in a moment")

    def stop() -> None:
        gateway.close()
        db.close()

    app.extensions["chaoslab.stop"] = stop

    @app.post("/payments")
    def pay():
        charge = ChargeRequest.parse(json_body())
        existing, was_voided = ledger.lookup(charge)
        if existing is not None:
            return jsonify(_entry_json(existing) | {"replayed": True}), 200
        if was_voided:
            raise voided(charge)
        money_math = flags.get("money_math")
        minor = to_minor_units(charge.amount, money_math)
        try:
            response = call_gateway(
                "/v1/charges",
                charge,
                {
                    "amount_minor": minor,
                    "currency": charge.currency,
                    "reference": f"order {charge.order_id} customer {charge.customer_id}",
                },
            )
        except ApiError:
            PROCESSED.labels("failed").inc()
            raise
        if response.status_code == 402:
            PROCESSED.labels("declined").inc()
            raise ApiError(
                402, "payment_declined", f"the card issuer declined order {charge.order_id}", order_id=charge.order_id
            )
        if response.status_code == 409:
            PROCESSED.labels("failed").inc()
            if response.json().get("error") == "charge_voided":
                raise voided(charge)
            raise gateway_conflict(charge, response)
        if response.status_code not in (200, 201):
            PROCESSED.labels("failed").inc()
            raise ApiError(
                502,
                "upstream_failed",
                f"gateway answered {response.status_code} for order {charge.order_id}",
                dependency="gateway",
            )
        entry, created = record(charge, response.json(), money_math)
        if not created:
            return jsonify(_entry_json(entry) | {"replayed": True}), 200
        PROCESSED.labels("succeeded").inc()
        return jsonify(_entry_json(entry)), 201

    @app.post("/payments/resolve")
    def resolve():
        """How a charge attempt ended, decided now: ``succeeded`` (in the ledger; written now if the gateway
        captured it but payment never recorded it), ``declined``, or ``voided``: never charged, and never
        will be, because the gateway and the ledger refuse the key from now on. Idempotent."""
        charge = ChargeRequest.parse(json_body())
        existing, was_voided = ledger.lookup(charge)
        if existing is not None:
            RESOLVED.labels("succeeded").inc()
            return jsonify(_entry_json(existing))
        if not was_voided:
            response = call_gateway("/v1/charges/void", charge)
            if response.status_code == 409:
                raise gateway_conflict(charge, response)
            if response.status_code != 200:
                raise ApiError(
                    502, "upstream_failed", f"gateway answered {response.status_code} to a void", dependency="gateway"
                )
            outcome = response.json()
            if outcome["status"] == "succeeded":
                entry, _ = record(charge, outcome, _money_math_of(charge.amount, outcome["amount_minor"]))
                RESOLVED.labels("succeeded").inc()
                log.warning("order %d: recovered a captured charge payment had not recorded", charge.order_id)
                return jsonify(_entry_json(entry))
            ledger.void(charge.key, charge.order_id)
            RESOLVED.labels(outcome["status"]).inc()
            return jsonify(status=outcome["status"], order_id=charge.order_id, idempotency_key=charge.key)
        RESOLVED.labels("voided").inc()
        return jsonify(status="voided", order_id=charge.order_id, idempotency_key=charge.key)

    @app.get("/payments/<order_id>")
    def payment(order_id: str):
        entry = ledger.find(text_int(order_id, "order id"))
        if entry is None:
            raise not_found(f"no payment for order {order_id}")
        return jsonify(_entry_json(entry))

    return app


def _money_math_of(requested: Decimal, captured_minor: int) -> str:
    """Which money math turned ``requested`` into the gateway's minor units (for a charge recorded late)."""
    for math in ("decimal", "float"):
        if to_minor_units(requested, math) == captured_minor:
            return math
    return "unknown"


def build(runtime: ServiceRuntime) -> HttpServer:
    settings = load(Payment)
    return runtime.serve_http(create_app(settings, runtime.common, runtime.agent(settings)), settings)


def main() -> int:
    return run(NAME, build)
