"""Alertmanager's label matchers, the one way the lab selects alerts by their labels: a team's silences
(chaoslab.incident.silence) and the inhibitions (chaoslab.alerts.definitions.INHIBITIONS).

A matcher is ``[name, operator, value]``: ``=`` equal, ``!=`` not equal, ``=~`` a regular expression
matched whole. A label the alert does not carry reads as empty, as in Alertmanager.
"""

from __future__ import annotations

import re

from chaoslab.errors import BadInput

MATCHER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(=~|!=|=)(.*)$")


def parse(text: str) -> list[str]:
    """``name=value``, ``name!=value`` or ``name=~regex`` as [name, operator, value]; BadInput otherwise."""
    found = MATCHER.match(text.strip())
    if found is None:
        raise BadInput(f"matcher {text!r}: write it as label=value, label!=value or label=~regex")
    name, op, value = found.groups()
    if op == "=~":
        try:
            re.compile(value)
        except re.error as exc:
            raise BadInput(f"matcher {text!r}: not a regular expression ({exc})") from None
    return [name, op, value]


def described(matchers: list[list[str]]) -> str:
    """The matchers as written (``owner=payments alertname=~Pay.*``), or "every alert" for none."""
    return " ".join("".join(m) for m in matchers) or "every alert"


def matches(matchers: list[list[str]], labels: dict[str, str]) -> bool:
    """Whether every matcher holds on ``labels`` (no matcher: every alert)."""
    for name, op, value in matchers:
        have = labels.get(name, "")
        if (op == "=" and have != value) or (op == "!=" and have == value):
            return False
        if op == "=~" and re.fullmatch(value, have) is None:
            return False
    return True
