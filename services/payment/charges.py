"""The money path: charge an order once through the gateway, record it in the ledger, settle attempts.

A charge attempt is named by its key (``order-<id>-<n>``, written on the order by service-a before it
asks), and the gateway and the ledger both honour it: a retry under the same key is answered from
the ledger or by the gateway's first answer, so an order is charged once however often it is asked.
An attempt whose answer never came is settled by ``resolve``: the ledger's entry if there is one, the
charge the gateway captured (recorded now), or a void, after which neither the gateway nor the
ledger accepts that key again, so a charge still on its way can never land on a failed order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import requests
from prometheus_client import Counter, Gauge

from chaoslab.services.common.errors import ApiError, upstream_failed
from chaoslab.services.common.money import from_minor_units, to_minor_units
from chaoslab.services.payment.gateway_client import GatewayClient
from chaoslab.services.payment.ledger import Ledger
from chaoslab.services.payment.validation import ChargeRequest
from chaoslab.telemetry import names

log = logging.getLogger("chaoslab.payment")
PROCESSED = Counter(
    names.PAYMENT_PROCESSED_TOTAL, "Charge attempts by outcome: succeeded, declined or failed.", ["status"]
)
LEDGER_AMOUNT = Counter(names.LEDGER_AMOUNT_TOTAL, "Money written to the ledger (captured amounts).", ["currency"])
LEDGER_ENTRIES = Counter(names.LEDGER_ENTRIES_TOTAL, "Ledger entries written (one per charged order).")
LEDGER_MISCHARGED = Counter(
    names.LEDGER_MISCHARGED_TOTAL,
    "Ledger entries whose captured amount differs from the amount requested (the customers charged wrong).",
)
LEDGER_DRIFT = Gauge(
    names.LEDGER_DRIFT,
    "Requested minus captured money since start; not 0 means the money math is wrong.",
    ["currency"],
)
RESOLVED = Counter(
    names.PAYMENT_RESOLUTIONS_TOTAL,
    "Charge attempts resolved on request (service-a's recovery), by outcome: succeeded, declined or voided.",
    ["outcome"],
)


@dataclass(frozen=True)
class Charged:
    """The order's ledger entry; ``replayed`` when an earlier request had already recorded it."""

    entry: dict
    replayed: bool


@dataclass(frozen=True)
class Settlement:
    """How an attempt ended: ``succeeded`` (with its ledger entry), ``declined`` or ``voided``."""

    status: str
    entry: dict | None = None


class Charges:
    def __init__(self, ledger: Ledger, gateway: GatewayClient, money_math: Callable[[], str]):
        """``money_math`` is read per charge, so a deploy (or the float bad deploy) changes it live."""
        self.ledger = ledger
        self.gateway = gateway
        self.money_math = money_math

    def charge(self, charge: ChargeRequest) -> Charged:
        """Charge the order under the attempt's key, or return the entry an earlier attempt recorded.

        Raises ApiError: 402 when the card is declined, 409 ``charge_voided`` for a key a resolution
        closed, 409 ``charge_in_progress`` while the gateway holds the key for another request (or for
        a different amount), 502/503/504 when the gateway fails, is cut off by the breaker or is slow.
        """
        existing, voided = self.ledger.lookup(charge)
        if existing is not None:
            return Charged(existing, replayed=True)
        if voided:
            raise _voided(charge)
        money_math = self.money_math()
        try:
            response = self.gateway.post(
                "/v1/charges",
                charge.key,
                charge.order_id,
                {
                    "amount_minor": to_minor_units(charge.amount, money_math),
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
                raise _voided(charge)
            raise _in_progress(charge, response)
        if response.status_code not in (200, 201):
            PROCESSED.labels("failed").inc()
            raise upstream_failed("gateway", f"gateway answered {response.status_code} for order {charge.order_id}")
        entry, created = self._record(charge, response.json(), money_math)
        if created:
            PROCESSED.labels("succeeded").inc()
        return Charged(entry, replayed=not created)

    def resolve(self, charge: ChargeRequest) -> Settlement:
        """Decide now how the attempt ended; asking again gives the same answer. An attempt the ledger
        does not know is settled at the gateway: its captured charge is recorded now, anything else
        closes the key for good. Raises ApiError 409 ``charge_in_progress`` while the attempt is still
        at the gateway (ask again later), and 502/503/504 when the gateway cannot be asked."""
        existing, voided = self.ledger.lookup(charge)
        if existing is not None:
            RESOLVED.labels("succeeded").inc()
            return Settlement("succeeded", existing)
        if voided:
            RESOLVED.labels("voided").inc()
            return Settlement("voided")
        response = self.gateway.post("/v1/charges/void", charge.key, charge.order_id)
        if response.status_code == 409:
            raise _in_progress(charge, response)
        if response.status_code != 200:
            raise upstream_failed("gateway", f"gateway answered {response.status_code} to a void")
        outcome = response.json()
        if outcome["status"] == "succeeded":
            entry, _ = self._record(charge, outcome, _money_math_of(charge.amount, outcome["amount_minor"]))
            RESOLVED.labels("succeeded").inc()
            log.warning("order %d: recovered a captured charge payment had not recorded", charge.order_id)
            return Settlement("succeeded", entry)
        self.ledger.void(charge.key, charge.order_id)
        RESOLVED.labels(outcome["status"]).inc()
        return Settlement(outcome["status"])

    def _record(self, charge: ChargeRequest, captured_charge: dict, money_math: str) -> tuple[dict, bool]:
        """Write the gateway's captured charge to the ledger, counted once: only the write that
        created the entry moves the ledger's metrics, so a duplicate never counts money twice."""
        captured = from_minor_units(captured_charge["amount_minor"])
        entry, created = self.ledger.record(charge, captured_charge["id"], captured, money_math)
        if created:
            LEDGER_ENTRIES.inc()
            LEDGER_AMOUNT.labels(charge.currency).inc(float(captured))
            LEDGER_DRIFT.labels(charge.currency).inc(float(charge.amount - captured))
            if captured != charge.amount:
                LEDGER_MISCHARGED.inc()
        return entry, created


def _voided(charge: ChargeRequest) -> ApiError:
    return ApiError(
        409,
        "charge_voided",
        f"charge attempt {charge.key} of order {charge.order_id} was resolved as not charged and is closed; "
        "a new attempt needs a new key",
        order_id=charge.order_id,
    )


def _in_progress(charge: ChargeRequest, response: requests.Response) -> ApiError:
    detail = response.json().get("message", "conflict") if response.content else "conflict"
    return ApiError(409, "charge_in_progress", f"order {charge.order_id}: {detail}; ask again in a moment")


def _money_math_of(requested: Decimal, captured_minor: int) -> str:
    """Which money math turned ``requested`` into the gateway's minor units (for a charge recorded late)."""
    for math in ("decimal", "float"):
        if to_minor_units(requested, math) == captured_minor:
            return math
    return "unknown"
