"""The recovery loop: no order stays ``pending`` for ever, and none is charged without being paid.

A checkout whose payment call failed or timed out leaves its order ``pending`` with the charge
attempt's key recorded (``OrderStore.begin_charge``). Payment may still have charged it: the gateway
captured the money and the answer came too late. After ``SERVICE_A_PENDING_DEADLINE_S`` (a runtime
setting: ``chaoslab deploy service-a pending_deadline_s=10`` changes it live) this loop
asks payment to resolve the attempt by its key (``POST /payments/resolve``): ``paid`` (with its one
fulfilment event, through the outbox) if the money was taken, ``payment_failed`` otherwise. Payment
voids an uncharged key at the gateway first, so a charge still on its way cannot land after the
order was marked failed. An order that was never priced cannot have reached payment and becomes
``payment_failed`` at once; a priced one without a recorded key (placed before migration 0003, or
failed between pricing and its attempt) is asked about under ``order-<id>``, the key payment used
before, since payment answers from its ledger by order first. Each order is resolved under its
lease, so a client retrying the same checkout and the loop never drive it at the same time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from chaoslab.services.common.errors import ApiError, DependencyDown, DependencyTimeout
from chaoslab.services.common.peers import HttpPeer
from chaoslab.services.service_a.store import OrderStore
from chaoslab.telemetry import names
from chaoslab.telemetry.tracing import tracer

log = logging.getLogger("chaoslab.recovery")
RECOVERED = Counter(
    names.ORDERS_RECOVERED_TOTAL,
    "Orders left pending past the deadline and resolved by the recovery loop: paid or payment_failed.",
    ["outcome"],
)
_tracer = tracer("chaoslab.recovery")
BATCH = 50
RESOLVE_TIMEOUT_S = 30.0
"""How long the loop waits for one answer from payment: longer than a checkout would (nobody waits on
it), so a payment whose database is slow still resolves orders, one at a time, instead of timing out."""


class PendingRecovery:
    def __init__(
        self,
        store: OrderStore,
        payment: HttpPeer,
        deadline_s: Callable[[], float],
        lease_s: float,
        on_paid: Callable[[], None] = lambda: None,
    ):
        """``deadline_s`` is read every round, so a deploy changes it live."""
        self.store = store
        self.payment = payment
        self.deadline_s = deadline_s
        self.lease_s = lease_s
        self.on_paid = on_paid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pending-recovery", daemon=True)

    def start(self) -> PendingRecovery:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def alive(self) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("pending-order recovery thread has stopped")

    def _loop(self) -> None:
        while not self._stop.wait(min(5.0, self.deadline_s() / 3)):
            try:
                self.resolve_stale()
            except ApiError as exc:  # PostgreSQL or payment is down: the next round tries again
                log.warning("pending-order recovery waiting: %s", exc.message)
            except Exception:
                log.exception("pending-order recovery error")

    def resolve_stale(self) -> dict[str, int]:
        """Resolve every pending order past the deadline (up to BATCH); returns outcomes counted."""
        outcomes: dict[str, int] = {}
        for order in self.store.stale_pending(self.deadline_s(), BATCH):
            if not self.store.take_lease(order["id"], self.lease_s):
                continue  # a retry of the checkout is driving it right now
            try:
                outcome = self.resolve(order)
            except (DependencyDown, DependencyTimeout):
                raise  # payment or the database is unreachable: stop this round, try the next
            except ApiError as exc:  # payment cannot say yet (a charge in flight): next round
                log.warning("order %d not resolved yet: %s", order["id"], exc.message)
                continue
            finally:
                self.store.release_lease(order["id"])
            if outcome:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def resolve(self, order: dict) -> str | None:
        """``paid`` or ``payment_failed`` (None if someone else settled it first)."""
        with _tracer.start_as_current_span(
            "orders.recover", kind=SpanKind.INTERNAL, attributes={"chaoslab.order_id": order["id"]}
        ):
            if order["total"] is None:  # never priced, so payment was never asked: nothing was charged
                return self._settled(order, self.store.mark_payment_failed(order["id"], None), "payment_failed")
            response = self.payment.call(
                "POST",
                "/payments/resolve",
                "POST /payments/resolve",
                json={
                    "order_id": order["id"],
                    "customer_id": order["customer_id"],
                    "amount": str(order["total"]),
                    "currency": order["currency"].strip(),
                    "idempotency_key": order["charge_key"] or f"order-{order['id']}",
                },
            )
            if response.status_code != 200:
                raise ApiError(response.status_code, "unresolved", f"payment answered {response.status_code}")
            answer = response.json()
            if answer["status"] == "succeeded":
                paid = self.store.mark_paid(order["id"], answer["payment_id"])
                if paid:
                    self.on_paid()
                return self._settled(order, paid, "paid")
            failed = self.store.mark_payment_failed(order["id"], order["charge_key"])
            return self._settled(order, failed, "payment_failed")

    def _settled(self, order: dict, changed: bool, outcome: str) -> str | None:
        if not changed:
            return None
        RECOVERED.labels(outcome).inc()
        log.warning(
            "order %d left pending past %gs: now %s",
            order["id"],
            self.deadline_s(),
            outcome,
            extra={"fields": {"order_id": order["id"], "outcome": outcome}},
        )
        return outcome
