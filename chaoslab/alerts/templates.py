"""Alert summaries and descriptions: the few Prometheus template forms the rules use, rendered alike.

An annotation is Prometheus template text; the lab daemon renders the same text, so a summary reads
the same in Prometheus and in ``chaoslab alerts``. Supported actions, and nothing else (``check``
refuses the rest when the definition loads):

    {{ $labels.NAME }}                 a label of the alert's sample
    {{ $value }}                       the sample value, printed like Go prints a float64
    {{ $value | humanize }}            4 significant digits with an SI prefix (1.235k, 12.5m)
    {{ $value | humanizePercentage }}  a ratio as a percentage (0.1234 → 12.34%)
    {{ $value | humanizeDuration }}    seconds as a duration (973.7ms, 1m 5s)
    {{ $value | printf "%.2f" }}       a fixed number of decimals

The humanize functions copy Prometheus' template/template.go.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_LABEL = re.compile(r"^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$")
_VALUE = re.compile(r'^\$value(?:\s*\|\s*(humanize|humanizePercentage|humanizeDuration|printf\s+"%\.(\d)f"))?$')


class TemplateError(ValueError):
    """Template text the lab cannot render the way Prometheus would."""


def check(text: str) -> None:
    """Raise TemplateError naming the first action outside the supported forms."""
    for action in _ACTION.findall(text):
        if not (_LABEL.match(action) or _VALUE.match(action)):
            raise TemplateError(
                f"template action {{{{ {action} }}}} is not supported; use $labels.NAME or $value "
                'with humanize, humanizePercentage, humanizeDuration or printf "%.Nf"'
            )


def render(text: str, labels: dict[str, str], value: float) -> str:
    """The text with every action replaced, as Prometheus would expand it."""

    def replace(match: re.Match) -> str:
        action = match.group(1)
        label = _LABEL.match(action)
        if label:
            return labels.get(label.group(1), "")
        found = _VALUE.match(action)
        if found is None:
            raise TemplateError(f"unsupported template action {action!r}")
        how, decimals = found.group(1), found.group(2)
        if how is None:
            return go_float(value)
        if how == "humanize":
            return humanize(value)
        if how == "humanizePercentage":
            return _g4(value * 100) + "%"
        if how == "humanizeDuration":
            return humanize_duration(value)
        return f"{value:.{decimals}f}"

    return _ACTION.sub(replace, text)


def _g4(value: float) -> str:
    """Go's %.4g (Python's matches it for finite numbers; Go spells the others NaN, +Inf, -Inf)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def go_float(value: float) -> str:
    """A float64 as Go's fmt prints it with %v: the shortest exact digits, in exponent form below 1e-4
    and from 1e6 on (strconv's 'g' with the shortest precision switches at exponent 6)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + exponent  # digits before the decimal point
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    if abs(value) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix = p
            value /= 1000
        return _g4(value) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return _g4(value) + prefix


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    if value == 0:
        return _g4(value) + "s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole = int(value)
        seconds, minutes, hours, days = whole % 60, whole // 60 % 60, whole // 3600 % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(value)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return f"{_g4(value)}{prefix}s"
