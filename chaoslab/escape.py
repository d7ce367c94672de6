"""Text from data made safe to print: always one line, never a terminal control.

Ids, paths, log fields and messages come from requests, agents and journals. A newline in one forges
a line of output (``%0a`` in a request path became a fake line in ``chaoslab logs``), an escape
sequence drives the terminal, a bidirectional override reorders what is shown. ``printable`` writes
each such character as its Python escape (``\\n``, ``\\x1b``, ``\\u202e``), and a backslash as two, so
an escape cannot be faked either.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\\\\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match) -> str:
    return repr(match.group())[1:-1]


def printable(value: object) -> str:
    """``value`` as one line of plain text (the common case, nothing to escape, costs one search)."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escaped, text) if _UNSAFE.search(text) else text
