"""Append-only JSON-lines journals: the audit log (who did what, where, when, when it was undone
and why) and the change feed (what was deployed, when, to which service, which version).

Appends take an exclusive lock, so two CLI calls at once cannot interleave a line.
"""
from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path


class Journal:
    def __init__(self, path: Path):
        self.path = path

    def append(self, event: str, **fields) -> dict:
        entry = {"ts": round(time.time(), 3), "event": event, **fields}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(json.dumps(entry, default=str) + "\n")
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
        return entry

    def entries(self, since_ts: float = 0.0) -> list[dict]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line from a crash mid-write is skipped, never fatal
            if entry.get("ts", 0) >= since_ts:
                found.append(entry)
        return found


class AuditLog(Journal):
    """``fault.started`` / ``fault.reverted`` pairs (and scenario and deploy events).

    Agents drop expired faults without telling anyone, so before the log is read
    ``settle`` writes the missing ``fault.reverted reason=ttl`` lines, dated at each
    fault's expiry, the moment its agent dropped it.
    """

    def settle(self, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        open_faults: dict[str, dict] = {}
        for entry in self.entries():
            if entry["event"] == "fault.started":
                open_faults[entry["fault_id"]] = entry
            elif entry["event"] == "fault.reverted":
                open_faults.pop(entry["fault_id"], None)
        written = []
        for fault_id, started in sorted(open_faults.items(), key=lambda kv: kv[1]["expires_at"]):
            if started["expires_at"] <= now:
                written.append(self.append("fault.reverted", fault_id=fault_id, reason="ttl",
                                           reverted_at=started["expires_at"], actor="agent",
                                           service=started.get("service"), kind=started.get("kind")))
        return written

    def open_faults(self) -> dict[str, dict]:
        """Faults started and not yet reverted, by id (after settle(), these are all still alive)."""
        found: dict[str, dict] = {}
        for entry in self.entries():
            if entry["event"] == "fault.started":
                found[entry["fault_id"]] = entry
            elif entry["event"] == "fault.reverted":
                found.pop(entry["fault_id"], None)
        return found


def parse_since(text: str) -> float:
    """``4h``, ``30m``, ``90s``, ``2d`` → seconds; raises ValueError with the accepted forms."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if len(text) >= 2 and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1]) * units[text[-1]]
    raise ValueError(f"--since {text!r}: use a number and a unit, e.g. 90s, 30m, 4h, 2d")
