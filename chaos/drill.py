"""Drill runs: every ``scenario start`` is one run with an id of its own, and its life on the team's board.

A *scenario* is a catalogue entry; a *run* is one time it was played. The run's id (``run-…``) is
what an incident is bound to when it is declared (chaoslab.incident.record), so a grade never comes
from matching time windows and never changes when later drills start.

The board journal (``drills.jsonl``) says only what every trainee may know of a run: its id, when it
started, when its faults expire (and when that was moved later), its breaks (a GameDay paused: the
drill's clock stops, its faults live on), whether it is a mystery, how it ended (stopped, reset) and
when it was revealed. It never names the scenario: the instructor's audit log
maps a run to its scenario, its faults and its trigger (``scenario.started`` carries the same id). A
run ends in one of three ways: ``stop`` or ``reset`` (someone ended it), or its time limit (``ends_at``
passed: the faults expired, the run is *expired*; nothing is written then, the time says it).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from chaoslab import command
from chaoslab.chaos.journal import Journal, Store
from chaoslab.timefmt import clock

DRILLS = "drills.jsonl"
"""Store key of the board's drill journal (trainee-readable: it never names a scenario)."""


def new_run_id() -> str:
    return f"run-{secrets.token_hex(4)}"


Break = tuple[float, float]
"""A break in a drill: (from, until), wall-clock seconds; the drill's clock stands still in between."""


def break_refusal(until: float) -> str:
    """What a move made during a break is told, wherever it is refused."""
    return f"the drill is on a break until {clock(until)}: moves wait for its end (`{command('gameday status')}`)"


def on_break(breaks: list[Break], start: float, end: float) -> float:
    """Seconds of ``[start, end)`` that fell on a break."""
    return sum(max(0.0, min(end, until) - max(start, since)) for since, until in breaks)


def played(breaks: list[Break], start: float, end: float) -> float:
    """Seconds of play from ``start`` to ``end``: the wall-clock time with the breaks left out."""
    return (end - start) - on_break(breaks, start, end)


def after_play(breaks: list[Break], start: float, seconds: float) -> float:
    """The wall-clock time at which ``seconds`` of play have passed since ``start`` (a deadline: a break
    moves it later by as much of the break as falls before it)."""
    at, left = start, seconds
    for since, until in sorted(breaks):
        if until <= at:
            continue
        if since >= at + left:
            break
        left -= max(0.0, since - at)
        at = until
    return at + left


@dataclass
class Run:
    """One run of a scenario, as the board knows it."""

    id: str
    started_at: float
    ends_at: float
    """When its faults expire (its time limit)."""
    mystery: bool
    stopped_at: float | None = None
    stop_reason: str | None = None
    """``stop`` or ``reset``."""
    revealed_at: float | None = None
    healthy: dict | None = None
    """The lab's own figures under the drill's traffic just before its faults went in (``verify`` judges
    latency against them where an absolute figure cannot be fair), or None when none were measured."""
    story: str = ""
    """A mystery's story, told from the symptom (chaos/stories.yaml): the team may read it again."""
    breaks: list[Break] = field(default_factory=list)
    """Its breaks, oldest first: the drill's clock (its scores, its deadlines) stood still in each."""
    pauses: set[str] = field(default_factory=set)
    """The ids of the pauses that began its breaks (``DrillJournal.paused``)."""

    @property
    def ended_at(self) -> float:
        """When its faults stopped being in force: stopped, or its time limit."""
        return self.ends_at if self.stopped_at is None else min(self.stopped_at, self.ends_at)

    def running(self, now: float | None = None) -> bool:
        return self.ended_at > (time.time() if now is None else now)

    def expired(self, now: float | None = None) -> bool:
        """Ended by its time limit, not by anyone."""
        now = time.time() if now is None else now
        return self.ends_at <= now and (self.stopped_at is None or self.stopped_at >= self.ends_at)

    def stage(self, now: float | None = None) -> str:
        """``running``, ``expired`` (its time limit ended it) or ``stopped`` (stop or reset did)."""
        if self.running(now):
            return "running"
        return "expired" if self.expired(now) else "stopped"

    def on_break(self, now: float | None = None) -> Break | None:
        """The break the run is on at ``now`` (while it runs), or None."""
        now = time.time() if now is None else now
        if not self.running(now):
            return None
        return next(((since, until) for since, until in self.breaks if since <= now < until), None)

    def covers(self, ts: float) -> bool:
        """Whether ``ts`` falls while the run was being played (from its start to its end)."""
        return self.started_at <= ts < self.ended_at


class DrillJournal:
    """The board's drill journal of one lab: written by the controller, read by everyone."""

    def __init__(self, store: Store):
        self.journal = Journal(store, DRILLS)

    def started(
        self, run: str, started_at: float, ends_at: float, mystery: bool, healthy: dict | None, story: str = ""
    ) -> None:
        fields = ({"healthy": healthy} if healthy else {}) | ({"story": story} if story else {})
        self.journal.append("drill.started", run=run, started_at=started_at, ends_at=ends_at, mystery=mystery, **fields)

    def ended(self, run: str, reason: str) -> None:
        self.journal.append("drill.ended", run=run, reason=reason)

    def extended(self, run: str, ends_at: float) -> None:
        """The run's time limit moved later (a GameDay given more time): its faults now expire then."""
        self.journal.append("drill.extended", run=run, ends_at=ends_at)

    def paused(self, run: str, since: float, until: float) -> bool:
        """A break from ``since`` to ``until``: the run's clock stops. Whether this pause began it: of two
        at the same moment, the one written first does, and the other is left out (it must not move
        the drill's time limit a second time)."""
        pause = secrets.token_hex(4)
        self.journal.append("drill.paused", ts=since, run=run, until=until, pause=pause)
        found = self.get(run)
        return found is not None and pause in found.pauses

    def resumed(self, run: str, at: float | None = None) -> None:
        """The break in progress ends now (or ``at``: its start, for a break that never was), before its time."""
        self.journal.append("drill.resumed", ts=at, run=run)

    def revealed(self, run: str) -> None:
        self.journal.append("drill.revealed", run=run)

    def runs(self) -> list[Run]:
        """Every run, oldest first (a torn or foreign line is skipped)."""
        found: dict[str, Run] = {}
        for item in self.journal.entries(as_written=True):  # a pause's claim (``paused``) is decided so
            run_id = item.get("run")
            if not isinstance(run_id, str):
                continue
            if item.get("event") == "drill.started":
                try:
                    found[run_id] = Run(
                        run_id,
                        float(item["started_at"]),
                        float(item["ends_at"]),
                        bool(item.get("mystery")),
                        healthy=item.get("healthy") if isinstance(item.get("healthy"), dict) else None,
                        story=str(item.get("story") or ""),
                    )
                except (KeyError, TypeError, ValueError):
                    continue
            elif run_id in found:
                run = found[run_id]
                if item.get("event") == "drill.ended" and run.stopped_at is None:
                    run.stopped_at, run.stop_reason = float(item["ts"]), str(item.get("reason", "stop"))
                elif item.get("event") == "drill.extended" and run.stopped_at is None:
                    try:
                        run.ends_at = max(run.ends_at, float(item["ends_at"]))
                    except (KeyError, TypeError, ValueError):
                        continue
                elif item.get("event") == "drill.paused" and run.stopped_at is None:
                    try:
                        since, until = float(item["ts"]), float(item["until"])
                    except (KeyError, TypeError, ValueError):
                        continue
                    if run.breaks and since < run.breaks[-1][1]:
                        continue  # a second pause at the same moment: the first began the break
                    run.breaks.append((since, until))
                    run.pauses.add(str(item.get("pause")))
                elif item.get("event") == "drill.resumed" and run.breaks:
                    since, until = run.breaks[-1]
                    run.breaks[-1] = (since, max(since, min(until, float(item["ts"]))))
                elif item.get("event") == "drill.revealed" and run.revealed_at is None:
                    run.revealed_at = float(item["ts"])
        return sorted(found.values(), key=lambda r: r.started_at)

    def get(self, run_id: str | None) -> Run | None:
        return next((r for r in self.runs() if r.id == run_id), None) if run_id else None

    def latest(self) -> Run | None:
        runs = self.runs()
        return runs[-1] if runs else None

    def at(self, ts: float) -> Run | None:
        """The run being played at ``ts`` (None: no drill was); what a new incident is bound to."""
        return next((r for r in reversed(self.runs()) if r.covers(ts)), None)
