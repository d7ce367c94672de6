"""What a trainee may read: text from the journals passes through ``redact`` before a trainee sees it.

The change feed is the trainee's (a team sees its deploys), but the controller writes a fault's kind
into the note of the deploy a fault makes ("config change (deadlock)"), and a fix's note names the
scenario. Mystery mode hides the scenario from trainees entirely, so no trainee-visible
string may name a fault kind or a scenario id: those words are replaced by an ellipsis.
"""

from __future__ import annotations

import functools
import re

HIDDEN = "…"


@functools.cache
def secret_words() -> frozenset[str]:
    """Every fault kind and every scenario id of the catalogue."""
    from chaoslab.chaos.faults import KINDS
    from chaoslab.chaos.scenarios import ids

    return frozenset(KINDS) | frozenset(ids())


@functools.cache
def _pattern() -> re.Pattern:
    words = sorted(secret_words(), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, words)) + r")(?![\w-])", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every fault kind and scenario id replaced by an ellipsis."""
    return _pattern().sub(HIDDEN, text)
