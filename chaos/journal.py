"""Where the controller writes down what it did: append-only JSON-lines journals (the audit log:
who did what, where, when, when it was undone and why; the change feed: what was deployed, when, to
which service, which version) and the note of the running scenario.

They live in a ``Store``: files in the local lab's state directory, or a ConfigMap in a team's
namespace on Kubernetes, so everyone working on that team's lab reads the same ones.
"""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path
from typing import Protocol


class Store(Protocol):
    def read(self, key: str) -> str:
        """The text under ``key``; empty when there is none."""

    def append(self, key: str, line: str) -> None:
        """Add one line, atomically with respect to other writers."""

    def write(self, key: str, text: str) -> None: ...

    def delete(self, key: str) -> None: ...


class FileStore:
    """One file per key in a directory; appends hold an exclusive lock so lines never interleave."""

    def __init__(self, directory: Path):
        self.directory = directory

    def read(self, key: str) -> str:
        try:
            return (self.directory / key).read_text()
        except FileNotFoundError:
            return ""

    def append(self, key: str, line: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / key, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line + "\n")
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, key: str, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{key}.tmp"
        tmp.write_text(text)
        tmp.replace(self.directory / key)

    def delete(self, key: str) -> None:
        (self.directory / key).unlink(missing_ok=True)


class Journal:
    def __init__(self, store: Store, key: str):
        self.store = store
        self.key = key

    def append(self, event: str, **fields) -> dict:
        entry = {"ts": round(time.time(), 3), "event": event, **fields}
        self.store.append(self.key, json.dumps(entry, default=str))
        return entry

    def entries(self, since_ts: float = 0.0) -> list[dict]:
        found = []
        for line in self.store.read(self.key).splitlines():
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
        written = []
        for fault_id, started in sorted(self.open_faults().items(), key=lambda kv: kv[1]["expires_at"]):
            if started["expires_at"] <= now:
                written.append(
                    self.append(
                        "fault.reverted",
                        fault_id=fault_id,
                        reason="ttl",
                        reverted_at=started["expires_at"],
                        actor="agent",
                        service=started.get("service"),
                        kind=started.get("kind"),
                    )
                )
        return written

    def open_faults(self) -> dict[str, dict]:
        """Faults requested or started and not yet reverted, by id (after settle(), these may all
        still be alive: a ``fault.requested`` with no ``fault.started`` is a start that was cut short,
        and an agent may still have applied it)."""
        found: dict[str, dict] = {}
        for entry in self.entries():
            if entry["event"] in ("fault.requested", "fault.started"):
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
