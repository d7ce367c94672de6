"""service-a's order history: the batched query and the N+1 bad deploy, counted statement by statement."""

from __future__ import annotations

import psycopg
import pytest
import requests
from prometheus_client import REGISTRY

from chaoslab.services import service_a
from chaoslab.settings import Common, ServiceA, load
from chaoslab.wsgi import HttpServer

CUSTOMER = 31
ORDERS = 6
LINES = 3


@pytest.fixture(scope="module")
def history(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        for n in range(ORDERS):
            order_id = conn.execute(
                """INSERT INTO shop.orders (customer_id, idempotency_key, request_hash, status)
                                       VALUES (%s, %s, 'x', 'paid') RETURNING id""",
                (CUSTOMER, f"history-{n}"),
            ).fetchone()[0]
            for line in range(1, LINES + 1):
                conn.execute(
                    """INSERT INTO shop.order_items (order_id, line_no, sku, quantity, unit_price)
                                VALUES (%s, %s, %s, 1, 1.00)""",
                    (order_id, line, f"SKU-100{line}"),
                )


def statements() -> float:
    """PostgreSQL statements run by GET /orders requests so far (the per-request histogram: the relay
    and recovery loops in the same process talk to PostgreSQL too, and must not count)."""
    return REGISTRY.get_sample_value("http_server_db_statements_sum", {"route": "/orders"}) or 0.0


@pytest.mark.parametrize("mode,expected", [("batched", 2), ("n_plus_one", 1 + ORDERS + ORDERS * LINES)])
def test_listing_costs_what_the_query_mode_says(postgres_url, redis_url, history, mode, expected):
    app = service_a.create_app(
        load(ServiceA, {}, orders_query=mode),
        load(Common, {}, database_url=postgres_url, redis_url=redis_url, access_log=False),
    )
    server = HttpServer(app, "127.0.0.1", 0, 4, "service-a").start()
    try:
        requests.get(f"{server.url}/orders", params={"customer": CUSTOMER}, timeout=10).raise_for_status()  # warm
        before = statements()
        response = requests.get(f"{server.url}/orders", params={"customer": CUSTOMER}, timeout=10)
        used = statements() - before
    finally:
        server.stop()
        app.extensions["chaoslab.stop"]()
    orders = response.json()["orders"]
    assert len(orders) == ORDERS and all(len(o["items"]) == LINES for o in orders)
    assert orders[0]["items"][0]["name"] == "Chaos Monkey plush"
    assert used == expected
