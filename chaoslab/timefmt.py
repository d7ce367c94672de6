"""How the CLI writes times: a length (``4m05s`` under an hour, ``1h02m`` from an hour on) and a
moment of today (``14:05:09``, local time)."""

from __future__ import annotations

import time


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))
