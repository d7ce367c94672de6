"""The shop's client (`chaoslab checkout`, and the smoke `helm test` runs) against a front door that
answers like a lab still starting: a real HTTP server on loopback that stands in for service-a, since
what is tested is how the client takes each answer, not the shop."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify, request

from chaoslab.errors import Refused
from chaoslab.shop import place_order
from chaoslab.wsgi import HttpServer


class StartingFrontDoor:
    """Answers POST /checkout and GET /orders/1 from a script of (status, body) per route; the last
    answer of a script repeats."""

    def __init__(self, checkout: list[tuple[int, dict]], order: list[tuple[int, dict]]):
        self.scripts = {"checkout": checkout, "order": order}
        self.keys: list[str] = []
        app = Flask("starting-front-door")

        @app.post("/checkout")
        def post_checkout():
            self.keys.append(request.headers["Idempotency-Key"])
            return self._next("checkout")

        @app.get("/orders/<int:order_id>")
        def get_order(order_id):
            return self._next("order")

        self.server = HttpServer(app, "127.0.0.1", 0, 2, "front-door").start()

    def _next(self, route: str):
        script = self.scripts[route]
        status, body = script.pop(0) if len(script) > 1 else script[0]
        return jsonify(body), status


PENDING = {"id": 1, "status": "paid", "total": "10.00", "currency": "EUR"}
FULFILLED = {**PENDING, "status": "fulfilled"}
UNAVAILABLE = {"error": "dependency_unavailable", "message": "PostgreSQL unavailable"}


@pytest.fixture
def front_door(request):
    door = StartingFrontDoor(*request.param)
    yield door
    door.server.stop()


@pytest.mark.parametrize(
    "front_door",
    [([(404, {"error": "not_found"}), (503, UNAVAILABLE), (201, PENDING)], [(503, UNAVAILABLE), (200, FULFILLED)])],
    indirect=True,
)
def test_a_starting_lab_is_waited_for_with_one_key_and_a_failed_look_at_the_order_is_looked_again(front_door):
    placed = place_order(front_door.server.url, 1, "SKU-1001", 1, wait_fulfilled=True, timeout_s=20)
    assert placed["order"]["status"] == "fulfilled"
    assert len(front_door.keys) == 3 and len(set(front_door.keys)) == 1, "retried with the same key: one order"


@pytest.mark.parametrize("front_door", [([(422, {"error": "invalid", "message": "no such sku"})], [])], indirect=True)
def test_a_refused_order_is_final(front_door):
    with pytest.raises(Refused, match="checkout answered 422"):
        place_order(front_door.server.url, 1, "SKU-NOPE", 1, timeout_s=20)
    assert len(front_door.keys) == 1


@pytest.mark.parametrize("front_door", [([(201, PENDING)], [(503, UNAVAILABLE)])], indirect=True)
def test_an_order_never_fulfilled_says_what_the_lab_last_answered(front_door):
    with pytest.raises(Refused, match=r"order 1 is paid, not fulfilled, after 2s; last: GET /orders/1 answered 503"):
        place_order(front_door.server.url, 1, "SKU-1001", 1, wait_fulfilled=True, timeout_s=2)
