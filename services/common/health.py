"""Liveness and readiness, checked against the real dependencies.

``/health/live`` answers whether the process should be restarted; it never
looks at dependencies, so a database outage does not restart every pod.
``/health/ready`` runs each registered check: a failing *critical* check makes
the service unready (503); a failing non-critical one is reported as
``degraded`` (service-a keeps taking orders while Redis is down, because the
outbox holds them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc


@dataclass
class DependencyCheck:
    name: str
    test: Callable[[], None]
    """Returns on success, raises with a short reason on failure."""
    critical: bool = True


class Health:
    def __init__(self) -> None:
        self._checks: list[DependencyCheck] = []
        self._live_checks: list[DependencyCheck] = []

    def ready_check(self, name: str, test: Callable[[], None], *, critical: bool = True) -> None:
        self._checks.append(DependencyCheck(name, test, critical))

    def unready_when(self, stopping: threading.Event) -> None:
        """Answer unready, whatever the dependencies say, once ``stopping`` is set: a process that is
        shutting down goes unready first, while it still serves, so traffic moves elsewhere before
        its listener closes."""

        def not_stopping() -> None:
            if stopping.is_set():
                raise RuntimeError("shutting down")

        self._checks.insert(0, DependencyCheck("shutdown", not_stopping))

    def live_check(self, name: str, test: Callable[[], None]) -> None:
        """For a process that is up but wedged, such as a worker whose consumer thread died."""
        self._live_checks.append(DependencyCheck(name, test, True))

    @staticmethod
    def _run(checks: list[DependencyCheck]) -> tuple[bool, dict]:
        ok = True
        results = {}
        for check in checks:
            started = time.perf_counter()
            try:
                check.test()
                results[check.name] = {"status": "ok"}
            except Exception as exc:  # any failure is a failed check, reported, not raised
                results[check.name] = {"status": "down" if check.critical else "degraded", "reason": reason(exc)}
                ok = ok and not check.critical
            results[check.name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
        return ok, results

    def live(self) -> tuple[bool, dict]:
        return self._run(self._live_checks)

    def ready(self) -> tuple[bool, dict]:
        return self._run(self._checks)


REASON_MAX = 200
"""A check's reason is cut to this many characters: it is a line in `chaoslab status`, not a log."""


def reason(exc: BaseException) -> str:
    """Why a check failed, in one line a person can read: a gRPC error as its code and details (its
    ``str`` is a multi-line repr whose first line says nothing), anything else as its message with
    every line kept, joined, since the first line of a message is not always the one that matters."""
    if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
        code = exc.code()
        text = f"{code.name if code else 'gRPC error'}: {exc.details() or 'no details'}"
    else:
        text = str(exc) or type(exc).__name__
    line = " ".join(text.split())
    return line if len(line) <= REASON_MAX else line[: REASON_MAX - 1] + "…"
