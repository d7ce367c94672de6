import pytest

from chaoslab.inputs import InputError
from chaoslab.services.service_a.validation import checkout_request, idempotency_key, parse_sku, positive_int


def test_items_are_merged_per_sku_and_fingerprint_ignores_order():
    a = checkout_request(
        {
            "customer_id": 1,
            "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}, {"sku": "A", "quantity": 3}],
        },
        50,
    )
    assert a.items == (("A", 4), ("B", 2))
    b = checkout_request({"customer_id": 1, "items": [{"sku": "B", "quantity": 2}, {"sku": "A", "quantity": 4}]}, 50)
    assert a.fingerprint() == b.fingerprint()
    c = checkout_request({"customer_id": 2, "items": [{"sku": "B", "quantity": 2}, {"sku": "A", "quantity": 4}]}, 50)
    assert c.fingerprint() != a.fingerprint()


ITEM = [{"sku": "A", "quantity": 1}]


@pytest.mark.parametrize(
    "body,message",
    [
        ({}, "customer_id must be a positive integer"),
        ({"customer_id": True, "items": ITEM}, "customer_id"),
        # one type rule for every integer field of a body: a JSON integer, never a string
        ({"customer_id": "2", "items": ITEM}, r"customer_id must be a positive integer \(a JSON number, not a"),
        ({"customer_id": "²", "items": ITEM}, "customer_id must be a positive integer"),
        ({"customer_id": 1.0, "items": ITEM}, "customer_id must be a positive integer"),
        ({"customer_id": 2**63, "items": ITEM}, "customer_id must be a positive integer"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": "2"}]}, r"items\[0\].quantity .*not a string"),
        ({"customer_id": 1}, "items must be a non-empty list"),
        ({"customer_id": 1, "items": []}, "items must be a non-empty list"),
        ({"customer_id": 1, "items": ["SKU-1"]}, r"items\[0\] must be an object"),
        ({"customer_id": 1, "items": [{"sku": "", "quantity": 1}]}, r"items\[0\].sku"),
        ({"customer_id": 1, "items": [{"sku": "a b", "quantity": 1}]}, r"items\[0\].sku"),
        ({"customer_id": 1, "items": [{"sku": "S" * 65, "quantity": 1}]}, r"items\[0\].sku must be 1-64"),
        ({"customer_id": 1, "items": [{"sku": "SKU-1\n", "quantity": 1}]}, r"items\[0\].sku"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": 0}]}, r"items\[0\].quantity"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": -2}]}, r"items\[0\].quantity"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": 1.5}]}, r"items\[0\].quantity"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": 600}, {"sku": "A", "quantity": 600}]}, "at most 1000"),
        ({"customer_id": 1, "items": [{"sku": f"S{i}", "quantity": 1} for i in range(51)]}, "at most 50 items"),
        ({"customer_id": 1, "items": ITEM, "coupon": "FREE"}, "unknown field 'coupon'; a checkout has only"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": 1, "price": "0.01"}]}, r"unknown field items\[0\]"),
    ],
)
def test_bad_checkouts_are_400_with_the_field_named(body, message):
    with pytest.raises(InputError, match=message):
        checkout_request(body, 50)


def test_idempotency_key_rules():
    assert idempotency_key(None) is None
    assert idempotency_key("order-123_abc") == "order-123_abc"
    for bad in ("", "has space", "x" * 256, "é", "a\nb", "a\x00b"):
        with pytest.raises(InputError):
            idempotency_key(bad)


@pytest.mark.parametrize(
    "bad", ["0", "-1", "abc", "1.0", " 1", "1 ", "+1", "²", "①", "１２", "٣", "1" * 20, "99999999999999999999"]
)
def test_path_and_query_integers_are_ascii_digits_only(bad):
    """``"²".isdigit()`` is true and ``int("٣")`` is 3: both passed the old check."""
    with pytest.raises(InputError, match="id must be a positive integer written with the digits 0-9"):
        positive_int(bad, "id")


def test_positive_int_accepts_ascii_digits():
    assert positive_int("42", "id") == 42
    assert positive_int("9223372036854775807", "id") == 2**63 - 1
    with pytest.raises(InputError):
        positive_int("9223372036854775808", "id")
    with pytest.raises(InputError, match="between 1 and 100"):
        positive_int("101", "limit", 100)


def test_a_sku_is_the_catalogues_alphabet():
    assert parse_sku("SKU-1001") == "SKU-1001"
    for bad in ("", "\x00", "S" * 65, "SKU 1", "SKU/1", None, 5):
        with pytest.raises(InputError, match="sku must be 1-64"):
            parse_sku(bad)
