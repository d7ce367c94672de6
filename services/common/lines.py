"""What an order line is, for every service that reads one (service-a's API, service-b and service-c
over gRPC): a SKU in the catalogue's alphabet and a quantity from 1 to MAX_QUANTITY."""

from __future__ import annotations

import re

SKU_PATTERN = r"[A-Za-z0-9._-]{1,64}"
SKU = re.compile(SKU_PATTERN)
MAX_QUANTITY = 1000
"""Most units of one product in one order."""
MAX_LINES = 1000
"""Most lines any service takes in one message (service-a's own limit, SERVICE_A_MAX_ITEMS, is lower)."""
CURRENCY = re.compile(r"[A-Z]{3}")
TIERS = ("bronze", "silver", "gold")


def line_problem(index: int, sku: str, quantity: int) -> str | None:
    """What is wrong with one line (for a gRPC INVALID_ARGUMENT), or None."""
    if not SKU.fullmatch(sku):
        return f"items[{index}].sku must be 1-64 letters, digits, '.', '_' or '-'"
    if not 1 <= quantity <= MAX_QUANTITY:
        return f"items[{index}].quantity must be between 1 and {MAX_QUANTITY}"
    return None


def order_problem(request) -> str | None:
    """What is wrong with a ReserveRequest or QuoteRequest's order fields and lines, or None."""
    if request.order_id <= 0 or request.customer_id < 0:
        return "order_id must be positive and customer_id not negative"
    if not 1 <= len(request.items) <= MAX_LINES:
        return f"an order needs 1 to {MAX_LINES} items"
    if request.currency and not CURRENCY.fullmatch(request.currency):
        return "currency must be a three-letter ISO code such as USD"
    if request.customer_tier and request.customer_tier not in TIERS:
        return f"customer_tier must be one of {', '.join(TIERS)}"
    for index, item in enumerate(request.items):
        problem = line_problem(index, item.sku, item.quantity)
        if problem:
            return problem
    return None
