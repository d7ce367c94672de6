"""The two kinds of failure a user acts on, and the exit code each means.

Every error the CLI can show derives from one of these, so ``chaoslab.cli``
maps errors to exit codes in exactly one place: ``BadInput`` (an unknown
name, a bad option or value, a malformed file) exits 2; ``Refused`` (the lab
is not in the state asked for: not running, not ready, an operation refused
or impossible) exits 1. The message is one line that says what is wrong and
how to fix it.
"""

from __future__ import annotations


class ChaoslabError(Exception):
    """Something the user must act on; the message says what and how."""

    exit_code = 1


class BadInput(ChaoslabError, ValueError):
    """The request itself is wrong: fix the input and try again (exit 2)."""

    exit_code = 2


class Refused(ChaoslabError, RuntimeError):
    """The request is fine but the lab cannot do it now (exit 1)."""

    exit_code = 1
