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
``expires_at``, whether or not anyone who added it is still around. With a
state directory the active faults are kept on disk, so a fault outlives a
restart of the process until its TTL (that is what makes ``crash mode=loop``
a crash loop).
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chaoslab.chaos.faults import KINDS, MYSTERY, Fault, FaultSpecError, validate
from chaoslab.settings import SettingsError

log = logging.getLogger("chaoslab.agent")
CRASH_EXIT_CODE = 70  # EX_SOFTWARE: "internal software error"


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
        self._state_file = saved_faults(state_dir, service) if state_dir else None
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
        """Validate and apply a fault; raises FaultSpecError (HTTP 400) when it cannot apply here."""
        fault = spec if isinstance(spec, Fault) else validate(spec, actor=actor)
        if fault.service != self.service:
            raise FaultSpecError(f"service={fault.service!r}: this agent runs in {self.service}")
        routes = self.routes
        if fault.route and fault.route != "*" and not restored and fault.route not in routes:
            served = ", ".join(sorted(routes)) or "no inbound routes (use peer instead)"
            raise FaultSpecError(f"route={fault.route!r}: {self.service} serves {served}; or route=* for all")
        with self._lock:
            if fault.id in self._active:
                return self._active[fault.id].fault
            active = _Active(fault)
            changes = fault.flag_changes()
            if changes:
                if self.flags is None:
                    raise FaultSpecError(f"{self.service} has no runtime settings to change")
                try:
                    self.flags.push(f"fault:{fault.id}", changes)
                except SettingsError as exc:
                    raise FaultSpecError(str(exc)) from None
            self._active[fault.id] = active
            self._start_process_effect(active)
            self._rebuild()
            self._persist()
            self._changed.notify_all()
        if fault.scenario == MYSTERY:  # a mystery drill leaves no trace in the service's own log (issue 10)
            return fault
        log.warning(
            "fault %s added: %s, expires in %.0fs",
            fault.id,
            fault.describe(),
            fault.remaining_s(),
            extra={"fields": {"fault_id": fault.id, "kind": fault.kind, "actor": actor or fault.actor}},
        )
        return fault

    def remove(self, fault_id: str, reason: str = "stop") -> bool:
        with self._lock:
            active = self._active.pop(fault_id, None)
            if active is None:
                return False
            self._lift(active)
            self._rebuild()
            self._persist()
            self._changed.notify_all()
        if active.fault.scenario == MYSTERY:
            return True
        log.warning(
            "fault %s removed (%s): %s",
            fault_id,
            reason,
            active.fault.describe(),
            extra={"fields": {"fault_id": fault_id, "reason": reason}},
        )
        return True

    def reset(self, reason: str = "reset") -> tuple[int, int]:
        """Remove every fault and every deploy; returns (faults, deploys) removed."""
        with self._lock:
            ids = list(self._active)
        removed = sum(self.remove(fault_id, reason) for fault_id in ids)
        deploys = self.flags.reset() if self.flags is not None else 0
        return removed, deploys

    def deploy(self, changes: dict, note: str = "") -> dict:
        """A runtime configuration change that stays until reset (how a fix is shipped)."""
        if self.flags is None:
            raise FaultSpecError(f"{self.service} has no runtime settings")
        if not isinstance(changes, dict) or not changes:
            raise FaultSpecError("changes must be a non-empty mapping of setting to value")
        try:
            with self._lock:
                self._deploys += 1
                typed = self.flags.push(f"deploy:{self._deploys}", changes)
        except SettingsError as exc:
            raise FaultSpecError(str(exc)) from None
        log.warning(
            "deployed %s: %s %s", self.flags.version, typed, note, extra={"fields": {"version": self.flags.version}}
        )
        return {"service": self.service, "version": self.flags.version, "changes": typed}

    def faults(self) -> list[dict]:
        now = time.time()
        with self._lock:
            return [
                dict(a.fault.to_dict(), remaining_s=round(a.fault.remaining_s(now), 1)) for a in self._active.values()
            ]

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
            self.flags.pop(f"fault:{active.fault.id}")

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
        with self._lock:
            while not self._closed:
                now = time.time()
                expired = [fid for fid, a in self._active.items() if a.fault.expires_at <= now]
                for fault_id in expired:
                    self.remove(fault_id, "ttl")
                upcoming = [a.fault.expires_at for a in self._active.values()]
                self._changed.wait(timeout=max(0.01, min(upcoming) - time.time()) if upcoming else None)

    def _persist(self) -> None:
        if self._state_file is None:
            return
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([a.fault.to_dict() for a in self._active.values()]))
        tmp.replace(self._state_file)

    def _load(self) -> None:
        """Faults that were active when this process last stopped, and have not expired since."""
        if self._state_file is None or not self._state_file.exists():
            return
        try:
            saved = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            log.error("ignoring unreadable fault state %s", self._state_file)
            return
        for spec in saved:
            try:
                fault = validate(spec)
            except FaultSpecError as exc:
                log.error("ignoring saved fault %s: %s", spec.get("id"), exc)
                continue
            if fault.expires_at > time.time():
                self.add(fault, restored=True)


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
