"""Where the controller writes down what it did: append-only JSON-lines journals (the audit log:
who did what, where, when, when it was undone and why; the change feed: what was deployed, when, to
which service, which version) and the note of the running scenario.

They live in a ``Store``: files in the local lab's state directory, or a ConfigMap in a team's
namespace on Kubernetes, so everyone working on that team's lab reads the same ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from chaoslab.errors import Refused

AUDIT = "audit.jsonl"
"""The audit log (instructor side): who did what, where, when, and when it was undone."""
CHANGES = "changes.jsonl"
"""The change feed (on the team's board): every deploy, good or bad."""
SCENARIO = "scenario.json"
"""The note of the last drill started and not stopped (instructor side: it names the scenario)."""


class Store(Protocol):
    def read(self, key: str) -> str:
        """The text under ``key``; empty when there is none."""

    def append(self, key: str, line: str) -> None:
        """Add one line, atomically with respect to other writers."""

    def write(self, key: str, text: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def swap(self, key: str, expected: str, text: str | None) -> bool:
        """Replace the text under ``key`` with ``text`` (None deletes it) only if it is still ``expected``
        (empty: none), atomically with respect to other writers; whether it was."""


def change_note(
    store: Store, key: str, change: Callable[[dict], object], delete: bool = False, attempts: int = 20
) -> dict | None:
    """Read the JSON note under ``key``, ``change`` it in place and write it back (``delete``: delete it)
    only if nobody wrote it meanwhile (``Store.swap``), again on a conflict: two commands at once never
    undo each other (an extend never brings back a drill a stop has just ended). Returns the note, None
    when there is none; ``change`` may raise to refuse what it reads."""
    for attempt in range(attempts):
        if attempt:
            time.sleep(random.uniform(0, 0.005 * attempt))  # jitter: writers that collided do not again
        before = store.read(key)
        try:
            note = json.loads(before or "null")
        except ValueError:
            note = None
        if not isinstance(note, dict):
            return None
        change(note)
        if store.swap(key, before, None if delete else json.dumps(note)):
            return note
    raise Refused(f"{key} kept changing under this command ({attempts} tries): run it again")


class FileStore:
    """One file per key in a directory; appends hold an exclusive lock so lines never interleave.

    Every file is created readable by its owner only (0600): the audit log and the scenario note are
    the answer key, and another account on the machine must not read them."""

    MODE = 0o600

    def __init__(self, directory: Path):
        self.directory = directory

    def read(self, key: str) -> str:
        try:
            return (self.directory / key).read_text()
        except FileNotFoundError:
            return ""

    def append(self, key: str, line: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / key, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.MODE)
        with os.fdopen(fd, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line + "\n")
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, key: str, text: str) -> None:
        with self._locked(key):
            self._replace(key, text)

    def delete(self, key: str) -> None:
        with self._locked(key):
            (self.directory / key).unlink(missing_ok=True)

    def swap(self, key: str, expected: str, text: str | None) -> bool:
        with self._locked(key):
            if self.read(key) != expected:
                return False
            if text is None:
                (self.directory / key).unlink(missing_ok=True)
            else:
                self._replace(key, text)
            return True

    @contextlib.contextmanager
    def _locked(self, key: str):
        """Writers of one key take turns (an flock on a file beside it), so a swap's read and write are one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / f".{key}.lock", os.O_WRONLY | os.O_CREAT, self.MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _replace(self, key: str, text: str) -> None:
        """Write a file of its own and rename it over the key: a reader sees the old text or the new."""
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, self.MODE)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.directory / key)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)  # a full disk leaves no half-written file behind
            raise


class Journal:
    def __init__(self, store: Store, key: str):
        self.store = store
        self.key = key

    def append(self, event: str, ts: float | None = None, **fields) -> dict:
        """Write one entry, dated now or at ``ts`` (an event folded in from an agent's own record), to the
        millisecond below: an entry is never dated after the moment it was written, so a look taken
        right after it (a silence ended, then the alerts read) already finds it."""
        entry = {"ts": math.floor((time.time() if ts is None else ts) * 1000) / 1000, "event": event, **fields}
        self.store.append(self.key, json.dumps(entry, default=str))
        return entry

    def entries(self, since_ts: float = 0.0, as_written: bool = False) -> list[dict]:
        """Entries in time order (folded-in ones are written late, dated when they happened), or
        ``as_written``: in the order they were written (appends are atomic), which no later writer can
        change, so a claim read back from it stays won or lost."""
        found = []
        for line in self.store.read(self.key).splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line from a crash mid-write is skipped, never fatal
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("ts", 0), (int, float))
                and entry.get("ts", 0) >= since_ts
            ):
                found.append(entry)
        return found if as_written else sorted(found, key=lambda e: e.get("ts", 0))


class AuditLog(Journal):
    """``fault.started`` / ``fault.reverted`` pairs (and scenario and deploy events).

    Agents drop expired faults without telling anyone, and a fault can be added through an agent's
    admin API without the controller. So every read settles the log first (``settle``): it folds in
    what the agents recorded themselves (``fold``, when the controller gives one: see
    ``fold_agent_records``), then writes the ``fault.reverted reason=ttl`` lines still missing, dated
    at each fault's expiry, the moment its agent dropped it (for agents that could not be asked).
    Readers never call ``settle`` themselves; one instance settles at most once per ``FRESH_S``, so a
    command that reads the log several times asks the agents once.
    """

    FRESH_S = 1.0
    """How long a settlement stands for this instance's next reads."""

    def __init__(self, store: Store, key: str, fold: Callable[[], None] | None = None):
        super().__init__(store, key)
        self.fold = fold
        self._settled_at: float | None = None
        self._settling = False

    def entries(self, since_ts: float = 0.0) -> list[dict]:
        """Entries in time order, settled (see the class docstring)."""
        fresh = self._settled_at is not None and time.monotonic() - self._settled_at <= self.FRESH_S
        if not (fresh or self._settling):
            self.settle()
        return super().entries(since_ts)

    def settle(self, now: float | None = None) -> list[dict]:
        """Fold in the agents' records and write the missing TTL reverts; returns what was written."""
        self._settling = True  # the settlement's own reads (and the fold's) read the log as written
        try:
            if self.fold is not None:
                self.fold()
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
        finally:
            self._settling = False
            self._settled_at = time.monotonic()

    def open_faults(self) -> dict[str, dict]:
        """Faults requested or started and not yet reverted, by id (settled: these may all still be
        alive: a ``fault.requested`` with no ``fault.started`` is a start that was cut short,
        and an agent may still have applied it)."""
        return open_faults(self.entries())


def open_faults(entries: list[dict]) -> dict[str, dict]:
    """Faults requested or started and not reverted in ``entries``, by id. A read-only viewer (a
    console, which may not write the log) reads the log as written and judges expiry itself."""
    found: dict[str, dict] = {}
    for entry in entries:
        if entry["event"] in ("fault.requested", "fault.started"):
            found[entry["fault_id"]] = entry
        elif entry["event"] == "fault.reverted":
            found.pop(entry["fault_id"], None)
        elif entry["event"] == "fault.extended" and entry.get("fault_id") in found:
            started = found[entry["fault_id"]]
            if entry.get("ttl_s", 0) > started.get("ttl_s", 0):
                moved = entry["ttl_s"] - started.get("ttl_s", 0)
                found[entry["fault_id"]] = {
                    **started,
                    "ttl_s": entry["ttl_s"],
                    "expires_at": started.get("expires_at", 0) + moved,
                }
    return found


def fold_agent_records(audit: AuditLog, changes: Journal, records: list[dict]) -> int:
    """Write into the audit log and the change feed what agents recorded that they lack: faults added,
    extended or removed through an agent's admin API directly (with the caller as the agent authenticated
    it), faults a TTL ended, and every version of a service's runtime settings (so the change feed has no
    gaps). Entries are dated when they happened; an event already written (by the controller, or by an
    earlier fold, or by another replica's record) is not written again. Returns the entries written."""
    seen = {_seen_as(e) for e in audit.entries() if e.get("fault_id")}
    versions = {(e.get("service"), e.get("version")) for e in changes.entries()}
    written = 0
    for record in sorted(records, key=lambda r: r.get("ts", 0)):
        event, fault_id = record.get("event"), record.get("fault_id")
        if event == "deploy":
            key = (record.get("service"), record.get("version"))
            if key in versions:
                continue
            versions.add(key)
            changes.append(
                "deploy",
                ts=record["ts"],
                service=record.get("service"),
                version=record.get("version"),
                by=record.get("by", "agent"),
                summary=record.get("summary", ""),
            )
            written += 1
            continue
        if event not in ("fault.started", "fault.extended", "fault.reverted") or _seen_as(record) in seen:
            continue
        if event != "fault.started" and ("fault.started", fault_id) not in seen:
            continue  # the start predates the agent's record (it keeps the last events only)
        seen.add(_seen_as(record))
        fields = {k: v for k, v in record.items() if k not in ("seq", "ts", "event")}
        audit.append(event, ts=record["ts"], **fields, source="agent")
        written += 1
    return written


def _seen_as(entry: dict) -> tuple:
    """What makes an audit entry of a fault the same event in every record: a fault starts and ends
    once, and is extended once to each new life (every replica's agent records the same one)."""
    key = (entry.get("event"), entry.get("fault_id"))
    return key + (entry.get("ttl_s"),) if entry.get("event") == "fault.extended" else key


def parse_since(text: str) -> float:
    """``4h``, ``30m``, ``90s``, ``2d`` → seconds; raises ValueError with the accepted forms."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if len(text) >= 2 and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return float(text[:-1]) * units[text[-1]]
    raise ValueError(f"--since {text!r}: use a number and a unit, e.g. 90s, 30m, 4h, 2d")
