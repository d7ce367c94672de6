"""The fault agent every service embeds: it holds the faults aimed at this process and applies
them where faults really happen.

Hooks on the request path (``inbound``, ``outbound``, ``db``, ``redis``) cost
one attribute read and a truthiness test while no fault of their kind is
active (``bench/hop_overhead`` measures it); they return an ``Effect`` that the
protocol adapter (HTTP server, gRPC interceptor, HTTP client, database,
queue) turns into a delay, an error, a refusal or a hang. Process faults
(CPU, memory, crash) and configuration faults (bad deploys, the deadlock)
take effect when added and are undone when removed.

Every fault expires on its own: a sweeper thread removes it at its
``expires_at``, whether or not anyone who added it is still around, and no
fault record, however malformed, stops it (it expires such a record at once).
The agent sets ``created_at``, ``expires_at`` (at most MAX_TTL_S ahead) and
``actor`` itself; callers give a spec (``chaos.faults.validate``). With a
state directory the active faults are kept on disk (``SavedFaults``), so a
fault outlives a restart of the process until its TTL (that is what makes
``crash mode=loop`` a crash loop); while the process is down, those are its
faults, and the local lab reads and edits them there.

The agent also keeps its own record of what happened to it (``records``):
faults started and reverted, with who asked (as authenticated) and why,
including the ones added directly through its admin API and the ones its
TTL ended. The controller folds these into its audit log when it settles
(``chaos.journal.fold_agent_records``), so a fault nobody told the
controller about is still in the audit log.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import math
import mmap
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chaoslab.chaos.faults import KINDS, MYSTERY, TTL, Fault, FaultSpecError, restore, validate
from chaoslab.settings import SettingsError

log = logging.getLogger("chaoslab.agent")
CRASH_EXIT_CODE = 70  # EX_SOFTWARE: "internal software error"
RECORDS_KEPT = 1000
"""The agent's own record keeps this many events (the controller folds them in when it settles)."""
SWEEP_MAX_WAIT_S = 60.0
"""The sweeper looks at least this often, whatever the clock or the records say."""


@dataclass
class Effect:
    """What a hook tells its caller to do to one call."""

    delay_s: float = 0.0
    status: int | None = None
    grpc_code: str | None = None
    refuse: bool = False
    hang: threading.Event | None = None
    """Wait on this (it is set when the fault is lifted) up to ``hang_s`` or the caller's timeout."""
    hang_s: float | None = None
    fault_id: str = ""

    def sleep(self) -> None:
        if self.delay_s > 0:
            time.sleep(self.delay_s)

    def wait_hang(self, timeout_s: float | None) -> bool:
        """Block like a black-holed packet; True if the fault was lifted before the time ran out."""
        if self.hang is None:
            return True
        limits = [t for t in (timeout_s, self.hang_s) if t]
        return self.hang.wait(min(limits) if limits else None)


def saved_faults(state_dir: str | os.PathLike, service: str) -> Path:
    """Where ``service``'s agent keeps its active faults between restarts (CHAOSLAB_AGENT_STATE_DIR)."""
    return Path(state_dir) / f"{service}.faults.json"


class SavedFaults:
    """The active faults of ``service``'s agent as it keeps them on disk between lives of its process.

    They are the agent's faults as much as the ones in its memory: it restores them when it starts, so
    while its process is down (a crash loop keeps it down most of the time) they are still active, and
    whoever lists or removes faults must look here. ``locked`` is held by an agent while it restores
    them and by anyone who edits them from outside, so an agent starting meanwhile reads the edited list.
    """

    def __init__(self, state_dir: str | os.PathLike, service: str):
        self.path = saved_faults(state_dir, service)

    @contextmanager
    def locked(self) -> Iterator[SavedFaults]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def records(self) -> list:
        """The saved records as written, [] when there are none; raises OSError or ValueError when the
        file cannot be read."""
        if not self.path.exists():
            return []
        saved = json.loads(self.path.read_text())
        return saved if isinstance(saved, list) else []

    def write(self, records: list[dict]) -> None:
        """Replace the saved faults at once (a reader never sees half a list); only the owner reads them."""
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(records))
        tmp.replace(self.path)

    def active(self, now: float | None = None) -> list[Fault]:
        """The saved faults an agent would restore now: readable and not expired."""
        now = time.time() if now is None else now
        try:
            saved = self.records()
        except (OSError, ValueError):
            return []
        found = []
        for record in saved:
            try:
                fault = restore(record)
            except FaultSpecError:
                continue
            if _expiry(fault) > now:
                found.append(fault)
        return found

    def drop(self, fault_id: str | None = None) -> list:
        """Remove one saved fault (or all, readable or not); returns the records removed. Call it
        ``locked``."""
        try:
            saved: list | None = self.records()
        except (OSError, ValueError):
            saved = None  # unreadable: an agent would ignore it, so nothing in it is worth keeping
        removed = [r for r in saved or [] if fault_id is None or (isinstance(r, dict) and r.get("id") == fault_id)]
        if removed or saved is None:
            self.write([r for r in saved or [] if r not in removed])
        return removed


def listed(fault: Fault, now: float) -> dict:
    """A fault as the agent's API lists it: its record and the seconds it has left."""
    return dict(fault.to_dict(), remaining_s=round(max(0.0, _expiry(fault) - now), 1))


class _Active:
    def __init__(self, fault: Fault):
        self.fault = fault
        self.lifted = threading.Event()
        self.memory: list[mmap.mmap] = []


class FaultAgent:
    def __init__(
        self,
        service: str,
        flags=None,
        state_dir: str | os.PathLike | None = None,
        exit_process: Callable[[int], None] = os._exit,
    ):
        self.service = service
        self.flags = flags
        self.route_sources: list[Callable[[], list[str]]] = []
        """Where the inbound routes come from (the Flask app's rules, the gRPC servicer's methods)."""
        self._exit = exit_process
        self._saved = SavedFaults(state_dir, service) if state_dir else None
        self._records_file = Path(state_dir) / f"{service}.records.jsonl" if state_dir else None
        self._records: deque[dict] = deque(maxlen=RECORDS_KEPT)
        self._seq = itertools.count(1)
        self._active: dict[str, _Active] = {}
        self._deploys = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._rng = random.Random()
        self.inbound_faults: tuple[_Active, ...] = ()
        self.outbound_faults: tuple[_Active, ...] = ()
        self.db_faults: tuple[_Active, ...] = ()
        self.redis_faults: tuple[_Active, ...] = ()
        self.stall: threading.Event | None = None
        self._closed = False
        self._load_records()
        self._load()
        self._sweeper = threading.Thread(target=self._sweep, name="fault-sweeper", daemon=True)
        self._sweeper.start()

    @property
    def routes(self) -> set[str]:
        return {route for source in self.route_sources for route in source()}

    # ---- the hooks: called on every request, must be cheap when idle ------------------------
    def inbound(self, route: str) -> Effect | None:
        faults = self.inbound_faults
        if not faults:
            return None
        return self._match(faults, route=route)

    def outbound(self, peer: str) -> Effect | None:
        faults = self.outbound_faults
        if not faults:
            return None
        return self._match(faults, peer=peer)

    def db(self) -> Effect | None:
        faults = self.db_faults
        return self._match(faults) if faults else None

    def redis(self) -> Effect | None:
        faults = self.redis_faults
        return self._match(faults) if faults else None

    def _match(self, faults: tuple[_Active, ...], route: str | None = None, peer: str | None = None) -> Effect | None:
        now = time.time()
        effect: Effect | None = None
        for active in faults:
            fault = active.fault
            if now >= fault.expires_at or active.lifted.is_set():
                continue
            if fault.route is not None and fault.route not in ("*", route):
                continue
            if fault.peer is not None and fault.peer != peer:
                continue
            probability = fault.params.get("probability", 1.0)
            if probability < 1.0 and self._rng.random() >= probability:
                continue
            effect = effect or Effect(fault_id=fault.id)
            kind, params = fault.kind, fault.params
            if kind in ("latency", "db_slow"):
                jitter = params.get("jitter_ms", 0.0)
                spread = self._rng.uniform(-jitter, jitter) if jitter else 0.0
                effect.delay_s += max(0.0, params["ms"] + spread) / 1000
            elif kind == "error":
                effect.status, effect.grpc_code = params["status"], params["grpc_code"]
            elif kind == "partition":
                if params["mode"] == "refuse":
                    effect.refuse = True
                else:
                    effect.hang = active.lifted
            elif kind in ("db_outage", "redis_outage"):
                effect.refuse = True
            elif kind == "upstream_failure":
                if params["mode"] == "hang":
                    effect.hang, effect.hang_s, effect.status = active.lifted, params["hang_s"], 504
                else:
                    effect.status = params["status"]
        return effect

    # ---- adding and removing ----------------------------------------------------------------
    def add(self, spec: dict | Fault, actor: str = "", *, restored: bool = False) -> Fault:
        """Validate and apply a fault; raises FaultSpecError (HTTP 400) when it cannot apply here.

        ``actor`` is who asked, as the caller authenticated; the agent stamps it, with its own creation
        and expiry times, on the fault. The same id again is the same fault (the controller retrying):
        it is returned as it is, unless the spec differs.
        """
        fault = spec if isinstance(spec, Fault) else validate(spec, actor=actor)
        if fault.service != self.service:
            raise FaultSpecError(f"service={fault.service!r}: this agent runs in {self.service}")
        routes = self.routes
        if fault.route and fault.route != "*" and not restored and fault.route not in routes:
            served = ", ".join(sorted(routes)) or "no inbound routes (use peer instead)"
            raise FaultSpecError(f"route={fault.route!r}: {self.service} serves {served}; or route=* for all")
        with self._lock:
            if fault.id in self._active:
                existing = self._active[fault.id].fault
                if _what(existing) != _what(fault):
                    raise FaultSpecError(f"id={fault.id!r}: already names a different fault here; leave id out")
                return existing
            active = _Active(fault)
            changes = fault.flag_changes()
            if changes:
                if self.flags is None:
                    raise FaultSpecError(f"{self.service} has no runtime settings to change")
                try:
                    typed = self.flags.push(f"fault:{fault.id}", changes)
                except SettingsError as exc:
                    raise FaultSpecError(str(exc)) from None
                # as the change feed shows every bad deploy: shipped by the deploy bot
                self._record_revision(typed, "deploy-bot", f"config change ({fault.params.get('change', fault.kind)})")
            self._active[fault.id] = active
            self._start_process_effect(active)
            self._rebuild()
            self._persist()
            if not restored:
                self._record("fault.started", fault, actor=fault.actor)
            self._changed.notify_all()
        if fault.scenario == MYSTERY:  # a mystery drill leaves no trace in the service's own log
            return fault
        log.warning(
            "fault %s added: %s, expires in %.0fs",
            fault.id,
            fault.describe(),
            fault.remaining_s(),
            extra={"fields": {"fault_id": fault.id, "kind": fault.kind, "actor": fault.actor}},
        )
        return fault

    def remove(self, fault_id: str, reason: str = "stop", actor: str = "agent") -> bool:
        with self._lock:
            active = self._active.pop(fault_id, None)
            if active is None:
                return False
            try:
                self._lift(active)
            finally:
                self._rebuild()
                self._persist()
                self._record("fault.reverted", active.fault, reason=reason, actor=actor)
                self._changed.notify_all()
        if active.fault.scenario == MYSTERY:
            return True
        log.warning(
            "fault %s removed (%s): %s",
            fault_id,
            reason,
            _described(active.fault),
            extra={"fields": {"fault_id": fault_id, "reason": reason}},
        )
        return True

    def extend(self, fault_id: str, ttl_s, actor: str = "agent") -> Fault | None:
        """Give an active fault a longer life: ``ttl_s`` counted from its creation, as if it had been asked
        for at first (a GameDay given more time), so a restart restores it with that life too. None when
        no such fault is active here; FaultSpecError for a ``ttl_s`` out of range or shorter than the one
        it has (a fault is ended with ``remove``, never by shortening it)."""
        ttl = float(TTL.parse(ttl_s, "ttl_s"))
        with self._lock:
            active = self._active.get(fault_id)
            if active is None:
                return None
            fault = active.fault
            if ttl < fault.ttl_s:
                raise FaultSpecError(f"ttl_s={ttl:g}: {fault_id} has {fault.ttl_s:g} already; a fault is only extended")
            if ttl == fault.ttl_s:
                return fault  # the controller retrying: done already
            fault.ttl_s, fault.expires_at = ttl, fault.created_at + ttl
            self._persist()
            self._record("fault.extended", fault, actor=actor)
            self._changed.notify_all()
        return fault

    def reset(self, reason: str = "reset", actor: str = "agent") -> tuple[int, int, bool]:
        """Remove every fault and every deploy; returns (faults removed, deploys removed, whether the
        version changed). The settings go back to the baseline first, in one revision however many
        faults and deploys had changed them, and in none when no effective value changes."""
        deploys, moved = 0, {}
        with self._lock:
            if self.flags is not None:
                deploys = sum(c["source"].startswith("deploy:") for c in self.flags.describe()["changes"])
                _, moved = self.flags.reset()
                self._record_revision(moved, actor, "rollback to the baseline configuration", only_if_moved=True)
            ids = list(self._active)
        removed = sum(self.remove(fault_id, reason, actor) for fault_id in ids)
        return removed, deploys, bool(moved)

    def deploy(self, changes: dict, note: str = "", actor: str = "agent") -> dict:
        """A runtime configuration change that stays until reset (how a fix is shipped)."""
        if self.flags is None:
            raise FaultSpecError(f"{self.service} has no runtime settings")
        if not isinstance(changes, dict) or not changes:
            raise FaultSpecError("changes must be a non-empty mapping of setting to value")
        try:
            with self._lock:
                self._deploys += 1
                typed = self.flags.push(f"deploy:{self._deploys}", changes)
                self._record_revision(typed, actor, note)
        except SettingsError as exc:
            raise FaultSpecError(str(exc)) from None
        log.warning(
            "deployed %s: %s %s", self.flags.version, typed, note, extra={"fields": {"version": self.flags.version}}
        )
        return {"service": self.service, "version": self.flags.version, "changes": typed}

    def faults(self) -> list[dict]:
        now = time.time()
        with self._lock:
            return [listed(a.fault, now) for a in self._active.values()]

    def records(self, after: int = 0) -> list[dict]:
        """The agent's own record, oldest first: events with a sequence number above ``after``."""
        with self._lock:
            return [r for r in self._records if r["seq"] > after]

    def close(self) -> None:
        """Stop background effects (tests start agents in-process); faults on disk stay."""
        with self._lock:
            self._closed = True
            for active in self._active.values():
                active.lifted.set()
            self._changed.notify_all()

    # ---- internals --------------------------------------------------------------------------
    def _rebuild(self) -> None:
        by_hook: dict[str, list[_Active]] = {"inbound": [], "outbound": [], "db": [], "redis": []}
        stall = None
        for active in self._active.values():
            fault = active.fault
            hook = KINDS[fault.kind].hook
            if hook == "inbound|outbound":
                hook = "inbound" if fault.route else "outbound"
            if hook == "worker":
                stall = active.lifted
            elif hook in by_hook:
                by_hook[hook].append(active)
        self.inbound_faults = tuple(by_hook["inbound"])
        self.outbound_faults = tuple(by_hook["outbound"])
        self.db_faults = tuple(by_hook["db"])
        self.redis_faults = tuple(by_hook["redis"])
        self.stall = stall

    def _lift(self, active: _Active) -> None:
        active.lifted.set()
        if active.fault.flag_changes() and self.flags is not None:
            moved = self.flags.pop(f"fault:{active.fault.id}")
            if moved:
                self._record_revision(moved, "deploy-bot", "rollback")

    def _start_process_effect(self, active: _Active) -> None:
        fault = active.fault
        if fault.kind == "cpu_burn":
            for n in range(fault.params["threads"]):
                threading.Thread(target=_burn, args=(active.lifted,), name=f"cpu-burn-{n}", daemon=True).start()
        elif fault.kind == "memory_leak":
            threading.Thread(
                target=_leak,
                args=(active, fault.params["mb_per_s"], fault.params["cap_mb"]),
                name="memory-leak",
                daemon=True,
            ).start()
        elif fault.kind == "crash":
            threading.Thread(target=self._crash_later, args=(active,), name="crash", daemon=True).start()

    def _crash_later(self, active: _Active) -> None:
        if active.lifted.wait(active.fault.params["delay_s"]):
            return
        if active.fault.params["mode"] == "once":
            with self._lock:  # gone from disk first, so the restarted process comes back clean
                self._active.pop(active.fault.id, None)
                self._persist()
        log.critical("fatal: unrecoverable internal error, exiting", extra={"fields": {"exit_code": CRASH_EXIT_CODE}})
        for handler in logging.getLogger().handlers:
            handler.flush()
        self._exit(CRASH_EXIT_CODE)

    def _sweep(self) -> None:
        """Drop each fault at its expiry. Survives any record: one it cannot read expires now, one it
        cannot remove cleanly is dropped anyway, and an error in a round never ends the thread."""
        with self._lock:
            while not self._closed:
                wait = SWEEP_MAX_WAIT_S
                try:
                    now = time.time()
                    # ids and times only: a reference to an _Active kept while waiting would keep a
                    # lifted memory leak's memory alive
                    expiries = [(fault_id, _expiry(active.fault)) for fault_id, active in self._active.items()]
                    for fault_id, expires in expiries:
                        if expires > now:
                            wait = min(wait, expires - now)
                            continue
                        try:
                            self.remove(fault_id, "ttl")
                        except Exception:
                            log.exception("dropping fault %r that could not be removed cleanly", fault_id)
                            self._active.pop(fault_id, None)
                            self._rebuild()
                except Exception:
                    log.exception("fault sweeper round failed; trying again")
                    wait = 1.0
                self._changed.wait(timeout=max(0.01, wait))

    def _record_revision(self, changes: dict, actor: str, note: str, only_if_moved: bool = False) -> None:
        """A new version of the runtime settings, for the change feed: every version gets a record."""
        if only_if_moved and not changes:
            return
        shown = ", ".join(f"{k}={v}" for k, v in changes.items()) or "no effective change"
        self._record(
            "deploy", None, version=self.flags.version, by=actor, summary=f"{shown} ({note})" if note else shown
        )

    def _record(self, event: str, fault: Fault | None, **fields) -> None:
        """Append to the agent's own record (and its file, with a state directory). Never raises."""
        try:
            entry = {"seq": next(self._seq), "ts": round(time.time(), 3), "event": event, "service": self.service}
            if fault is not None:
                entry |= {
                    "fault_id": fault.id,
                    "kind": fault.kind,
                    "where": fault.where,
                    "params": fault.params,
                    "ttl_s": fault.ttl_s,
                    "expires_at": fault.expires_at,
                    "scenario": fault.scenario,
                    "red_herring": fault.red_herring,
                }
            entry |= fields
            line = json.dumps(entry, default=str)
            self._records.append(json.loads(line))
            if self._records_file is not None:
                self._records_file.parent.mkdir(parents=True, exist_ok=True)
                with open(self._records_file, "a") as handle:
                    handle.write(line + "\n")
        except Exception:
            log.exception("could not record %s of fault %r", event, getattr(fault, "id", "?"))

    def _load_records(self) -> None:
        """The record of this agent's earlier lives, trimmed to the last RECORDS_KEPT events."""
        if self._records_file is None or not self._records_file.exists():
            return
        try:
            lines = self._records_file.read_text().splitlines()[-RECORDS_KEPT:]
        except OSError:
            return
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line from a crash mid-write
            if isinstance(entry, dict) and isinstance(entry.get("seq"), int):
                self._records.append(entry)
        self._seq = itertools.count(max((r["seq"] for r in self._records), default=0) + 1)
        tmp = self._records_file.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self._records))
        tmp.replace(self._records_file)
        # Versions go on from the last one recorded, so the change feed never sees a number twice; the
        # restart itself is a new version (runtime deploys are not kept across it: back to the baseline).
        last = max((_revision(r) for r in self._records if r.get("event") == "deploy"), default=0)
        if last and self.flags is not None:
            self.flags.continue_from(last + 1)
            self._record_revision({}, "agent", "restarted: runtime settings back to the baseline")

    def _persist(self) -> None:
        if self._saved is None:
            return
        self._saved.path.parent.mkdir(parents=True, exist_ok=True)
        self._saved.write([a.fault.to_dict() for a in self._active.values()])

    def _load(self) -> None:
        """Faults that were active when this process last stopped, and have not expired since; under the
        saved faults' lock, so a removal made from outside while the process was down is seen."""
        if self._saved is None:
            return
        with self._saved.locked():
            try:
                saved = self._saved.records()
            except (OSError, ValueError):
                log.error("ignoring unreadable fault state %s", self._saved.path)
                return
            for record in saved:
                try:
                    fault = restore(record)
                except FaultSpecError as exc:
                    log.error("ignoring a saved fault: %s", exc)
                    continue
                if fault.expires_at > time.time():
                    self.add(fault, restored=True)


def _expiry(fault: Fault) -> float:
    """When the sweeper drops ``fault``: its ``expires_at``, or now (0) when that is not a finite number."""
    expires = fault.expires_at
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or not math.isfinite(expires):
        return 0.0
    return float(expires)


def _revision(record: dict) -> int:
    """The revision number in a recorded version (``0.1.0+r7`` → 7), 0 when it has none."""
    _, _, number = str(record.get("version", "")).rpartition("+r")
    return int(number) if number.isdigit() else 0


def _what(fault: Fault) -> tuple:
    """What a fault does and where, without when and who: two adds of one fault compare equal."""
    return (fault.kind, fault.service, fault.route, fault.peer, fault.params)


def _described(fault: Fault) -> str:
    try:
        return fault.describe()
    except Exception:
        return f"a malformed fault {fault.id!r}"


def _burn(lifted: threading.Event) -> None:
    """Pure-Python busy work: it holds the GIL like a real hot loop in a Python service would."""
    while not lifted.is_set():
        sum(i * i for i in range(20000))


def _leak(active: _Active, mb_per_s: float, cap_mb: float) -> None:
    """Anonymous mappings, every page written so it is really resident, unmapped when lifted."""
    step_s = 0.1
    chunk = max(mmap.PAGESIZE, int(mb_per_s * step_s * 2**20) // mmap.PAGESIZE * mmap.PAGESIZE)
    while not active.lifted.wait(step_s):
        if sum(len(b) for b in active.memory) + chunk > cap_mb * 2**20:
            continue
        block = mmap.mmap(-1, chunk)
        block.write(b"\x01" * chunk)
        if active.lifted.is_set():
            block.close()
            return
        active.memory.append(block)
