"""What payment accepts: a charge attempt as service-a sends it, or a 400 that names the bad field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from chaoslab.inputs import idempotency_key, json_int
from chaoslab.services.common.errors import bad_request
from chaoslab.services.common.money import MoneyError, parse_amount

_CURRENCY = re.compile(r"[A-Z]{3}")
_CHARGE_FIELDS = {"order_id", "customer_id", "amount", "currency", "idempotency_key"}


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
