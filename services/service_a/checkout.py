"""The checkout: open the order, reserve and price it (A→B→C), charge it (A→payment→gateway), mark it paid.

Every step is idempotent per order, so a retry with the same Idempotency-Key
resumes a checkout wherever the first attempt stopped and never charges twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
from prometheus_client import Counter

from chaoslab.services.common.errors import ApiError, upstream_failed
from chaoslab.services.common.grpc_peers import grpc_error
from chaoslab.services.common.peers import HttpPeer
from chaoslab.services.rpc import ring_pb2, ring_pb2_grpc
from chaoslab.services.service_a.store import OrderStore
from chaoslab.services.service_a.validation import CheckoutRequest
from chaoslab.telemetry import names

log = logging.getLogger("chaoslab.checkout")
ORDERS_CREATED = Counter(names.ORDERS_CREATED_TOTAL, "Orders created by POST /checkout (retries excluded).")
CHECKOUTS = Counter(names.CHECKOUTS_TOTAL, "Checkouts by outcome: paid, replayed, declined, failed.", ["outcome"])
ORDERS_PAID_AMOUNT = Counter(names.ORDERS_PAID_AMOUNT_TOTAL, "Order totals marked paid.", ["currency"])
LEASE_S = 60.0
"""How long one request may drive a checkout before a retry may take over (a crashed service-a)."""


class Checkout:
    def __init__(
        self,
        store: OrderStore,
        inventory: ring_pb2_grpc.InventoryStub,
        inventory_timeout_s: Callable[[], float],
        payment: HttpPeer,
        on_paid: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self.inventory = inventory
        self.inventory_timeout_s = inventory_timeout_s
        self.payment = payment
        self.on_paid = on_paid

    def run(self, request: CheckoutRequest, key: str) -> tuple[dict, list[dict], bool]:
        """Returns (order, items, replayed). Raises ApiError for every failure a client can see; once
        the order exists, the error carries its ``order_id`` (a 504 included), so a client can look it up.

        ``replayed`` is true only when this request changed nothing: the order was already paid when it
        arrived, or paid by someone else meanwhile. The retry that performs the first successful charge
        is not a replay (``Idempotent-Replayed`` must not say so).
        """
        order, created = self.store.open_order(request, key, LEASE_S)
        if created:
            ORDERS_CREATED.inc()
        if order["status"] in ("paid", "fulfilled"):
            CHECKOUTS.labels("replayed").inc()
            return order, self.store.order_items(order["id"]), True
        if not created and not self.store.take_lease(order["id"], LEASE_S):
            raise ApiError(
                409,
                "checkout_in_progress",
                "a checkout with this Idempotency-Key is in progress; retry in a moment to get its result",
                order_id=order["id"],
            )
        try:
            return self._drive(order)
        except ApiError as exc:
            CHECKOUTS.labels("declined" if exc.status == 402 else "failed").inc()
            exc.details.setdefault("order_id", order["id"])
            raise
        finally:
            self.store.release_lease(order["id"])

    def _drive(self, order: dict) -> tuple[dict, list[dict], bool]:
        items = self.store.order_items(order["id"])
        try:
            reply = self.inventory.Reserve(
                ring_pb2.ReserveRequest(
                    order_id=order["id"],
                    customer_id=order["customer_id"],
                    customer_tier=order["customer_tier"] or "",
                    currency=order["currency"].strip(),
                    items=[
                        ring_pb2.LineItem(sku=i["sku"], quantity=i["quantity"], unit_price=str(i["unit_price"]))
                        for i in items
                    ],
                ),
                timeout=self.inventory_timeout_s() or None,
            )
        except grpc.RpcError as exc:
            raise grpc_error("service-b", exc) from None
        quote = reply.quote
        self.store.save_quote(order["id"], quote, reply.reservation_id)

        charge_key = self.store.begin_charge(order["id"])  # written down before payment is asked
        response = self.payment.call(
            "POST",
            "/payments",
            "POST /payments",
            json={
                "order_id": order["id"],
                "customer_id": order["customer_id"],
                "amount": quote.total,
                "currency": quote.currency,
                "idempotency_key": charge_key,
            },
        )
        if response.status_code == 402:
            self.store.mark_payment_failed(order["id"], charge_key)
            raise ApiError(
                402,
                "payment_declined",
                "the payment was declined; retry with the same Idempotency-Key to try again",
                order_id=order["id"],
            )
        if response.status_code not in (200, 201):
            detail = _message(response)
            if response.status_code == 409 and _error(response) == "charge_voided":
                self.store.mark_payment_failed(order["id"], charge_key)
                raise ApiError(
                    409,
                    "payment_voided",
                    f"order {order['id']} was not charged; retry with the same Idempotency-Key to try again",
                )
            if response.status_code in (409, 503, 504):
                raise ApiError(
                    503 if response.status_code == 409 else response.status_code,
                    "dependency_unavailable",
                    f"payment could not charge order {order['id']} yet: {detail}; retry with the same "
                    "Idempotency-Key (it never charges twice)",
                    dependency="payment",
                )
            raise upstream_failed("payment", f"payment answered {response.status_code}: {detail}")
        paid = self.store.mark_paid(order["id"], response.json()["payment_id"])
        if paid:
            CHECKOUTS.labels("paid").inc()
            ORDERS_PAID_AMOUNT.labels(quote.currency).inc(float(quote.total))
            self.on_paid()
        else:
            CHECKOUTS.labels("replayed").inc()
        return *self.store.order(order["id"]), not paid


def _error(response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


def _message(response) -> str:
    try:
        return response.json().get("message", response.reason)
    except ValueError:
        return response.reason or "no body"
