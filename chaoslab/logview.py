"""Reads the lab's log files: the last lines, optionally following, and JSON lines made readable.

Every field of a readable line is escaped (``chaoslab.escape``): a request path with ``%0a`` is
logged decoded, and printed raw it forged a whole log line. A traceback keeps its lines, each
indented, so none of them can pass for a log line either.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from chaoslab.escape import printable

_SKIP = {"ts", "level", "service", "team", "logger", "msg", "trace_id", "span_id", "exc"}


def follow_lines(path: Path, last: int, follow: bool) -> Iterator[str]:
    with open(path, errors="replace") as handle:
        for line in deque(handle, maxlen=last) if last else ():
            yield line.rstrip("\n")
        if last == 0:
            handle.seek(0, 2)
        while follow:
            line = handle.readline()
            if line:
                yield line.rstrip("\n")
            else:
                time.sleep(0.2)  # tail -f: nothing to synchronise with, just a polite poll interval


def pretty(line: str) -> str:
    """``12:00:01.123 INFO  msg  key=value … trace=…`` for a JSON log line; anything else unchanged."""
    try:
        doc = json.loads(line)
    except ValueError:
        return printable(line)
    if not isinstance(doc, dict) or "msg" not in doc:
        return printable(line)
    clock = printable(str(doc.get("ts", ""))[11:23])
    extras = " ".join(f"{printable(k)}={printable(v)}" for k, v in doc.items() if k not in _SKIP)
    trace = f" trace={printable(doc['trace_id'])}" if "trace_id" in doc else ""
    text = (
        f"{clock} {printable(doc.get('level', '')):<7} {printable(doc['msg'])}"
        + (f"  {extras}" if extras else "")
        + trace
    )
    if "exc" in doc:
        text += "".join(f"\n    {printable(exc_line)}" for exc_line in str(doc["exc"]).splitlines())
    return text
