"""Money is ``Decimal`` in code, ``NUMERIC(12,2)`` in PostgreSQL and a string on the wire.

``to_minor_units`` has a second, wrong implementation on purpose: the
``float`` path is the bad deploy of the fp-drift scenario.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # NUMERIC(12,2)


class MoneyError(ValueError):
    pass


def parse_amount(raw: object, field: str = "amount") -> Decimal:
    """A positive amount with at most two decimals, from a string (floats are refused: they are inexact)."""
    if not isinstance(raw, str):
        raise MoneyError(f'{field} must be a decimal string such as "12.34", not {type(raw).__name__}')
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise MoneyError(f"{field} {raw!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise MoneyError(f"{field} must be greater than 0")
    if value != value.quantize(CENT):
        raise MoneyError(f"{field} {raw!r} has more than two decimals")
    if value > MAX_AMOUNT:
        raise MoneyError(f"{field} must be at most {MAX_AMOUNT}")
    return value


def quantize(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def to_minor_units(amount: Decimal, math: str = "decimal") -> int:
    """Cents for the gateway. ``math="float"`` truncates binary floats and loses cents (0.29 → 28)."""
    if math == "float":
        return int(float(amount) * 100)
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_minor_units(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(CENT)
