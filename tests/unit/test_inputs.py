"""The one parser every HTTP API of the lab reads JSON bodies with (chaoslab/inputs.py)."""

import json

import pytest

from chaoslab.inputs import MAX_DEPTH, InputError, json_int, parse_json, text_int


@pytest.mark.parametrize(
    "body,message",
    [
        ("[" * 1000 + "]" * 1000, f"nested more than {MAX_DEPTH} levels deep"),
        ('{"a":' * 1000 + "1" + "}" * 1000, "nested more than"),
        ('{"customer_id": 1, "customer_id": 2}', "duplicate key 'customer_id'"),
        ('{"items": [{"sku": "A", "sku": "B"}]}', "duplicate key 'sku'"),
        ('{"amount": NaN}', "NaN is not a JSON number"),
        ('{"amount": -Infinity}', "-Infinity is not a JSON number"),
        ('{"amount": 1e999}', "too large for a number"),
        ("{bad json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8 JSON"),
    ],
)
def test_hostile_bodies_are_refused_with_one_line(body, message):
    with pytest.raises(InputError, match=message) as caught:
        parse_json(body)
    assert "\n" not in str(caught.value)


def test_depth_is_counted_outside_strings_only():
    inside_a_string = json.dumps({"note": "[" * 500 + "{" * 500})
    assert parse_json(inside_a_string)["note"].startswith("[[[")
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(nested) == json.loads(nested)
    escaped_quote = r'{"a": "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}'
    assert parse_json(escaped_quote)["a"].startswith('"[[')


def test_json_integers_are_json_integers():
    assert json_int(7, "n") == 7
    for bad in ("7", 7.0, True, None, [7], {"n": 7}, 0, -1, 2**63):
        with pytest.raises(InputError, match="n must be a positive integer"):
            json_int(bad, "n")
    with pytest.raises(InputError, match="between 1 and 10"):
        json_int(11, "n", 1, 10)


@pytest.mark.parametrize("raw", ["²", "①", "１", "٣", "߁", "𝟙"])
def test_unicode_digits_are_not_ascii_digits(raw):
    assert raw.isdigit() or raw.isnumeric()  # what the old check trusted
    with pytest.raises(InputError):
        text_int(raw, "n")
