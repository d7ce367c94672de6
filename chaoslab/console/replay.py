"""The console over a recording: the same pages, read at a replay clock the room moves together.

``RecordingSource`` answers the console's source (chaoslab.console.source) from a ``Bundle``
(chaoslab.console.bundle) at the clock's position: the graph and every panel as they were then, the
edge histories and trace lists of the minute before it, the traces the recording kept. The instructor's
half reads the recording's answer key, if the export kept it. ``ReplayClock`` is one position shared
by every page of a replay (an instructor seeks, the projector follows): paused or playing at 1×, 10×
or 60×, stopped at the end. ``marks`` are the moments to jump to: the incident's timeline entries,
each alert's first firing, each deploy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chaoslab.console.bundle import Bundle
from chaoslab.console.business import MetricsHistory
from chaoslab.console.render import clock as clock_text
from chaoslab.console.render import esc
from chaoslab.servicegraph import Graph, TraceRef

SPEEDS = (1, 10, 60)
OPEN_FRESH_S = 6.0
"""The calls still open are written every few seconds while there are any; older than this, none were."""
TRACE_LIMIT = 8


class ReplayClock:
    def __init__(self, start: float, end: float, monotonic: Callable[[], float] = time.monotonic):
        self.start, self.end = start, end
        self._monotonic = monotonic
        self._at, self._since = start, monotonic()
        self.speed = 1
        self.playing = False
        self._lock = threading.Lock()
        self.listeners: list[Callable[[], None]] = []
        """Called after every seek, play and pause (the pages re-render at once)."""

    def now(self) -> float:
        with self._lock:
            return self._position()

    def _position(self) -> float:
        if not self.playing:
            return self._at
        at = self._at + (self._monotonic() - self._since) * self.speed
        if at >= self.end:
            self._at, self.playing = self.end, False
            return self.end
        return at

    def seek(self, t: float) -> None:
        with self._lock:
            self._at, self._since = min(max(t, self.start), self.end), self._monotonic()
        self._changed()

    def play(self, speed: int | None = None) -> None:
        if speed is not None and speed not in SPEEDS:
            raise ValueError(f"speed must be one of {', '.join(map(str, SPEEDS))}")
        with self._lock:
            self._at, self._since = self._position(), self._monotonic()
            if self._at >= self.end:
                self._at = self.start  # played to the end: play again from the start
            self.speed = speed or self.speed
            self.playing = True
        self._changed()

    def pause(self) -> None:
        with self._lock:
            self._at, self._since = self._position(), self._monotonic()
            self.playing = False
        self._changed()

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "now": round(self.now(), 3),
            "playing": self.playing,
            "speed": self.speed,
            "speeds": list(SPEEDS),
        }

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()


class ReplayHistory(MetricsHistory):
    """The business figures from the recording's scrapes up to the clock (``refresh`` ignores the live
    scrape it is given: a recording has no services to ask)."""

    def __init__(self, bundle: Bundle, clock: Callable[[], float]):
        super().__init__(clock=clock)
        self.bundle = bundle
        self.keep_s = (self._samples.maxlen - 2) * self.every_s

    def refresh(self, scrape) -> None:
        now = self.clock()
        found = self.bundle.between("metrics", now - self.keep_s, now)
        with self._lock:
            self._samples.clear()
            self._samples.extend((t, s["values"], set(s["silent"])) for t, s in found)


class RecordingSource:
    """chaoslab.console.source.Source over a recording, at ``clock()``."""

    def __init__(self, bundle: Bundle, clock: Callable[[], float]):
        self.bundle = bundle
        self.clock = clock
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(bundle.start))
        self.where = f"replay: {bundle.meta.get('where', 'a lab')}, {started}"

    def graph(self, window_s: float) -> Graph:
        now = self.clock()
        found = self.bundle.state("graph300" if window_s > 60 else "graph", now)
        if found is None:
            return Graph(window_s, now, (), ())
        return Graph.from_dict(found)

    def traces_through(
        self, window_s: float, source: str | None = None, target: str | None = None, node: str | None = None
    ) -> dict[str, list[TraceRef]]:
        now = self.clock()

        def wanted(ref: dict) -> bool:
            if node is not None:
                return node in (ref["source"], ref["target"])
            return ref["source"] == source and ref["target"] == target

        ended = [TraceRef(**r) for _, r in self.bundle.between("traces", now - window_s, now) if wanted(r)]
        opened = [TraceRef(**r) for r in self.bundle.state_since("open", now, OPEN_FRESH_S) or () if wanted(r)]
        return {
            "failed": sorted((r for r in ended if r.error), key=lambda r: -r.ended_at)[:TRACE_LIMIT],
            "slow": sorted((r for r in ended if not r.error), key=lambda r: -r.duration_ms)[:TRACE_LIMIT],
            "open": sorted(opened, key=lambda r: -r.duration_ms)[:TRACE_LIMIT],
        }

    def edge_history(self, window_s: float, source: str, target: str) -> list[dict]:
        now, key = self.clock(), f"{source}>{target}"
        points = [
            p
            for _, item in self.bundle.between("history", now - window_s - 60, now)
            if item["edge"] == key
            for p in item["points"]
        ]
        return [p for p in points if now - window_s < p["at"] <= now]

    def trace(self, trace_id: str) -> list[dict] | None:
        return self.bundle.traces.get(trace_id)

    def metrics(self) -> dict[str, str | None]:
        return {}  # the figures come from ReplayHistory

    def processes(self) -> dict[str, str]:
        return self.bundle.state("processes", self.clock()) or {}

    def changes(self, since: float) -> list[dict]:
        now = self.clock()
        return [c for _, c in self.bundle.between("changes", float("-inf"), float("inf")) if since <= c["ts"] <= now]

    def alerts(self) -> dict | None:
        return self.bundle.state("alerts", self.clock())

    def incident(self) -> dict | None:
        found = self.bundle.state("incident", self.clock())
        if found is None:
            return None
        now = self.clock()  # the entries written after the clock had not happened yet
        return found | {"timeline": [e for e in found.get("timeline", []) if e["ts"] <= now]}

    def notices(self, seen: int | None) -> tuple[int, list]:
        return 0, []  # a replay pages nobody

    def status_page(self) -> dict:
        return self.bundle.state("status", self.clock()) or {}

    def faults(self) -> list[dict]:
        return self._answer("faults") or []

    def scenario(self) -> dict | None:
        return self._answer("scenario")

    def score(self) -> dict | None:
        return self._answer("score")

    def gameday(self) -> dict | None:
        return None  # a recording is one team's drill; the room's GameDay is not in it

    def _answer(self, key: str):
        found = self.bundle.answer(self.clock())
        return found.get(key) if found else None


def marks(bundle: Bundle) -> list[dict]:
    """The moments to jump to, in order: ``{"t", "at", "kind", "label"}`` for the incident's timeline
    entries (as the trainees read them), each alert's first firing while no incident was open (after,
    the timeline has it), and each deploy during the recording. ``at`` is when it happened; ``t``, when
    the console first showed it (a note written between two frames is on the page from the next). An
    entry a frame holds is in the recording even when it is dated a moment after that frame's slot (the
    frame is read during its slot): its mark is then at the recording's end, never left out."""
    found = [{"t": bundle.start, "at": bundle.start, "kind": "start", "label": "recording starts"}]
    seen: set[tuple] = set()
    for t, incident in zip(*bundle.states.get("incident", ([], [])), strict=True):
        for entry in (incident or {}).get("timeline", []):
            key = (entry["ts"], entry.get("kind"), entry.get("text"))
            if key not in seen and bundle.start <= entry["ts"]:
                seen.add(key)
                found.append(
                    {
                        "t": min(max(t, entry["ts"]), bundle.end),
                        "at": entry["ts"],
                        "kind": entry.get("kind", "entry"),
                        "label": entry.get("text", ""),
                    }
                )
    firing: set[str] = set()
    times, documents = bundle.states.get("alerts", ([], []))
    for t, document in zip(times, documents, strict=True):
        for alert in (document or {}).get("alerts", []):
            name = alert.get("alert")
            if alert.get("state") == "firing" and name and name not in firing:
                firing.add(name)
                if (bundle.state("incident", t) or {}).get("resolved_at", True) is None:
                    continue  # the open incident's timeline has its page
                found.append({"t": t, "at": t, "kind": "alert", "label": f"{name} fires"})
    for _, change in bundle.between("changes", float("-inf"), float("inf")):
        if bundle.start <= change["ts"] <= bundle.end:
            label = f"deploy {change.get('service', '?')}"
            found.append({"t": change["ts"], "at": change["ts"], "kind": "deploy", "label": label})
    return sorted(found, key=lambda m: m["t"])


class Replay:
    """One recording being replayed: its clock, its source and its business figures."""

    def __init__(self, bundle: Bundle, monotonic: Callable[[], float] = time.monotonic):
        self.bundle = bundle
        self.clock = ReplayClock(bundle.start, bundle.end, monotonic)
        self.source = RecordingSource(bundle, self.clock.now)
        self.history = ReplayHistory(bundle, self.clock.now)
        self.marks = marks(bundle)


def control(clock: ReplayClock, asked) -> None:
    """Apply a page's request: ``{"action": "play", "speed": 10}``, ``pause``, or ``seek`` with ``t``
    (wall seconds within the recording); ValueError says what is wrong with it."""
    action = asked.get("action")
    if action == "seek":
        try:
            t = float(asked.get("t"))
        except (TypeError, ValueError):
            raise ValueError("seek needs t: wall-clock seconds within the recording") from None
        if not clock.start - 1 <= t <= clock.end + 1:
            raise ValueError(f"t must be within the recording ({clock.start:.0f} to {clock.end:.0f})")
        clock.seek(t)
    elif action == "play":
        speed = asked.get("speed")
        try:
            clock.play(int(speed) if speed is not None else None)
        except (TypeError, ValueError):
            raise ValueError(f"speed must be one of {', '.join(map(str, SPEEDS))}") from None
    elif action == "pause":
        clock.pause()
    else:
        raise ValueError("action must be play, pause or seek")


def replay_bar(replay: Replay) -> str:
    """The page's replay controls: play and pause, the speeds, the position, a slider with the marks."""
    clock = replay.clock
    span = max(clock.end - clock.start, 1.0)
    speeds = "".join(
        f'<button type="button" data-speed="{s}"{" class=on" if s == clock.speed else ""}>{s}×</button>' for s in SPEEDS
    )
    marks_html = "".join(
        f'<button type="button" class="mark kind-{esc(m["kind"])}" data-t="{m["t"]:.3f}" '
        f'style="left:{(m["t"] - clock.start) / span * 100:.2f}%" title="{esc(clock_text(m["at"]))} {esc(m["label"])}" '
        f'aria-label="{esc(clock_text(m["at"]))} {esc(m["label"])}"></button>'
        for m in replay.marks
    )
    return (
        f'<div id="replay" class="replay" data-start="{clock.start:.3f}" data-end="{clock.end:.3f}">'
        '<button type="button" id="replay-play" class="pause" title="Play or stop (key: k); j and l jump to the '
        'mark before or after">play</button>'
        f'<span class="speeds" aria-label="speed">{speeds}</span>'
        f'<span id="replay-clock" class="replay-clock">{esc(clock_text(clock.now()))}</span>'
        '<div class="replay-track">'
        f'<input type="range" id="replay-slider" min="{clock.start:.3f}" max="{clock.end:.3f}" step="1" '
        f'value="{clock.now():.3f}" aria-label="position in the recording">'
        f'<div class="replay-marks">{marks_html}</div></div>'
        f'<span class="muted">{len(replay.marks)} marks · {esc(_length(span))}</span></div>'
    )


def _length(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
