"""Untrusted input made typed by one rule per type, or an ``InputError`` whose one-line message names the field.

Every HTTP API of the lab (service-a, payment, the gateway, the fault agents' admin API) reads its
input through here, so a rule holds everywhere or nowhere:

* JSON bodies: at most ``MAX_DEPTH`` levels of nesting, no duplicate keys, no ``NaN``/``Infinity``.
  Python's ``json`` accepts all three; a small body nested 1,000 deep exhausted the recursion limit
  (a 500), and ``{"customer_id": 1, "customer_id": 2}`` silently meant 2.
* Integers: in a JSON body, a JSON integer (``"7"``, ``7.0`` and ``true`` are refused); in a path or a
  query string, ASCII digits only. ``"²".isdigit()`` is true and ``int("٣")`` is 3, so ``str.isdigit``
  and ``int`` alone let superscripts, circled, fullwidth and Arabic-Indic digits through (some as a 500).
* Text that reaches PostgreSQL or a log: no control characters (PostgreSQL refuses NUL in text, and a
  newline in a logged path forges a line).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
"""Deepest JSON nesting any API of the lab accepts; its real bodies use three levels."""
BIGINT_MAX = 2**63 - 1
"""Largest id PostgreSQL's bigint holds."""

_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class InputError(ValueError):
    """Input the API refuses; the message names the field and what it accepts (HTTP 400)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise InputError(f"duplicate key {key!r} in the JSON body; send each field once")
        found[key] = value
    return found


def _no_constants(name: str) -> Any:
    raise InputError(f"{name} is not a JSON number; send a finite number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InputError(f"{text} is too large for a number; send a finite number")
    return value


def _check_depth(text: str) -> None:
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if brackets.count("[") + brackets.count("{") <= MAX_DEPTH:
        return  # cannot nest deeper than it has openings: the common case costs two regex passes
    depth = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        if depth > MAX_DEPTH:
            raise InputError(f"the JSON body is nested more than {MAX_DEPTH} levels deep")


def parse_json(data: bytes | str) -> Any:
    """The JSON document in ``data``; raises InputError for bad JSON, deep nesting, a duplicate key, NaN."""
    try:
        text = data.decode() if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InputError("request body is not valid UTF-8 JSON") from None
    _check_depth(text)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants, parse_float=_finite)
    except InputError:
        raise
    except (ValueError, RecursionError):
        raise InputError("request body is not valid JSON") from None


def _allowed(minimum: int, maximum: int) -> str:
    if minimum == 1 and maximum == BIGINT_MAX:
        return "a positive integer"
    return f"an integer between {minimum} and {maximum}"


def json_int(value: Any, field: str, minimum: int = 1, maximum: int = BIGINT_MAX) -> int:
    """A JSON body's integer field: a JSON integer within bounds, nothing else."""
    if isinstance(value, bool) or not isinstance(value, int):
        hint = " (a JSON number, not a string)" if isinstance(value, str) else ""
        raise InputError(f"{field} must be {_allowed(minimum, maximum)}{hint}")
    if not minimum <= value <= maximum:
        raise InputError(f"{field} must be {_allowed(minimum, maximum)}")
    return value


def text_int(raw: str, field: str, minimum: int = 1, maximum: int = BIGINT_MAX) -> int:
    """A path or query integer: ASCII digits 0-9 only, within bounds."""
    if not isinstance(raw, str) or not _ASCII_DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise InputError(f"{field} must be {_allowed(minimum, maximum)} written with the digits 0-9")
    return int(raw)


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character (NUL, newline, escape ...)."""
    return _CONTROL.search(text) is not None


def idempotency_key(raw: str | None, field: str = "Idempotency-Key") -> str | None:
    """1-255 printable ASCII characters without spaces, or None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not _KEY.fullmatch(raw):
        raise InputError(f"{field} must be 1-255 printable ASCII characters without spaces")
    return raw
