"""A client of the shop's public API for humans and smoke tests: place one order and follow it.

``chaoslab checkout`` and ``chaoslab smoke`` (what ``helm test`` runs) both use it.
"""

from __future__ import annotations

import time
import uuid

import requests

from chaoslab.errors import Refused

# Answers a starting lab gives before service-a itself answers: 404 from whatever stands in front of a
# Service with no route yet (an ingress, a proxy), 409 while the same key is still in flight, 429 when
# shed. Every other 4xx is a refusal of this order and is final.
RETRIED = (404, 409, 429)


def place_order(
    url: str, customer_id: int, sku: str, quantity: int, wait_fulfilled: bool = False, timeout_s: float = 30
) -> dict:
    """POST /checkout (retried with the same Idempotency-Key until ``timeout_s``, as a careful client
    would while the lab starts), then, with ``wait_fulfilled``, GET the order until the worker has
    fulfilled it. Returns {"order": ..., "trace_id": ...}; raises Refused saying what went wrong."""
    key = f"cli-{uuid.uuid4()}"
    deadline = time.monotonic() + timeout_s
    body = {"customer_id": customer_id, "items": [{"sku": sku, "quantity": quantity}]}
    last = ""
    while True:
        try:
            response = requests.post(f"{url}/checkout", json=body, headers={"Idempotency-Key": key}, timeout=10)
            if response.status_code in (200, 201):
                break
            last = f"checkout answered {response.status_code}: {response.text[:200]}"
            if 400 <= response.status_code < 500 and response.status_code not in RETRIED:
                raise Refused(last)
        except requests.RequestException as exc:
            last = f"{url} did not answer: {exc}"
        if time.monotonic() > deadline:
            raise Refused(f"no successful checkout within {timeout_s:g}s; last: {last}")
        time.sleep(1)  # a dependency is starting or down: the same key again, never a second order
    order = response.json()
    trace_id = response.headers.get("X-Trace-Id", "")
    last = ""
    while wait_fulfilled and order.get("status") != "fulfilled":
        if time.monotonic() > deadline:
            said = f"order {order['id']} is {order.get('status')}, not fulfilled, after {timeout_s:g}s"
            raise Refused(said + (f"; last: {last}" if last else ""))
        time.sleep(0.5)  # the worker fulfils asynchronously; look again
        try:
            looked = requests.get(f"{url}/orders/{order['id']}", timeout=10)
            if looked.status_code == 200:
                order = looked.json()
            else:  # a dependency starting or down: the order as last seen, and the answer for the message
                last = f"GET /orders/{order['id']} answered {looked.status_code}: {looked.text[:200]}"
        except (requests.RequestException, ValueError) as exc:
            last = str(exc)
    return {"order": order, "trace_id": trace_id}
