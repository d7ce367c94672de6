"""Runs the lab's processes, restarts the ones that die, and knows whether each is ready.

Restarts back off like Kubernetes: 0.5 s after the first crash, doubling up to
30 s; three crashes within two minutes show as ``crash-loop``. A process
stopped on purpose (``chaoslab stop postgres``) stays stopped until started.
A running process that is not ready is ``starting`` only while it has never
been ready since it started and is still within its start budget (the time
``chaoslab up`` gives every component, CHAOSLAB_READY_TIMEOUT_S); after that it
is ``unready``, as it is once it has been ready.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chaoslab.services.common.health import reason
from chaoslab.settings import Local, load

log = logging.getLogger("chaoslab.supervisor")
CRASH_WINDOW_S = 120.0
CRASH_LOOP_AFTER = 3
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 10.0


@dataclass
class Spec:
    name: str
    kind: str
    """``dependency`` (postgres, redis) or ``service``."""
    command: list[str]
    log: Path
    readiness: Callable[[], None]
    """Returns when ready, raises with a reason when not."""
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    url: str = ""
    stop_signal: int = signal.SIGTERM
    user: str | None = None
    prepare: Callable[[], None] | None = None
    """Runs before each start (initdb); a failure counts as a crash."""


class Proc:
    def __init__(self, spec: Spec, start_budget_s: float):
        self.spec = spec
        self.start_budget_s = start_budget_s
        """How long after its start a process that has not been ready yet is still ``starting``."""
        self.popen: subprocess.Popen | None = None
        self.desired = "running"
        self.ready = False
        self.ever_ready = False
        self.reason = "not started"
        self.restarts = 0
        self.crashes: deque[float] = deque()
        self.last_exit: int | None = None
        self.started_at: float | None = None
        self.next_start = 0.0

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def state(self, now: float) -> str:
        if self.desired == "stopped":
            return "stopped"
        if self.popen is None:
            recent = sum(1 for t in self.crashes if now - t < CRASH_WINDOW_S)
            return "crash-loop" if recent >= CRASH_LOOP_AFTER else "restarting"
        if self.ready:
            return "ready"
        return "unready" if self.ever_ready or self._over_budget(now) else "starting"

    def _over_budget(self, now: float) -> bool:
        """Not ready for longer than a start may take: a worker waiting on Redis for five minutes is
        not starting, whatever it says."""
        return self.started_at is not None and now - self.started_at > self.start_budget_s

    def snapshot(self, now: float) -> dict:
        state = self.state(now)
        doc = {
            "name": self.spec.name,
            "kind": self.spec.kind,
            "state": state,
            "pid": self.pid,
            "ports": self.spec.ports,
            "url": self.spec.url,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "reason": None if state == "ready" else self.reason,
            "uptime_s": round(now - self.started_at, 1) if self.popen is not None and self.started_at else None,
        }
        if state in ("restarting", "crash-loop"):
            doc["restart_in_s"] = round(max(0.0, self.next_start - now), 1)
        return doc


class Supervisor:
    def __init__(
        self, specs: list[Spec], on_change: Callable[[], None] = lambda: None, start_budget_s: float | None = None
    ):
        """``start_budget_s``: how long a process may take to become ready (see the module); by default
        what ``chaoslab up`` waits, CHAOSLAB_READY_TIMEOUT_S of the environment the lab runs in."""
        if start_budget_s is None:
            start_budget_s = load(Local).ready_timeout_s
        self.procs = {spec.name: Proc(spec, start_budget_s) for spec in specs}
        self.on_change = on_change
        self._lock = threading.RLock()
        self._checking = threading.Event()

    # ---- lifecycle ------------------------------------------------------------------------
    def _spawn(self, proc: Proc) -> None:
        spec = proc.spec
        try:
            if spec.prepare is not None:
                spec.prepare()
            spec.log.parent.mkdir(parents=True, exist_ok=True)
            with open(spec.log, "ab") as out:
                out.write(f"--- chaoslab: starting {spec.name} at {time.strftime('%H:%M:%S')}\n".encode())
                out.flush()
                proc.popen = subprocess.Popen(
                    spec.command,
                    env={**os.environ, **spec.env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    user=spec.user,
                    close_fds=True,
                )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", None) or str(exc)
            proc.reason = f"could not start: {detail.strip().splitlines()[-1] if detail.strip() else exc}"
            log.error("%s: %s", spec.name, proc.reason)
            self._crashed(proc, time.monotonic())
            return
        proc.started_at = time.monotonic()
        proc.ready = False
        proc.ever_ready = False
        proc.reason = "starting"
        log.info("started %s (pid %d)", spec.name, proc.popen.pid)
        self.on_change()

    def _crashed(self, proc: Proc, now: float) -> None:
        proc.crashes.append(now)
        while proc.crashes and now - proc.crashes[0] > CRASH_WINDOW_S:
            proc.crashes.popleft()
        backoff = min(MAX_BACKOFF_S, 0.5 * 2 ** (len(proc.crashes) - 1))
        proc.next_start = now + backoff

    def start_all(self) -> None:
        with self._lock:
            for proc in self.procs.values():
                self._spawn(proc)

    def tick(self) -> None:
        """Reap exited processes and restart due ones; the daemon's main loop calls this often."""
        now = time.monotonic()
        with self._lock:
            for proc in self.procs.values():
                if proc.popen is not None and proc.popen.poll() is not None:
                    code = proc.popen.returncode
                    proc.popen = None
                    proc.ready = False
                    proc.last_exit = code
                    if proc.desired == "running":
                        proc.restarts += 1
                        proc.reason = f"exited with {_describe_exit(code)}"
                        log.warning("%s %s; restarting", proc.spec.name, proc.reason)
                        self._crashed(proc, now)
                    self.on_change()
                if proc.desired == "running" and proc.popen is None and now >= proc.next_start:
                    self._spawn(proc)

    def stop(self, name: str) -> dict:
        """Stop one process and keep it stopped; returns its snapshot."""
        with self._lock:
            proc = self.procs[name]
            proc.desired = "stopped"
            popen = proc.popen
        if popen is not None:
            _terminate(popen, proc.spec.stop_signal)
        with self._lock:
            if proc.popen is popen and popen is not None:
                proc.last_exit = popen.returncode
                proc.popen = None
            proc.ready = False
            proc.reason = "stopped on request"
            self.on_change()
            return proc.snapshot(time.monotonic())

    def start(self, name: str) -> dict:
        with self._lock:
            proc = self.procs[name]
            proc.desired = "running"
            proc.crashes.clear()
            if proc.popen is None:
                self._spawn(proc)
            self._checking.set()
            return proc.snapshot(time.monotonic())

    def restart(self, name: str) -> dict:
        self.stop(name)
        return self.start(name)

    def shutdown(self) -> None:
        """Stop services first, then their dependencies, each politely then by force."""
        with self._lock:
            for proc in self.procs.values():
                proc.desired = "stopped"
        for kind in ("service", "dependency"):
            group = [p for p in reversed(list(self.procs.values())) if p.spec.kind == kind and p.popen is not None]
            for proc in group:
                try:
                    proc.popen.send_signal(proc.spec.stop_signal)
                except ProcessLookupError:
                    pass
            for proc in group:
                _terminate(proc.popen, None)
                proc.popen = None
        self.on_change()

    # ---- readiness ------------------------------------------------------------------------
    def check_readiness(self) -> None:
        for proc in list(self.procs.values()):
            if proc.popen is None:
                continue
            try:
                proc.spec.readiness()
            except Exception as exc:  # every failure is a "not ready" with its reason
                proc.ready = False
                proc.reason = reason(exc)
            else:
                proc.ready = proc.popen is not None
                proc.ever_ready = proc.ever_ready or proc.ready

    def watch_readiness(self, stop: threading.Event) -> None:
        """Check fast while something is not ready (``up`` is waiting), slowly otherwise."""
        while not stop.is_set():
            self.check_readiness()
            everyone_ready = all(p.ready or p.desired == "stopped" for p in self.procs.values())
            self._checking.clear()
            self._checking.wait(2.0 if everyone_ready else 0.25)

    def snapshot(self) -> list[dict]:
        now = time.monotonic()
        with self._lock:
            return [proc.snapshot(now) for proc in self.procs.values()]

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {name: proc.pid for name, proc in self.procs.items() if proc.pid is not None}


def _terminate(popen: subprocess.Popen, sig: int | None) -> None:
    """Send ``sig`` (unless already sent), wait STOP_GRACE_S, then SIGKILL."""
    if sig is not None:
        try:
            popen.send_signal(sig)
        except ProcessLookupError:
            return
    try:
        popen.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(5)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
