"""Turns request input into typed values, or a 4xx that names the bad field and the allowed range."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from chaoslab.services.common.errors import bad_request

_SKU = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
MAX_QUANTITY = 1000


@dataclass(frozen=True)
class CheckoutRequest:
    customer_id: int
    items: tuple[tuple[str, int], ...]
    """(sku, quantity), one per sku, in first-seen order."""

    def fingerprint(self) -> str:
        """Same body → same hash, so a reused Idempotency-Key with a different body is caught."""
        canonical = json.dumps({"customer_id": self.customer_id, "items": sorted(self.items)})
        return hashlib.sha256(canonical.encode()).hexdigest()


BIGINT_MAX = 2**63 - 1


def positive_int(raw: object, field: str, maximum: int = BIGINT_MAX) -> int:
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 < raw <= maximum:
        allowed = "a positive integer" if maximum == BIGINT_MAX else f"an integer between 1 and {maximum}"
        raise bad_request(f"{field} must be {allowed}")
    return raw


def checkout_request(body: dict, max_items: int) -> CheckoutRequest:
    customer_id = positive_int(body.get("customer_id"), "customer_id")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise bad_request('items must be a non-empty list of {"sku": ..., "quantity": ...}')
    if len(items) > max_items:
        raise bad_request(f"at most {max_items} items per checkout, got {len(items)}")
    merged: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_request(f"items[{index}] must be an object with sku and quantity")
        sku = item.get("sku")
        if not isinstance(sku, str) or not _SKU.match(sku):
            raise bad_request(f"items[{index}].sku must be 1-64 letters, digits, '.', '_' or '-'")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
            raise bad_request(f"items[{index}].quantity must be an integer between 1 and {MAX_QUANTITY}")
        merged[sku] = merged.get(sku, 0) + quantity
        if merged[sku] > MAX_QUANTITY:
            raise bad_request(f"quantity of {sku} must total at most {MAX_QUANTITY}")
    return CheckoutRequest(customer_id, tuple(merged.items()))


def idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not _KEY.match(raw):
        raise bad_request("Idempotency-Key must be 1-255 printable ASCII characters without spaces")
    return raw
