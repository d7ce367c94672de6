"""How the CLI writes times: a length (``4m05s`` under an hour, ``1h02m`` from an hour on) and a
moment of today (``14:05:09``, local time); and how it reads the times Go tools write."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def utc(ts: float) -> str:
    """``ts`` as the RFC 3339 UTC time Go tools and webhook payloads write (``2026-12-05T18:02:00.5Z``)."""
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def rfc3339(text: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as Go writes it (Alertmanager's, Prometheus's), whose
    fraction may have nine digits where Python reads six; None when it is not one."""
    text = str(text).strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)] or '0'}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
