import pytest

from chaoslab.services.common.errors import ApiError
from chaoslab.services.service_a.validation import checkout_request, idempotency_key, positive_int


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


@pytest.mark.parametrize(
    "body,message",
    [
        ({}, "customer_id must be a positive integer"),
        ({"customer_id": True, "items": []}, "customer_id"),
        ({"customer_id": 1}, "items must be a non-empty list"),
        ({"customer_id": 1, "items": []}, "items must be a non-empty list"),
        ({"customer_id": 1, "items": ["SKU-1"]}, r"items\[0\] must be an object"),
        ({"customer_id": 1, "items": [{"sku": "", "quantity": 1}]}, r"items\[0\].sku"),
        ({"customer_id": 1, "items": [{"sku": "a b", "quantity": 1}]}, r"items\[0\].sku"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": 0}]}, r"items\[0\].quantity"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": -2}]}, r"items\[0\].quantity"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": 1.5}]}, r"items\[0\].quantity"),
        ({"customer_id": 1, "items": [{"sku": "A", "quantity": 600}, {"sku": "A", "quantity": 600}]}, "at most 1000"),
        ({"customer_id": 1, "items": [{"sku": f"S{i}", "quantity": 1} for i in range(51)]}, "at most 50 items"),
    ],
)
def test_bad_checkouts_are_400_with_the_field_named(body, message):
    with pytest.raises(ApiError, match=message) as caught:
        checkout_request(body, 50)
    assert caught.value.status == 400


def test_idempotency_key_rules():
    assert idempotency_key(None) is None
    assert idempotency_key("order-123_abc") == "order-123_abc"
    for bad in ("", "has space", "x" * 256, "é"):
        with pytest.raises(ApiError):
            idempotency_key(bad)


def test_positive_int_accepts_digit_strings_only():
    assert positive_int("42", "id") == 42
    for bad in ("0", "-1", "abc", "1.0", None, 0):
        with pytest.raises(ApiError):
            positive_int(bad, "id")
