"""Evidence: what changed in the last seconds against the lab's healthy past, element by element and
service by service, from what a trainee could read.

``Inputs`` is everything the diagnosis may read: span facts and their frames (chaoslab.diagnose.record),
calls in flight, the service graph (chaoslab.servicegraph), the services' metrics
(chaoslab.diagnose.metrics), the change feed as a trainee sees it (fault kinds and scenario ids
blanked, chaoslab.incident.mystery), the processes' states and the alerts (as ``chaoslab alerts``
shows them). Never the fault agents, the audit log, the scenario or the answer key: no implementation
of ``Inputs`` has a way to reach them.

``collect`` compares the **recent window** (the last ``RECENT_S`` seconds) with the **healthy
reference** (chaoslab.diagnose.reference): per measure, its newest ``since`` seconds' worth of values
from 5-second frames judged healthy, however old (a fault older than the window does not become the
norm), trimmed of outliers and summed up as median and IQR (chaoslab.diagnose.robust). Where no healthy
frame taught a baseline (a lab started a minute ago) the lab's design stands in for spans
(``PRIORS``), and metric measures whose healthy value is not zero by design say nothing. A measure is
**anomalous** when it is both several IQRs above its baseline and above an absolute floor
(chaoslab.diagnose.measures): a millisecond is never an incident.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from chaoslab.diagnose import metrics as m
from chaoslab.diagnose.measures import (
    DESIGNED_ZERO,
    MIN_FRAMES,
    PRIORS,
    RULES,
    ZERO,
    rule,
    span_value,
    trimmed,
)
from chaoslab.diagnose.record import FRAME_S, FrameStat, summarise
from chaoslab.diagnose.reference import Reference, RefFrame, Status
from chaoslab.diagnose.robust import RobustBaseline, baseline, slope
from chaoslab.diagnose.spans import CALL, OP, Element, Fact, OpenCall
from chaoslab.servicegraph import Graph
from chaoslab.telemetry import names
from chaoslab.topology import SERVICE_NAMES

RECENT_S = 20.0
"""The window judged against the baseline: long enough for a few calls of every hop, short enough that
a fault shows within one or two evaluations."""
GUARD_S = 5.0
"""A gap between the baseline and the recent window (the frame the onset may sit in)."""
WAITING_S = 3.0
"""An open call its callee has not picked up after this long is waiting (chaoslab.servicegraph)."""


class Inputs(Protocol):
    where: str
    metrics: m.Metrics

    def now(self) -> float: ...

    def facts(self, start: float, end: float) -> list[Fact]: ...

    def frames(self, start: float, end: float) -> list[tuple[float, dict[Element, FrameStat]]]: ...

    def open_calls(self) -> list[OpenCall]: ...

    def graph(self, window_s: float) -> Graph: ...

    def changes(self, since: float) -> list[dict]:
        """The change feed since ``since``, as a trainee reads it (chaoslab.incident.mystery.redact)."""

    def processes(self) -> dict[str, dict]:
        """Process name → {"state": ready | unready | restarting | crash-loop | stopped, "restarts": n},
        datastores included; empty where the target does not say."""

    def alerts(self) -> list[dict]:
        """Pending, firing and recently resolved alerts as ``chaoslab alerts`` shows them: alert, severity,
        state, labels, active_at, fired_at, resolved_at, summary."""


@dataclass(frozen=True)
class Observation:
    name: str
    value: float
    base: RobustBaseline
    score: float
    anomalous: bool

    @property
    def delta(self) -> float:
        return self.value - self.base.median


@dataclass
class Reading:
    """One element (an op, a call, a datastore call) now against its baseline."""

    element: Element
    now: FrameStat | None
    frames: int
    """Reference frames it had traffic in."""
    measures: dict[str, Observation] = field(default_factory=dict)
    open: list[OpenCall] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    """Trace ids to open: failed first, then the slowest."""
    silent: bool = False
    """It carried traffic in the reference and none now."""
    onset: float | None = None

    def anomalous(self, *names: str) -> bool:
        return any(self.measures[n].anomalous for n in names if n in self.measures)

    @property
    def anomalies(self) -> list[str]:
        return [n for n, x in self.measures.items() if x.anomalous]

    @property
    def waiting(self) -> list[OpenCall]:
        """Open calls the callee has not picked up for WAITING_S."""
        return [c for c in self.open if not c.answered and c.age_s >= WAITING_S]


@dataclass
class ServiceState:
    """One service's process and business metrics now against their baseline."""

    service: str
    up: bool = True
    unscraped: int = 0
    """Scrapes in the recent window its /metrics did not answer (busy or down: not a restart by itself)."""
    restarts: list[str] = field(default_factory=list)
    """Why it is believed to have restarted (a new start time, its process state)."""
    restarted_at: float | None = None
    cpu: Observation | None = None
    rss: Observation | None = None
    """Resident memory (MiB) against the reference's."""
    rss_mb: float | None = None
    rss_slope: float | None = None
    """MiB per second over the recent minute."""
    rss_rise_mb: float | None = None
    peer_errors: dict[str, Observation] = field(default_factory=dict)
    """Per peer (postgres, redis, another service): failed calls per second, seen by this caller."""
    statements: dict[str, Observation] = field(default_factory=dict)
    """Per route: PostgreSQL statements per request."""
    queue: Observation | None = None
    queue_slope: float | None = None
    jobs_rate: Observation | None = None
    backlog: Observation | None = None
    backlog_slope: float | None = None
    drift: float | None = None
    drift_slope: float | None = None
    in_flight: float | None = None
    breaker_open: list[str] = field(default_factory=list)
    """Peers whose circuit breaker was open at some scrape of the recent window (half-open probes
    close it for a moment, so the last scrape alone would flicker)."""


@dataclass
class Evidence:
    at: float
    since_s: float
    where: str
    readings: dict[Element, Reading]
    services: dict[str, ServiceState]
    graph: Graph
    changes: list[dict]
    processes: dict[str, dict]
    facts: int
    """Spans judged in the recent window."""
    baseline_frames: int
    scrapes: int
    alerts: list[dict] = field(default_factory=list)
    """Alerts pending or firing now."""
    reference: Status = field(default_factory=Status)

    def reading(self, element: Element) -> Reading | None:
        return self.readings.get(element)

    def of(self, kind: str, service: str | None = None) -> list[Reading]:
        return [
            r for r in self.readings.values() if r.element[0] == kind and (service is None or r.element[1] == service)
        ]

    def failing_fast_on(self, service: str) -> list[str]:
        """The peers ``service`` stopped calling because its circuit breaker on them opened after they
        failed in their own handling: its errors are then theirs, passed on without a call, so only the
        calls before the breaker opened (and its probes) show them. A breaker opened by a cut link is
        not the peer's failure: the peer never saw those calls."""
        state = self.services.get(service)
        if state is None:
            return []
        failed = {r.element[1] for r in self.of(OP) if r.anomalous("origins", "own")}
        failed |= {  # the breaker's probes, one per reset period, too few to be judged but answered failed
            r.element[2] for r in self.of(CALL, service) if r.now is not None and r.now.errors > r.now.unanswered
        }
        return [peer for peer in state.breaker_open if peer in failed]


# ---- spans ---------------------------------------------------------------------------------------
def newest(values, count: int) -> list[float]:
    """The newest ``count`` values that are there (a value the reference left out is not), from the
    reference's frames newest first: a measure left out for a while reaches further back."""
    found = []
    for value in values:
        if value is not None:
            found.append(value)
            if len(found) == count:
                break
    return found


def _reading(
    element: Element,
    now: FrameStat | None,
    reference: list[RefFrame],
    count: int,
    opened: list[OpenCall],
    recent: list[Fact],
) -> Reading:
    window = reference[-count:]
    busy = [f for f in window if (s := f.stats.get(element)) is not None and s.n]
    reading = Reading(element, now, len(busy), open=opened)
    kind = element[0]
    learned = len(busy) >= MIN_FRAMES

    def measure(name: str, value: float, fallback: RobustBaseline) -> None:
        judge = rule(name, kind)
        series = newest((f.span(element, name) for f in reversed(reference)), count)
        base = (trimmed(series, judge) if learned and len(series) >= MIN_FRAMES else None) or fallback
        score, anomalous = judge.judge(value, base)
        reading.measures[name] = Observation(name, round(value, 4), base, score, anomalous)

    waiting = len(reading.waiting)
    if now is not None and now.n:
        measure("own", now.own_p95, PRIORS[("own", kind)])
        measure("ms", now.ms_p95, PRIORS[("ms", kind)])
        measure("errors", span_value(now, "errors", smoothed=True), ZERO)
        measure("origins", span_value(now, "origins", smoothed=True), ZERO)
        if kind == OP:
            measure("rejected", span_value(now, "rejected", smoothed=True), ZERO)
    if kind == CALL and now is not None and now.n:
        measure("hung", span_value(now, "hung", smoothed=True), ZERO)
    if kind == CALL and ((now is not None and now.n) or waiting):
        total = (now.n if now else 0) + waiting
        unanswered = (now.unanswered if now else 0) + waiting
        measure("unanswered", unanswered / total if unanswered >= 2 else 0.0, ZERO)
    if learned and (now is None or not now.n) and not opened:
        rates = sorted(f.stats[element].n for f in busy)
        reading.silent = rates[len(rates) // 2] / FRAME_S >= 0.5 and len(busy) >= len(window) // 2
    failed = [f.trace_id for f in recent if f.error]
    slow = [f.trace_id for f in sorted(recent, key=lambda f: -f.own_ms)]
    waiting_ids = [c.trace_id for c in sorted(reading.waiting or opened, key=lambda c: -c.age_s)]
    reading.examples = list(dict.fromkeys(waiting_ids[:2] + failed[:3] + slow[:3]))[:4]
    return reading


def _onset(reading: Reading, frames: list[tuple[float, dict[Element, FrameStat]]]) -> float | None:
    """The start of the run of frames, ending now, in which the element's first anomalous measure held
    (None when it began within the recent window)."""
    names = reading.anomalies
    if not names:
        return None
    name = names[0]
    if name not in ("own", "ms", "errors", "origins", "unanswered", "rejected", "hung"):
        return None
    judge, base = rule(name, reading.element[0]), reading.measures[name].base
    onset = None
    for start, stats in reversed(frames):
        stat = stats.get(reading.element)
        if stat is None or not stat.n or not judge.judge(span_value(stat, name), base)[1]:
            break
        onset = start
    return onset


# ---- metrics -------------------------------------------------------------------------------------
def _measure(name: str, recent: list[float], history: list[float]) -> Observation | None:
    """The recent values' mean against the reference's trimmed baseline; before the reference learned
    one, only a measure whose healthy value is zero by design can be anomalous."""
    if not recent:
        return None
    rule = RULES[name]
    value = sum(recent) / len(recent)
    base = trimmed(history, rule) if len(history) >= MIN_FRAMES else None
    if base is None and name not in DESIGNED_ZERO:
        return Observation(name, round(value, 4), ZERO, 0.0, False)
    score, anomalous = rule.judge(value, base or ZERO)
    return Observation(name, round(value, 4), base or ZERO, score, anomalous)


@dataclass
class _Scrapes:
    """The scrape history as one look reads it: ``start`` opens the look-back window, ``cut`` the recent
    window judged now."""

    metrics: m.Metrics
    now: float
    start: float
    cut: float

    def each(
        self, name: str, found: dict[str, ServiceState], begin: float | None = None
    ) -> Iterator[tuple[ServiceState, list[m.TimeSeries]]]:
        """(state, its series of ``name`` since ``begin``) for each known service that exposes it."""
        since = self.start if begin is None else begin
        for service, group in m.by_service(self.metrics.select(name, since, self.now)).items():
            if (state := found.get(service)) is not None:
                yield state, group


def _longest(group: list[m.TimeSeries]) -> list[tuple[float, float]]:
    return max(group, key=lambda s: len(s.points)).points


def _services(
    metrics: m.Metrics, processes: dict[str, dict], now: float, since_s: float, reference: list[RefFrame], count: int
) -> dict[str, ServiceState]:
    """What each service's own figures and process say, one family of facts at a time."""
    scrapes = _Scrapes(metrics, now, now - since_s, now - RECENT_S)
    found = {s: ServiceState(s) for s in SERVICE_NAMES}
    _liveness(scrapes, found)
    _restarts(scrapes, found)
    _process_states(processes, found)
    _judged(scrapes, found, reference, count)
    _memory(scrapes, found)
    _growth(scrapes, found)
    _busy(scrapes, found)
    return found


def _liveness(scrapes: _Scrapes, found: dict[str, ServiceState]) -> None:
    """Down: its /metrics missed a recent scrape (how many, and whether the last one too)."""
    for state, group in scrapes.each("up", found, scrapes.cut):
        recent = [v for s in group for _, v in s.points]
        if recent and min(recent) < 1:
            state.up = recent[-1] >= 1
            state.unscraped = sum(v < 1 for v in recent)


def _restarts(scrapes: _Scrapes, found: dict[str, ServiceState]) -> None:
    """A new process start time inside the window is a restart."""
    for state, group in scrapes.each(names.START_TIME, found):
        values = sorted({round(v) for s in group for _, v in s.points})
        if len(values) > 1 and values[-1] >= scrapes.start:
            state.restarts.append(f"its process started again at {_clock(values[-1])} ({names.START_TIME})")
            state.restarted_at = float(values[-1])


def _process_states(processes: dict[str, dict], found: dict[str, ServiceState]) -> None:
    """What the supervisor (or the pod's status) says: restarting, crash-looping, stopped."""
    for name, doc in processes.items():
        state = found.get(name)
        if state is not None and doc.get("state") in ("restarting", "crash-loop", "stopped"):
            state.up = False
            state.restarts.append(f"its process is {doc['state']} ({doc.get('restarts', 0)} restarts)")


def _judged(scrapes: _Scrapes, found: dict[str, ServiceState], reference: list[RefFrame], count: int) -> None:
    """The recent window's figures against the healthy reference's, one measure each (jobs: idle when
    the worker takes under a fifth of its usual rate)."""
    cut = scrapes.cut
    for key, points in m.points(scrapes.metrics, cut - 2 * FRAME_S, scrapes.now, FRAME_S).items():
        name, service, label = key
        state = found.get(service)
        recent = [v for t, v in points if t >= cut]
        if state is None or not recent:
            continue
        history = newest((f.metric(key) for f in reversed(reference)), count)
        if name == "jobs":
            base = baseline(history) or ZERO
            value = sum(recent) / len(recent)
            idle = base.median >= 0.2 and value < 0.2 * base.median
            state.jobs_rate = Observation("jobs", round(value, 3), base, 0.0, idle)
            continue
        measure = _measure(name, recent, history)
        if name in ("peer_errors", "statements"):
            getattr(state, name)[label] = measure
        else:
            setattr(state, name, measure)


def _memory(scrapes: _Scrapes, found: dict[str, ServiceState]) -> None:
    """The last minute of resident memory: where it stands, how fast it climbs, how far it rose."""
    for state, group in scrapes.each(names.RESIDENT_MEMORY, found, scrapes.now - 60):
        minute = [(t, v / m.MIB) for t, v in _longest(group)]
        state.rss_mb = round(minute[-1][1], 1)
        rising = slope(minute)
        state.rss_slope = round(rising, 2) if rising is not None else None
        state.rss_rise_mb = round(minute[-1][1] - min(v for _, v in minute), 1)


def _growth(scrapes: _Scrapes, found: dict[str, ServiceState]) -> None:
    """What piles up: the queue and the outbox over the last 45 s, the ledger's gap over the window."""
    for metric, slope_of in ((names.QUEUE_DEPTH, "queue_slope"), (names.OUTBOX_BACKLOG, "backlog_slope")):
        for state, group in scrapes.each(metric, found, scrapes.now - 45):
            setattr(state, slope_of, _rounded(slope(_longest(group))))
    for state, group in scrapes.each(names.LEDGER_DRIFT, found):
        points = _longest(group)
        state.drift = round(points[-1][1], 2)
        state.drift_slope = _rounded(slope([p for p in points if p[0] >= scrapes.now - 60]), 4)


def _busy(scrapes: _Scrapes, found: dict[str, ServiceState]) -> None:
    """Handlers busy now (HTTP or gRPC, whichever is more) and the peers a breaker fails fast on."""
    for name in (names.HTTP_IN_FLIGHT, names.RPC_IN_FLIGHT):
        for state, group in scrapes.each(name, found, scrapes.cut):
            value = m.last(_longest(group))
            if value is not None:
                state.in_flight = max(state.in_flight or 0.0, value)
    for state, group in scrapes.each(names.BREAKER_OPEN, found, scrapes.cut):
        state.breaker_open = [s.labels.get("peer", "?") for s in group if max((v for _, v in s.points), default=0) >= 1]


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


# ---- all of it -----------------------------------------------------------------------------------
def collect(inputs: Inputs, since_s: float = 300.0, reference: Reference | None = None) -> Evidence:
    """Everything the diagnosis judges, as of now. ``reference``: the lab's healthy reference, kept
    up to date by its owner (the lab daemon); without one, a reference is judged from the frames of
    the ``since`` window alone."""
    if reference is None:
        reference = Reference(keep_s=since_s, judge_after_s=RECENT_S + GUARD_S)
    reference.update(inputs)
    now = inputs.now()
    count = round(since_s / FRAME_S)
    healthy = reference.latest()
    recent_facts = inputs.facts(now - RECENT_S, now + 1)
    current = summarise(recent_facts)
    frames = inputs.frames(now - since_s, now - RECENT_S - GUARD_S)
    opened: dict[Element, list[OpenCall]] = {}
    for call in inputs.open_calls():
        opened.setdefault(call.element, []).append(call)
    by_element: dict[Element, list[Fact]] = {}
    for fact in recent_facts:
        by_element.setdefault(fact.element, []).append(fact)
    known = {e for f in healthy[-count:] for e in f.stats}
    readings = {}
    for element in set(current) | known | set(opened):
        reading = _reading(
            element, current.get(element), healthy, count, opened.get(element, []), by_element.get(element, [])
        )
        reading.onset = _onset(reading, frames)
        readings[element] = reading
    processes = inputs.processes()
    return Evidence(
        at=now,
        since_s=since_s,
        where=inputs.where,
        readings=readings,
        services=_services(inputs.metrics, processes, now, since_s, healthy, count),
        graph=inputs.graph(max(30.0, RECENT_S)),
        changes=inputs.changes(now - since_s),
        processes=processes,
        facts=len(recent_facts),
        baseline_frames=len(healthy[-count:]),
        scrapes=getattr(inputs.metrics, "scrapes", 0),
        alerts=[a for a in inputs.alerts() if a.get("state") in ("pending", "firing")],
        reference=reference.status,
    )
