"""The diagnosis's memory of spans: facts of the last minutes, and per-frame figures for baselines.

``Recorder.add(spans)`` takes span dicts as the lab daemon receives them (any order, open copies and
their final spans). A finished span becomes a ``Fact`` (chaoslab.diagnose.spans) ``settle_s`` after
it arrived, when its children from other processes have arrived too. Facts are kept raw for
``raw_s`` (the recent window the diagnosis judges) and summed into 5-second frames for ``keep_s``
(the baseline it judges against: median and IQR of each element's frames). Open spans are kept as
their latest copy while they are refreshed, for the calls in flight now.

Memory is bounded: raw facts for two minutes, one small record per element per frame for fifteen,
and the spans of traces that were active in the last minute (references to the dicts the trace
store holds anyway).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chaoslab.diagnose.robust import quantile
from chaoslab.diagnose.spans import REFUSED, TIMEOUT, Element, Fact, OpenCall, facts, open_calls

FRAME_S = 5.0
"""Width of a frame: baselines are learned from per-frame figures."""
OPEN_STALE_S = 3.0
"""An in-flight copy not refreshed for this long belongs to a span that ended or a process that died."""
FORGET_TRACE_S = 60.0
"""A trace quiet this long is dropped from the span buffer (its facts are kept)."""


@dataclass(frozen=True, slots=True)
class FrameStat:
    """One element's spans that ended within one frame."""

    n: int
    errors: int
    origins: int
    rejected: int
    unanswered: int
    timeouts: int
    refused: int
    hung: int
    reentrant: int
    own_p50: float
    own_p95: float
    ms_p95: float


def summarise(found: Iterable[Fact]) -> dict[Element, FrameStat]:
    """Facts → one FrameStat per element (for a frame, or for any window)."""
    grouped: dict[Element, list[Fact]] = {}
    for fact in found:
        grouped.setdefault(fact.element, []).append(fact)
    stats = {}
    for element, group in grouped.items():
        # a call nobody answered has no "own" time to speak of: its duration is a timeout or a refusal
        own = [f.own_ms for f in group if not f.unanswered] or [0.0]
        stats[element] = FrameStat(
            n=len(group),
            errors=sum(f.error for f in group),
            origins=sum(f.origin for f in group),
            rejected=sum(f.rejected for f in group),
            unanswered=sum(f.unanswered for f in group),
            timeouts=sum(f.failure == TIMEOUT and f.unanswered for f in group),
            refused=sum(f.failure == REFUSED and f.unanswered for f in group),
            hung=sum(f.hung for f in group),
            reentrant=sum(f.reentrant for f in group),
            own_p50=round(quantile(own, 0.5), 3),
            own_p95=round(quantile(own, 0.95), 3),
            ms_p95=round(quantile([f.ms for f in group], 0.95), 3),
        )
    return stats


class Recorder:
    def __init__(
        self,
        keep_s: float = 900.0,
        raw_s: float = 120.0,
        settle_s: float = 2.5,
        clock: Callable[[], float] = time.time,
    ):
        self.keep_s = keep_s
        self.raw_s = raw_s
        self.settle_s = settle_s
        self.clock = clock
        self._lock = threading.Lock()
        self._spans: dict[str, dict[str, dict]] = {}  # trace id → span id → latest span dict
        self._active: dict[str, float] = {}  # trace id → when a span of it last arrived
        self._waiting: deque[tuple[float, str, str]] = deque()  # (ready at, trace id, span id)
        self._raw: deque[Fact] = deque()
        self._open_frames: dict[float, list[Fact]] = {}
        self._frames: deque[tuple[float, dict[Element, FrameStat]]] = deque()
        self._first_frame: float | None = None
        self.received = 0

    # ---- feeding ---------------------------------------------------------------------------
    def add(self, spans: Iterable[dict]) -> None:
        now = self.clock()
        with self._lock:
            for span in spans:
                trace = self._spans.setdefault(span["trace_id"], {})
                known = trace.get(span["span_id"])
                if known is not None and not known.get("open"):
                    continue  # a late in-flight copy never replaces the real span
                trace[span["span_id"]] = span
                self._active[span["trace_id"]] = now
                self.received += 1
                if not span.get("open"):
                    self._waiting.append((now + self.settle_s, span["trace_id"], span["span_id"]))
            self._process(now)

    def flush(self) -> None:
        """Turn every span received into facts and close every frame (a finished batch: a trace backend's
        answer)."""
        with self._lock:
            self._process(float("inf"))
            self._close_frames(float("inf"))

    def _process(self, now: float) -> None:
        ready: dict[str, set[str]] = {}
        while self._waiting and self._waiting[0][0] <= now:
            _, trace_id, span_id = self._waiting.popleft()
            ready.setdefault(trace_id, set()).add(span_id)
        for trace_id, span_ids in ready.items():
            spans = self._spans.get(trace_id)
            if spans:
                for fact in facts(list(spans.values()), only=span_ids):
                    self._take(fact)
        if now != float("inf"):
            for trace_id, seen in list(self._active.items()):
                if now - seen > FORGET_TRACE_S:
                    del self._active[trace_id]
                    self._spans.pop(trace_id, None)
            while self._raw and self._raw[0].end < now - self.raw_s:
                self._raw.popleft()
            self._close_frames(now - self.settle_s - FRAME_S)

    def _take(self, fact: Fact) -> None:
        self._raw.append(fact)
        start = fact.end // FRAME_S * FRAME_S
        if self._frames and start <= self._frames[-1][0]:
            return  # its frame is closed already: kept raw only
        self._open_frames.setdefault(start, []).append(fact)
        if self._first_frame is None or start < self._first_frame:
            self._first_frame = start

    def _close_frames(self, before: float) -> None:
        """Sum up every open frame that ended before ``before``; a frame with no spans is kept as empty
        (no traffic is a reading too)."""
        for start in sorted(s for s in self._open_frames if s + FRAME_S <= before):
            while self._frames and self._frames[-1][0] + FRAME_S < start:
                self._frames.append((self._frames[-1][0] + FRAME_S, {}))
            self._frames.append((start, summarise(self._open_frames.pop(start))))
        if before != float("inf") and self._frames:
            while self._frames[-1][0] + 2 * FRAME_S <= before:
                self._frames.append((self._frames[-1][0] + FRAME_S, {}))
            while self._frames and self._frames[0][0] < before - self.keep_s:
                self._frames.popleft()

    # ---- reading ---------------------------------------------------------------------------
    def facts(self, start: float, end: float) -> list[Fact]:
        """Facts of spans that ended within [start, end)."""
        with self._lock:
            self._process(self.clock())
            return [f for f in self._raw if start <= f.end < end]

    def frames(self, start: float, end: float) -> list[tuple[float, dict[Element, FrameStat]]]:
        """Closed frames that began within [start, end), oldest first."""
        with self._lock:
            self._process(self.clock())
            return [(s, stats) for s, stats in self._frames if start <= s < end]

    def open_calls(self) -> list[OpenCall]:
        """Calls in flight now (their in-flight copies refreshed within OPEN_STALE_S)."""
        now = self.clock()
        with self._lock:
            traces = [
                list(spans.values())
                for trace_id, spans in self._spans.items()
                if now - self._active.get(trace_id, 0) <= OPEN_STALE_S and any(s.get("open") for s in spans.values())
            ]
        found = []
        for spans in traces:
            found += open_calls(spans, now)
        return found

    def trace(self, trace_id: str) -> list[dict] | None:
        with self._lock:
            spans = self._spans.get(trace_id)
            return list(spans.values()) if spans else None

    @property
    def since(self) -> float | None:
        """When the first frame it knows of began (None before any span)."""
        return self._first_frame
