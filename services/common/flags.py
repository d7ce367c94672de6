"""A service's runtime-switchable settings: the environment's baseline, then deploys and bad deploys.

Code on the request path reads ``flags.get("money_math")`` rather than the
settings object, so a deploy (a trainee shipping a fix) or a bad-deploy fault
changes behaviour without a restart. When several changes touch one setting,
the most recent wins, as with real deploys; removing a change (its TTL ran
out, or a reset) falls back to the one before it. The service's version, which
``chaoslab_build_info`` and the change feed show, moves on with every deploy
and with every removal that changes an effective value, and with nothing else
(a reset with nothing to reset once bumped it silently: the feed went r1, r2,
r4). Whoever changes flags learns the settings that changed, so it can record
the revision (the fault agent does, in its own record).
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
        """Apply a deploy (always a new version); returns the typed changes."""
        typed = self.validate(changes)
        with self._lock:
            self._changes = [c for c in self._changes if c[0] != source]
            self._changes.append((source, typed, time.time()))
            self._recompute(new_version=True)
        return typed

    def pop(self, source: str) -> dict[str, Any] | None:
        """Remove one change; returns the settings whose effective value changed ({} for none), or None
        when ``source`` had no change here."""
        with self._lock:
            before = len(self._changes)
            self._changes = [c for c in self._changes if c[0] != source]
            if len(self._changes) == before:
                return None
            return self._recompute()

    def reset(self) -> tuple[int, dict[str, Any]]:
        """Back to the baseline: (changes dropped, settings whose effective value changed)."""
        with self._lock:
            dropped = len(self._changes)
            self._changes = []
            return dropped, self._recompute()

    def continue_from(self, revision: int) -> None:
        """Number versions on from ``revision`` (a restarted process whose earlier versions were recorded)."""
        with self._lock:
            self.revision = revision
            describe_version(self.version)

    def _recompute(self, new_version: bool = False) -> dict[str, Any]:
        effective = dict(self.base)
        for _, changes, _ in self._changes:
            effective.update(changes)
        moved = {name: value for name, value in effective.items() if self._effective.get(name) != value}
        self._effective = effective
        if new_version or moved:
            self.revision += 1
            describe_version(self.version)
        return moved

    def describe(self) -> dict:
        with self._lock:
            return {
                "service": self.service,
                "version": self.version,
                "effective": dict(self._effective),
                "baseline": dict(self.base),
                "changes": [{"source": s, "changes": c, "at": at} for s, c, at in self._changes],
            }
