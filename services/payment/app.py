"""payment's HTTP API: ``POST /payments``, ``POST /payments/resolve``, ``GET /payments/<order_id>``.

Only wiring: the money path is ``charges.py``, the ledger ``ledger.py``, the gateway ``gateway_client.py``.
"""

from __future__ import annotations

from flask import Flask, jsonify

from chaoslab.chaos.agent import FaultAgent
from chaoslab.inputs import text_int
from chaoslab.services.common.db import Database
from chaoslab.services.common.errors import not_found
from chaoslab.services.common.flags import Flags
from chaoslab.services.common.health import Health
from chaoslab.services.common.migrations import LATEST
from chaoslab.services.common.peers import HttpPeer, circuit_breaker
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.common.web import HttpServer, json_body
from chaoslab.services.common.web import create_app as create_http_app
from chaoslab.services.payment.charges import Charges
from chaoslab.services.payment.gateway_client import GatewayClient
from chaoslab.services.payment.ledger import Ledger, entry_json
from chaoslab.services.payment.validation import ChargeRequest
from chaoslab.settings import Common, Payment, load

NAME = "payment"


def create_app(settings: Payment | None = None, common: Common | None = None, agent: FaultAgent | None = None) -> Flask:
    settings = settings or load(Payment)
    common = common or load(Common)
    agent = agent or FaultAgent(NAME, Flags(NAME, settings, common.team))
    flags = agent.flags
    db = Database.of_service(NAME, settings.db_pool_size, common, agent)
    ledger = Ledger(db)
    peer = HttpPeer(
        "gateway",
        settings.gateway_url,
        lambda: flags.get("gateway_timeout_s"),
        pool_size=settings.handler_threads,
        agent=agent,
    )
    gateway = GatewayClient(
        peer,
        circuit_breaker("gateway", settings.breaker_fail_max, settings.breaker_reset_s),
        lambda: flags.get("gateway_breaker"),
    )
    charges = Charges(ledger, gateway, lambda: flags.get("money_math"))
    health = Health()
    health.ready_check("postgres", lambda: db.check_schema(LATEST))
    app = create_http_app(NAME, health, max_body_bytes=8192, access_log=common.access_log, agent=agent)

    def stop() -> None:
        peer.close()
        db.close()

    app.extensions["chaoslab.stop"] = stop

    @app.post("/payments")
    def pay():
        charged = charges.charge(ChargeRequest.parse(json_body()))
        if charged.replayed:
            return jsonify(entry_json(charged.entry) | {"replayed": True}), 200
        return jsonify(entry_json(charged.entry)), 201

    @app.post("/payments/resolve")
    def resolve():
        """How a charge attempt ended (service-a's recovery asks): the ledger entry, or its status."""
        charge = ChargeRequest.parse(json_body())
        settled = charges.resolve(charge)
        if settled.entry is not None:
            return jsonify(entry_json(settled.entry))
        return jsonify(status=settled.status, order_id=charge.order_id, idempotency_key=charge.key)

    @app.get("/payments/<order_id>")
    def payment(order_id: str):
        entry = ledger.find(text_int(order_id, "order id"))
        if entry is None:
            raise not_found(f"no payment for order {order_id}")
        return jsonify(entry_json(entry))

    return app


def build(runtime: ServiceRuntime) -> HttpServer:
    settings = load(Payment)
    return runtime.serve_http(create_app(settings, runtime.common, runtime.agent(settings)), settings)


def main() -> int:
    return run(NAME, build)
