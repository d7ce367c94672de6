"""service-a's HTTP API."""

from __future__ import annotations

import uuid

from flask import Flask, jsonify, request

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.db import Database
from chaoslab.services.common.errors import bad_request, not_found
from chaoslab.services.common.flags import Flags
from chaoslab.services.common.grpc_peers import grpc_channel
from chaoslab.services.common.health import Health
from chaoslab.services.common.migrations import LATEST
from chaoslab.services.common.peers import HttpPeer
from chaoslab.services.common.queue import Queue
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.common.web import HttpServer, json_body
from chaoslab.services.common.web import create_app as create_http_app
from chaoslab.services.rpc import ring_pb2_grpc
from chaoslab.services.service_a.checkout import LEASE_S, Checkout
from chaoslab.services.service_a.openapi import document
from chaoslab.services.service_a.outbox import OutboxRelay
from chaoslab.services.service_a.recovery import RESOLVE_TIMEOUT_S, PendingRecovery
from chaoslab.services.service_a.store import OrderStore, order_json
from chaoslab.services.service_a.validation import checkout_request, idempotency_key, parse_sku, positive_int
from chaoslab.settings import Common, ServiceA, load

NAME = "service-a"
MAX_LIST = 100


def create_app(
    settings: ServiceA | None = None, common: Common | None = None, agent: FaultAgent | None = None
) -> Flask:
    """The orders API with its own pool, peers and outbox relay (stopped by ``app.extensions['chaoslab.stop']``)."""
    settings = settings or load(ServiceA)
    common = common or load(Common)
    agent = agent or FaultAgent(NAME, Flags(NAME, settings, common.team))
    flags = agent.flags
    db = Database.of_service(NAME, settings.db_pool_size, common, agent)
    queue = Queue(common.redis_url, common.redis_timeout_s, agent)
    store = OrderStore(db)
    relay = OutboxRelay(db, queue, settings.outbox_poll_interval_s, settings.outbox_redeliver_after_s).start()
    payment = HttpPeer(
        "payment",
        settings.payment_url,
        lambda: flags.get("payment_timeout_s"),
        pool_size=settings.handler_threads,
        agent=agent,
    )
    inventory = ring_pb2_grpc.InventoryStub(grpc_channel("service-b", settings.service_b_addr, agent))
    checkout = Checkout(store, inventory, lambda: flags.get("service_b_timeout_s"), payment, on_paid=relay.nudge)
    recovery = PendingRecovery(
        store,
        HttpPeer("payment", settings.payment_url, RESOLVE_TIMEOUT_S, pool_size=1, agent=agent),
        lambda: flags.get("pending_deadline_s"),
        LEASE_S,
        on_paid=relay.nudge,
    ).start()

    health = Health()
    health.ready_check("postgres", lambda: db.check_schema(LATEST))
    # Redis down delays fulfilment but checkouts go on (the outbox holds the events): degraded, not unready.
    health.ready_check("redis", queue.ping, critical=False)
    health.live_check("outbox-relay", relay.alive)
    health.live_check("pending-recovery", recovery.alive)
    app = create_http_app(
        NAME, health, max_body_bytes=settings.max_body_bytes, access_log=common.access_log, agent=agent
    )

    @app.post("/checkout")
    def post_checkout():
        key = idempotency_key(request.headers.get("Idempotency-Key"))
        checkout_req = checkout_request(json_body(), settings.max_items)
        order, items, replayed = checkout.run(checkout_req, key or f"auto-{uuid.uuid4()}")
        response = jsonify(order_json(order, items))
        response.status_code = 200 if replayed else 201
        response.headers["Location"] = f"/orders/{order['id']}"
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    @app.get("/orders/<order_id>")
    def get_order(order_id: str):
        found = store.order(positive_int(order_id, "order id"))
        if found is None:
            raise not_found(f"no order {order_id}")
        return jsonify(order_json(*found))

    @app.get("/orders")
    def list_orders():
        if "customer" not in request.args:
            raise bad_request("query parameter customer is required, e.g. /orders?customer=1")
        customer_id = positive_int(request.args["customer"], "customer")
        limit = positive_int(request.args.get("limit", "20"), "limit", MAX_LIST)
        load_orders = store.orders_n_plus_one if flags.get("orders_query") == "n_plus_one" else store.orders_batched
        return jsonify(orders=[order_json(o, items) for o, items in load_orders(customer_id, limit)])

    @app.get("/customers/<customer_id>")
    def get_customer(customer_id: str):
        customer = store.customer(positive_int(customer_id, "customer id"))
        if customer is None:
            raise not_found(f"no customer {customer_id}")
        return jsonify(customer)

    spec = document(settings.max_items, MAX_LIST)

    @app.get("/openapi.json")
    def openapi():
        return jsonify(spec)

    @app.get("/products")
    def list_products():
        return jsonify(
            products=[
                {**p, "unit_price": str(p["unit_price"]), "currency": p["currency"].strip()} for p in store.products()
            ]
        )

    @app.get("/products/<sku>")
    def get_product(sku: str):
        product = store.product(parse_sku(sku))
        if product is None:
            raise not_found(f"no product {sku}; GET /products lists the catalogue")
        return jsonify({**product, "unit_price": str(product["unit_price"]), "currency": product["currency"].strip()})

    def stop() -> None:
        recovery.stop()
        recovery.payment.close()
        relay.stop()
        payment.close()
        queue.close()
        db.close()

    app.extensions["chaoslab.stop"] = stop
    return app


def build(runtime: ServiceRuntime) -> HttpServer:
    settings = load(ServiceA)
    return runtime.serve_http(create_app(settings, runtime.common, runtime.agent(settings)), settings)


def main() -> int:
    return run(NAME, build)
