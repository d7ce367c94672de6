"""A service's runtime-switchable settings: the environment's baseline, then deploys and bad deploys.

Code on the request path reads ``flags.get("money_math")`` rather than the
settings object, so a deploy (a trainee shipping a fix) or a bad-deploy fault
changes behaviour without a restart. When several changes touch one setting,
the most recent wins, as with real deploys; removing a change (its TTL ran
out, or a reset) falls back to the one before it. Every change bumps the
service's version, which ``chaoslab_build_info`` and the change feed show.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from chaoslab import __version__
from chaoslab.settings import coerce, runtime_fields
from chaoslab.telemetry.metrics import describe_version


class Flags:
    def __init__(self, service: str, settings: Any, team: str = "local"):
        self.service = service
        self.group = type(settings)
        self.base = {name: getattr(settings, name) for name in runtime_fields(self.group)}
        self.team = team
        self._changes: list[tuple[str, dict[str, Any], float]] = []
        self._effective = dict(self.base)
        self._lock = threading.Lock()
        self.revision = 0

    def get(self, name: str) -> Any:
        return self._effective[name]

    @property
    def version(self) -> str:
        return __version__ if self.revision == 0 else f"{__version__}+r{self.revision}"

    def validate(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Typed values, or SettingsError naming the setting and what it accepts."""
        return {name: coerce(self.group, name, value) for name, value in changes.items()}

    def push(self, source: str, changes: dict[str, Any]) -> dict[str, Any]:
        typed = self.validate(changes)
        with self._lock:
            self._changes = [c for c in self._changes if c[0] != source]
            self._changes.append((source, typed, time.time()))
            self._recompute()
        return typed

    def pop(self, source: str) -> bool:
        with self._lock:
            before = len(self._changes)
            self._changes = [c for c in self._changes if c[0] != source]
            if len(self._changes) == before:
                return False
            self._recompute()
            return True

    def reset(self) -> int:
        with self._lock:
            dropped = len(self._changes)
            self._changes = []
            self._recompute()
            return dropped

    def _recompute(self) -> None:
        effective = dict(self.base)
        for _, changes, _ in self._changes:
            effective.update(changes)
        self._effective = effective
        self.revision += 1
        describe_version(self.version)

    def describe(self) -> dict:
        with self._lock:
            return {
                "service": self.service,
                "version": self.version,
                "effective": dict(self._effective),
                "baseline": dict(self.base),
                "changes": [{"source": s, "changes": c, "at": at} for s, c, at in self._changes],
            }
