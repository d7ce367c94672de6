"""Turns request input into typed values, or a 400 that names the bad field and the allowed range.

The type rules themselves (JSON integers in bodies, ASCII digits in paths and queries, strict JSON)
live in ``chaoslab.inputs`` and raise ``InputError``, which every service answers with a 400.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from chaoslab.inputs import BIGINT_MAX, InputError, idempotency_key, json_int, text_int
from chaoslab.services.common.lines import MAX_QUANTITY, SKU, SKU_PATTERN

__all__ = [
    "BIGINT_MAX",
    "SKU_PATTERN",
    "CheckoutRequest",
    "checkout_request",
    "idempotency_key",
    "parse_sku",
    "positive_int",
]

_CHECKOUT_FIELDS = {"customer_id", "items"}
_ITEM_FIELDS = {"sku", "quantity"}


@dataclass(frozen=True)
class CheckoutRequest:
    customer_id: int
    items: tuple[tuple[str, int], ...]
    """(sku, quantity), one per sku, in first-seen order."""

    def fingerprint(self) -> str:
        """Same body → same hash, so a reused Idempotency-Key with a different body is caught."""
        canonical = json.dumps({"customer_id": self.customer_id, "items": sorted(self.items)})
        return hashlib.sha256(canonical.encode()).hexdigest()


def positive_int(raw: str, field: str, maximum: int = BIGINT_MAX) -> int:
    """A positive integer from a path segment or a query parameter (ASCII digits only)."""
    return text_int(raw, field, 1, maximum)


def parse_sku(raw: object, field: str = "sku") -> str:
    """A product code: 1-64 letters, digits, '.', '_' or '-' (the catalogue's own alphabet)."""
    if not isinstance(raw, str) or not SKU.fullmatch(raw):
        raise InputError(f"{field} must be 1-64 letters, digits, '.', '_' or '-'")
    return raw


def _unknown(body: dict, allowed: set[str], where: str, what: str) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise InputError(f"unknown field {where}{extra[0][:64]!r}; {what} has only {' and '.join(sorted(allowed))}")


def checkout_request(body: dict, max_items: int) -> CheckoutRequest:
    _unknown(body, _CHECKOUT_FIELDS, "", "a checkout")
    customer_id = json_int(body.get("customer_id"), "customer_id")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise InputError('items must be a non-empty list of {"sku": ..., "quantity": ...}')
    if len(items) > max_items:
        raise InputError(f"at most {max_items} items per checkout, got {len(items)}")
    merged: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"items[{index}] must be an object with sku and quantity")
        _unknown(item, _ITEM_FIELDS, f"items[{index}].", "an item")
        code = parse_sku(item.get("sku"), f"items[{index}].sku")
        quantity = json_int(item.get("quantity"), f"items[{index}].quantity", 1, MAX_QUANTITY)
        merged[code] = merged.get(code, 0) + quantity
        if merged[code] > MAX_QUANTITY:
            raise InputError(f"quantity of {code} must total at most {MAX_QUANTITY}")
    return CheckoutRequest(customer_id, tuple(merged.items()))
