"""One render loop per view, shared by every stream that shows it: thirty open consoles cost the host
about what one does.

A ``Broadcast`` renders the panels of one view (trainee or instructor, a window, projection or not) as
each falls due, on a thread of its own while at least one stream watches, and keeps the latest HTML of
each. A stream waits for a new frame and sends its browser only the panels that changed since what it
sent last. The loop stops when the last stream leaves; the next one starts it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chaoslab.console.panel import Panel

TICK_S = 0.5
"""How often the loop looks for panels that fell due (each panel has its own ``every_s``)."""


class Broadcast:
    def __init__(
        self,
        visible: list[Panel],
        render: Callable[[Panel], str],
        tick_s: float = TICK_S,
        every_s: float | None = None,
    ):
        """``every_s``: render every panel this often instead of at its own pace (a replay, whose data
        is all in memory and whose clock may run at 60×)."""
        self.visible = visible
        self.render = render
        self.tick_s = tick_s
        self.every_s = every_s
        self._due: dict[str, float] = {}
        self.frames: dict[str, str] = {}
        self.version = 0
        self.renders = 0
        """How many panel renders it has done (what a watcher costs, for the tests and the bench)."""
        self._changed = threading.Condition()
        self._watchers = 0
        self._thread: threading.Thread | None = None

    def join(self) -> None:
        with self._changed:
            self._watchers += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="console-broadcast", daemon=True)
                self._thread.start()

    def leave(self) -> None:
        with self._changed:
            self._watchers -= 1

    def wait(self, seen: int, timeout_s: float) -> tuple[int, dict[str, str]]:
        """(version, every panel's latest HTML) once there is a frame newer than ``seen``, or after
        ``timeout_s`` as it stands."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > seen, timeout=timeout_s)
            return self.version, dict(self.frames)

    def wake(self) -> None:
        """Render every panel at the next tick (the data moved: a replay was seeked)."""
        self._due.clear()

    def _run(self) -> None:
        due = self._due
        due.clear()
        while True:
            with self._changed:
                if self._watchers <= 0:
                    self._thread = None
                    return
            now = time.monotonic()
            fresh = {}
            for panel in self.visible:
                if now >= due.get(panel.id, 0.0):
                    html = self.render(panel)
                    self.renders += 1
                    due[panel.id] = now + (self.every_s or panel.every_s)
                    if self.frames.get(panel.id) != html:
                        fresh[panel.id] = html
            if fresh:
                with self._changed:
                    self.frames.update(fresh)
                    self.version += 1
                    self._changed.notify_all()
            time.sleep(self.tick_s)


class Broadcasts:
    """The broadcast of each view, made on first use."""

    def __init__(self, make: Callable[[tuple], Broadcast]):
        self._make = make
        self._found: dict[tuple, Broadcast] = {}
        self._lock = threading.Lock()

    def of(self, key: tuple) -> Broadcast:
        with self._lock:
            if key not in self._found:
                self._found[key] = self._make(key)
            return self._found[key]

    def wake(self) -> None:
        with self._lock:
            for found in self._found.values():
                found.wake()
