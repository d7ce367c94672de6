from decimal import Decimal

import pytest

from chaoslab.services.common.money import MoneyError, from_minor_units, parse_amount, to_minor_units


@pytest.mark.parametrize("raw", ["0.29", "12.34", "1", "9999999999.99"])
def test_parse_amount_accepts_decimal_strings(raw):
    assert parse_amount(raw) == Decimal(raw)


@pytest.mark.parametrize(
    "raw,message",
    [
        (12.34, "decimal string"),
        ("abc", "not a decimal"),
        ("0", "greater than 0"),
        ("-1.00", "greater than 0"),
        ("1.234", "more than two decimals"),
        ("NaN", "greater than 0"),
        ("10000000000.00", "at most"),
    ],
)
def test_parse_amount_rejects_with_a_reason(raw, message):
    with pytest.raises(MoneyError, match=message):
        parse_amount(raw)


def test_decimal_minor_units_are_exact():
    for cents in range(1, 100_000, 7):
        amount = from_minor_units(cents)
        assert to_minor_units(amount) == cents


def test_float_money_math_drifts_the_way_the_bad_deploy_promises():
    # The fp-drift scenario depends on this: float truncation loses a cent on ordinary prices.
    assert to_minor_units(Decimal("0.29"), "float") == 28
    assert to_minor_units(Decimal("0.29"), "decimal") == 29
    lost = sum(1 for cents in range(1, 10_000) if to_minor_units(from_minor_units(cents), "float") != cents)
    assert lost > 100
