"""Every drill recorded while it runs, for the debrief: what the console showed, second by second.

A ``Recorder`` watches one lab through its console source (chaoslab.console.source: the same reads the
pages make, so it records the local lab and a team on Kubernetes alike). A recording starts when a
scenario starts or an incident opens, and ends ``TAIL_S`` after the last of them ended, so the resolve
and the last status update are in it (or after ``LONGEST_S``, and the next goes on). Into the
recording's folder (chaoslab.console.bundle) go:

- every ``FRAME_S``: the 1-minute service graph, the processes, the alerts, the incident as the
  trainees read it, the public status page and the calls still open;
- every ``SAMPLE_S``: the business figures' scrape (only the samples the tiles read), each busy edge's
  new history points, and the failed and slow calls the graph keeps as exemplars;
- every ``SLOW_S``: the 5-minute graph, the change feed (from ``CHANGES_BEFORE_S`` before the start),
  and the answer key (faults, scenario, score), kept apart for the instructor;
- the spans of up to ``TRACES_PER_MIN`` exemplar traces a minute, failed ones first, each fetched
  ``TRACE_SETTLE_S`` after it was first listed so its spans have arrived.

A read that fails leaves its stream as it was (the recording goes on); a recording's size is bounded
by its length (about 0.3 MiB a minute under the default load; ``bench/recording_size.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path

from chaoslab.console.bundle import BadBundle, Writer, listed, seal
from chaoslab.console.business import sample
from chaoslab.console.source import SLOT_S, Source
from chaoslab.servicegraph import SLICE_S

FRAME_S = SLOT_S
"""A frame per slot of the graph (chaoslab.console.source): at the slot's start, with the graph every
reader of that slot saw."""
SAMPLE_S = 5.0
SLOW_S = 10.0
TAIL_S = 30.0
LONGEST_S = 2 * 3600.0
"""A recording is sealed after this and the drill goes on in the next (an incident left open for days
must not grow one file without end)."""
TRACES_PER_MIN = 30
TRACE_SETTLE_S = 10.0
WINDOW_S = 60
CHANGES_BEFORE_S = 4 * 3600
"""The deploys before the drill are part of its story (the recent change): the change feed's reach."""
log = logging.getLogger("chaoslab.console.recording")


def drill_running(source: Source) -> bool:
    """A scenario is running or an incident is open: what a recording covers. An incident a GameDay
    left open is over with the GameDay (`gameday end` graded it as it stood): recording it on would
    keep its recording out of reach and cost the platform what a running drill does."""
    if source.scenario() is not None:
        return True
    incident = source.incident()
    if incident is None or incident.get("resolved_at") is not None:
        return False
    ended = (source.gameday() or {}).get("ended_at")
    return not (ended and incident.get("declared_at", 0) <= ended)


class Recorder:
    def __init__(self, source: Source, folder: Path, team: str, clock=time.time):
        self.source = source
        self.folder = folder
        self.team = team
        self.clock = clock
        self.writer: Writer | None = None
        self._last_drill = 0.0
        self._due = {"sample": 0.0, "slow": 0.0}
        self._changes_since = 0.0
        self._history_seen: dict[str, float] = {}
        self._refs_seen: set[tuple] = set()
        self._to_fetch: deque[tuple[float, bool, str]] = deque()
        self._fetched: set[str] = set()
        self._fetch_times: deque[float] = deque()

    def run(self, stopping: threading.Event) -> None:
        self.seal_leftovers()
        said_at = 0.0
        while not stopping.wait(FRAME_S - self.clock() % FRAME_S + 0.05):  # just inside the next slot
            try:
                self.tick()
            except Exception as exc:  # a recording must never take the lab down with it
                if time.monotonic() - said_at > 60:  # once a minute while its source is out of reach
                    log.warning("recording: a frame was lost: %s: %s", type(exc).__name__, exc)
                    said_at = time.monotonic()
        self.finish()

    def seal_leftovers(self) -> None:
        """Seal the recordings a killed process left open (they replay up to their last whole frame)."""
        for found in listed(self.folder):
            if found.is_dir():
                try:
                    log.info("recording %s was cut short: sealed as %s", found.name, seal(found).name)
                except (BadBundle, OSError) as exc:
                    log.warning("recording %s was cut short and cannot be sealed: %s", found.name, exc)

    def tick(self) -> None:
        now = self.clock()
        now -= now % FRAME_S  # the frame's time: its slot's start
        if drill_running(self.source):
            self._last_drill = now
            if self.writer is not None and now - self.writer.meta["started_at"] >= LONGEST_S:
                self.finish()
            if self.writer is None:
                self._begin(now)
        elif self.writer is not None and now - self._last_drill > TAIL_S:
            self.finish()
        if self.writer is not None:
            self._capture(now)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close(self.clock())
            sealed = seal(self.writer.folder)
            log.info("recording %s ended: %.2f MiB", sealed.name, sealed.stat().st_size / 2**20)
            self.writer = None

    def _begin(self, now: float) -> None:
        name = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{self.team}"
        taken = {p.name.removesuffix(".zip") for p in listed(self.folder)}
        name = next(n for n in (name, *(f"{name}-{i}" for i in range(2, 100))) if n not in taken)
        self.writer = Writer(self.folder / name, {"where": self.source.where, "team": self.team, "started_at": now})
        self._due = {"sample": 0.0, "slow": 0.0}
        self._changes_since = now - CHANGES_BEFORE_S
        self._history_seen.clear()
        self._refs_seen.clear()
        self._to_fetch.clear()
        self._fetched.clear()
        log.info("recording %s", name)

    def _capture(self, now: float) -> None:
        src, values = self.source, {}
        graph = _read(lambda: src.graph(WINDOW_S))
        graph = None if graph is _FAILED else graph
        reads = {
            "processes": src.processes,
            "alerts": src.alerts,
            "incident": src.incident,
            "status": src.status_page,
        }
        if graph is not None:
            values["graph"] = graph.to_dict()
        values |= {stream: found for stream, read in reads.items() if (found := _read(read)) is not _FAILED}
        if now >= self._due["sample"]:
            self._due["sample"] = now + SAMPLE_S
            values |= self._sample(now, graph)
        if now >= self._due["slow"]:
            self._due["slow"] = now + SLOW_S
            wide = _read(lambda: src.graph(300))
            if wide is not _FAILED:
                values["graph300"] = wide.to_dict()
            changes = _read(lambda: src.changes(self._changes_since))
            if changes is not _FAILED:
                self._changes_since = now - SLOW_S - FRAME_S
                values["changes"] = [c for c in changes if self._new(("change", c.get("ts"), c.get("id")))]
            answer = {key: _read(getattr(src, key)) for key in ("faults", "scenario", "score")}
            if _FAILED not in answer.values():
                self.writer.answer(now, answer)
        self.writer.frame(now, {k: v for k, v in values.items() if v is not _FAILED})
        self._fetch_traces(now)

    def _sample(self, now: float, graph) -> dict:
        """The business scrape, new edge history points, and the exemplar calls."""
        src, found = self.source, {}
        scraped = _read(lambda: sample(src.metrics))
        if scraped is not _FAILED:
            merged, silent = scraped
            found["metrics"] = [{"values": merged, "silent": sorted(silent)}]
        if graph is None:
            return found
        busy = [e for e in graph.edges if e.requests or e.in_flight]
        points = []
        for edge in busy:
            key = f"{edge.source}>{edge.target}"
            history = _read(lambda e=edge: src.edge_history(WINDOW_S, e.source, e.target))
            if history is _FAILED:
                continue
            done = [p for p in history if p["at"] + SLICE_S <= now and p["at"] > self._history_seen.get(key, 0)]
            if done:
                self._history_seen[key] = done[-1]["at"]
                points.append({"edge": key, "points": done})
        found["history"] = points
        finished, still_open = [], {}
        for node in {n for e in busy for n in e.key}:
            refs = _read(lambda n=node: src.traces_through(WINDOW_S, node=n))
            if refs is _FAILED:
                continue
            for kind in ("failed", "slow"):
                for ref in refs.get(kind, []):
                    if self._new((ref.trace_id, ref.source, ref.target)):
                        finished.append(asdict(ref))
                        self._to_fetch.append((now + TRACE_SETTLE_S, ref.error, ref.trace_id))
            for ref in refs.get("open", []):
                still_open[(ref.trace_id, ref.source, ref.target)] = asdict(ref)
                if self._new(("open", ref.trace_id)):
                    self._to_fetch.append((now + TRACE_SETTLE_S, True, ref.trace_id))
        found["traces"] = finished
        found["open"] = list(still_open.values())
        return found

    def _fetch_traces(self, now: float) -> None:
        """The spans of the exemplars that have settled, failed first, within the minute's budget."""
        while self._fetch_times and self._fetch_times[0] < now - 60:
            self._fetch_times.popleft()
        due = [item for item in self._to_fetch if item[0] <= now]
        if not due:
            return
        self._to_fetch = deque(item for item in self._to_fetch if item[0] > now)
        for _, _, trace_id in sorted(due, key=lambda item: (not item[1], item[0])):
            if len(self._fetch_times) >= TRACES_PER_MIN:
                break  # the rest of this batch stay listed, without their spans
            if trace_id in self._fetched:
                continue
            spans = _read(lambda t=trace_id: self.source.trace(t))
            if spans is not _FAILED and spans:
                self.writer.trace(trace_id, spans)
                self._fetched.add(trace_id)
                self._fetch_times.append(now)

    def _new(self, key: tuple) -> bool:
        if key in self._refs_seen:
            return False
        self._refs_seen.add(key)
        return True


_FAILED = object()


def _read(read):
    """``read()``, or _FAILED when it raised (logged): one source that fails costs one stream a frame."""
    try:
        return read()
    except Exception as exc:
        log.debug("recording: a read failed: %s", exc)
        return _FAILED
