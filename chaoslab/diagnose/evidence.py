"""Evidence: what changed in the last seconds against the lab's own recent past, element by element
and service by service, from what a trainee could read.

``Inputs`` is everything the diagnosis may read: span facts and their frames (chaoslab.diagnose.record),
calls in flight, the service graph (chaoslab.telemetry.servicegraph), the services' metrics
(chaoslab.diagnose.metrics), the change feed as a trainee sees it (fault kinds and scenario ids
blanked, chaoslab.console.trainee) and the processes' states. Never the fault agents, the audit
log, the scenario or the answer key: no implementation of ``Inputs`` has a way to reach them.

``collect`` compares the **recent window** (the last ``RECENT_S`` seconds) with a **baseline**: the
5-second frames of the ``since`` window before it, trimmed of frames that are themselves outliers (a
fault older than the recent window must not become the norm), as median and IQR per measure
(chaoslab.diagnose.robust). Where no frame taught a baseline (a lab started a minute ago) the lab's
design stands in for it (``PRIORS``). A measure is **anomalous** when it is both several IQRs
above its baseline and above an absolute floor (``Rule``): a millisecond is never an incident.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Protocol

from chaoslab.diagnose import metrics as m
from chaoslab.diagnose.record import FRAME_S, FrameStat, summarise
from chaoslab.diagnose.robust import Baseline, baseline, prior, slope
from chaoslab.diagnose.spans import CALL, DB, OP, Element, Fact, OpenCall
from chaoslab.telemetry.servicegraph import Graph
from chaoslab.topology import SERVICE_NAMES

RECENT_S = 20.0
"""The window judged against the baseline: long enough for a few calls of every hop, short enough that
a fault shows within one or two evaluations."""
GUARD_S = 5.0
"""A gap between the baseline and the recent window (the frame the onset may sit in)."""
WAITING_S = 3.0
"""An open call its callee has not picked up after this long is waiting (chaoslab.telemetry.servicegraph)."""
MIN_FRAMES = 4
"""Frames with traffic an element needs before its baseline is learned rather than assumed."""


class Inputs(Protocol):
    where: str
    metrics: m.Metrics

    def now(self) -> float: ...

    def facts(self, start: float, end: float) -> list[Fact]: ...

    def frames(self, start: float, end: float) -> list[tuple[float, dict[Element, FrameStat]]]: ...

    def open_calls(self) -> list[OpenCall]: ...

    def graph(self, window_s: float) -> Graph: ...

    def changes(self, since: float) -> list[dict]:
        """The change feed since ``since``, as a trainee reads it (chaoslab.console.trainee.redact)."""

    def processes(self) -> dict[str, dict]:
        """Process name → {"state": ready | unready | restarting | crash-loop | stopped, "restarts": n};
        empty where the target does not say (the cluster: pods are read elsewhere)."""


@dataclass(frozen=True)
class Rule:
    """When a measure is anomalous: ``score`` IQRs above the baseline and ``delta`` above its median,
    the IQR never taken below ``floor`` (absolute) or ``relative`` × the median."""

    score: float
    delta: float
    floor: float
    relative: float = 0.0

    def judge(self, value: float, base: Baseline) -> tuple[float, bool]:
        z = base.score(value, max(self.floor, self.relative * abs(base.median)))
        return round(z, 1), z >= self.score and value - base.median >= self.delta


RULES: dict[str, Rule] = {
    "own": Rule(score=4, delta=25.0, floor=5.0, relative=0.15),
    "ms": Rule(score=4, delta=40.0, floor=10.0, relative=0.15),
    "errors": Rule(score=3, delta=0.05, floor=0.02),
    "origins": Rule(score=3, delta=0.05, floor=0.02),
    "unanswered": Rule(score=3, delta=0.10, floor=0.02),
    "hung": Rule(score=3, delta=0.10, floor=0.02),
    "rejected": Rule(score=3, delta=0.10, floor=0.02),
    "cpu": Rule(score=4, delta=0.25, floor=0.05, relative=0.2),
    "peer_errors": Rule(score=3, delta=0.2, floor=0.05),
    "statements": Rule(score=4, delta=3.0, floor=0.5, relative=0.2),
    "queue": Rule(score=4, delta=5.0, floor=1.0),
    "backlog": Rule(score=4, delta=3.0, floor=1.0),
}
"""Per measure: how far above its baseline counts (ms for times, shares for errors, cores for CPU,
errors per second for peer errors, statements per request, jobs for queues)."""

PRIORS: dict[tuple[str, str], Baseline] = {
    ("own", OP): prior(15.0, 15.0),
    ("own", CALL): prior(3.0, 5.0),
    ("own", DB): prior(3.0, 5.0),
    ("ms", OP): prior(60.0, 60.0),
    ("ms", CALL): prior(30.0, 30.0),
    ("ms", DB): prior(3.0, 5.0),
}
"""What the healthy lab does when no frame taught otherwise: hops of a few ms, no errors (a design
default, like the console's objectives)."""
ZERO = prior(0.0, 0.0)


@dataclass(frozen=True)
class Measure:
    name: str
    value: float
    base: Baseline
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
    """Baseline frames it had traffic in."""
    measures: dict[str, Measure] = field(default_factory=dict)
    open: list[OpenCall] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    """Trace ids to open: failed first, then the slowest."""
    silent: bool = False
    """It carried traffic in the baseline and none now."""
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
    cpu: Measure | None = None
    rss_mb: float | None = None
    rss_slope: float | None = None
    """MiB per second over the recent minute."""
    rss_rise_mb: float | None = None
    peer_errors: dict[str, Measure] = field(default_factory=dict)
    """Per peer (postgres, redis, another service): failed calls per second, seen by this caller."""
    statements: dict[str, Measure] = field(default_factory=dict)
    """Per route: PostgreSQL statements per request."""
    queue: Measure | None = None
    queue_slope: float | None = None
    jobs_rate: Measure | None = None
    backlog: Measure | None = None
    backlog_slope: float | None = None
    drift: float | None = None
    drift_slope: float | None = None
    in_flight: float | None = None
    breaker_open: list[str] = field(default_factory=list)


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

    def reading(self, element: Element) -> Reading | None:
        return self.readings.get(element)

    def of(self, kind: str, service: str | None = None) -> list[Reading]:
        return [
            r for r in self.readings.values() if r.element[0] == kind and (service is None or r.element[1] == service)
        ]


# ---- spans ---------------------------------------------------------------------------------------
def _trimmed(values: list[float], rule: Rule) -> Baseline | None:
    """Median and IQR, then again without the frames that are anomalous against the first pass (a fault
    that began before the recent window must not become the baseline)."""
    first = baseline(values)
    if first is None or len(values) < MIN_FRAMES:
        return first
    kept = [v for v in values if not rule.judge(v, first)[1]]
    return baseline(kept) if len(kept) >= MIN_FRAMES else first


def _reading(
    element: Element,
    now: FrameStat | None,
    history: list[FrameStat | None],
    opened: list[OpenCall],
    recent: list[Fact],
) -> Reading:
    busy = [h for h in history if h is not None and h.n]
    reading = Reading(element, now, len(busy), open=opened)
    kind = element[0]
    learned = len(busy) >= MIN_FRAMES

    def measure(name: str, value: float, series: list[float], fallback: Baseline) -> None:
        rule = RULES[name]
        base = _trimmed(series, rule) if learned else fallback
        base = base or fallback
        score, anomalous = rule.judge(value, base)
        reading.measures[name] = Measure(name, round(value, 4), base, score, anomalous)

    waiting = len(reading.waiting)
    if now is not None and now.n:
        measure("own", now.own_p95, [h.own_p95 for h in busy], PRIORS[("own", kind)])
        measure("ms", now.ms_p95, [h.ms_p95 for h in busy], PRIORS[("ms", kind)])
        enough = now.errors >= 2
        measure("errors", now.errors / now.n if enough else 0.0, [h.errors / h.n for h in busy], ZERO)
        measure("origins", now.origins / now.n if now.origins >= 2 else 0.0, [h.origins / h.n for h in busy], ZERO)
        if kind == OP:
            measure(
                "rejected", now.rejected / now.n if now.rejected >= 3 else 0.0, [h.rejected / h.n for h in busy], ZERO
            )
    if kind == CALL and now is not None and now.n:
        measure("hung", now.hung / now.n if now.hung >= 2 else 0.0, [h.hung / h.n for h in busy], ZERO)
    if kind == CALL and ((now is not None and now.n) or waiting):
        total = (now.n if now else 0) + waiting
        unanswered = (now.unanswered if now else 0) + waiting
        share = unanswered / total if unanswered >= 2 else 0.0
        measure("unanswered", share, [h.unanswered / h.n for h in busy], ZERO)
    if learned and (now is None or not now.n) and not opened:
        rates = sorted(h.n for h in busy)
        reading.silent = rates[len(rates) // 2] / FRAME_S >= 0.5 and len(busy) >= len(history) // 2
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
    rule, base = RULES[name], reading.measures[name].base
    onset = None
    for start, stats in reversed(frames):
        stat = stats.get(reading.element)
        if stat is None or not stat.n:
            break
        value = {
            "own": stat.own_p95,
            "ms": stat.ms_p95,
            "errors": stat.errors / stat.n,
            "origins": stat.origins / stat.n,
            "unanswered": stat.unanswered / stat.n,
            "rejected": stat.rejected / stat.n,
            "hung": stat.hung / stat.n,
        }[name]
        if not rule.judge(value, base)[1]:
            break
        onset = start
    return onset


# ---- metrics -------------------------------------------------------------------------------------
def _gauge(name: str, group: list, cut: float, now: float) -> tuple[Measure | None, float | None]:
    """A gauge that should sit near zero (queue depth, outbox backlog): its level against its own
    baseline, and how fast it moved over the last 45 s (a growing backlog is the symptom, not its size)."""
    points = max(group, key=lambda s: len(s.points)).points
    measure = _metric_measure(name, [p for p in points if p[0] >= cut], [p for p in points if p[0] < cut - GUARD_S])
    return measure, _rounded(slope([p for p in points if p[0] >= now - 45]))


def _metric_measure(name: str, recent: list[tuple[float, float]], history: list[tuple[float, float]]) -> Measure | None:
    """A measure from per-interval values: the recent ones' mean against the history's trimmed baseline."""
    if not recent:
        return None
    rule = RULES[name]
    value = sum(v for _, v in recent) / len(recent)
    base = _trimmed([v for _, v in history], rule) if len(history) >= MIN_FRAMES else None
    base = base or ZERO
    score, anomalous = rule.judge(value, base)
    return Measure(name, round(value, 4), base, score, anomalous)


def _services(metrics: m.Metrics, processes: dict[str, dict], now: float, since_s: float) -> dict[str, ServiceState]:
    start, cut = now - since_s, now - RECENT_S
    found = {s: ServiceState(s) for s in SERVICE_NAMES}

    def series(name: str, **labels: str) -> dict[str, list[m.Series]]:
        return m.by_service(metrics.select(name, start, now, **labels))

    for service, group in series("up").items():
        state = found.get(service)
        if state is None:
            continue
        recent = [v for s in group for t, v in s.points if t >= cut]
        if recent and min(recent) < 1:
            state.up = recent[-1] >= 1
            state.unscraped = sum(v < 1 for v in recent)
    for service, group in series("process_start_time_seconds").items():
        state = found.get(service)
        values = sorted({round(v) for s in group for _, v in s.points})
        if state is not None and len(values) > 1 and values[-1] >= start:
            state.restarts.append(f"its process started again at {_clock(values[-1])} (process_start_time_seconds)")
            state.restarted_at = float(values[-1])
    for name, doc in processes.items():
        state = found.get(name)
        if state is None:
            continue
        if doc.get("state") in ("restarting", "crash-loop", "stopped"):
            state.up = False
            state.restarts.append(f"its process is {doc['state']} ({doc.get('restarts', 0)} restarts)")
    for service, group in series("process_cpu_seconds_total").items():
        state = found.get(service)
        if state is None:
            continue
        points = max(group, key=lambda s: len(s.points)).points
        rates = m.rate_series(points, FRAME_S)
        state.cpu = _metric_measure(
            "cpu", [p for p in rates if p[0] >= cut], [p for p in rates if p[0] < cut - GUARD_S]
        )
    for service, group in series("process_resident_memory_bytes").items():
        state = found.get(service)
        if state is None:
            continue
        points = max(group, key=lambda s: len(s.points)).points
        state.rss_mb = round(points[-1][1] / 2**20, 1)
        minute = [(t, v / 2**20) for t, v in points if t >= now - 60]
        rising = slope(minute)
        state.rss_slope = round(rising, 2) if rising is not None else None
        state.rss_rise_mb = round(minute[-1][1] - min(v for _, v in minute), 1) if minute else None
    failed = metrics.select("outbound_requests_total", start, now)
    for service, group in m.by_service(failed).items():
        state = found.get(service)
        if state is None:
            continue
        peers: dict[str, list[m.Series]] = {}
        for s in group:
            if s.labels.get("outcome") not in (None, "ok"):
                peers.setdefault(s.labels.get("peer", "?"), []).append(s)
        for peer, errored in peers.items():
            recent, history = _summed_rates(errored, cut)
            measure = _metric_measure("peer_errors", recent, history)
            if measure is not None:
                state.peer_errors[peer] = measure
    sums = series("http_server_db_statements_sum")
    counts = series("http_server_db_statements_count")
    for service, group in sums.items():
        state = found.get(service)
        if state is None:
            continue
        by_route = {s.labels.get("route", ""): s for s in counts.get(service, [])}
        for s in group:
            route = s.labels.get("route", "")
            count = by_route.get(route)
            if count is None:
                continue
            per_request = _ratio_series(s.points, count.points)
            measure = _metric_measure(
                "statements", [p for p in per_request if p[0] >= cut], [p for p in per_request if p[0] < cut - GUARD_S]
            )
            if measure is not None:
                state.statements[route] = measure
    for service, group in series("queue_depth").items():
        if (state := found.get(service)) is not None:
            state.queue, state.queue_slope = _gauge("queue", group, cut, now)
    for service, group in series("worker_jobs_processed_total").items():
        state = found.get(service)
        if state is None:
            continue
        recent, history = _summed_rates(group, cut)
        if recent:
            value = sum(v for _, v in recent) / len(recent)
            base = baseline([v for _, v in history]) or ZERO
            state.jobs_rate = Measure(
                "jobs", round(value, 3), base, 0.0, base.median >= 0.2 and value < 0.2 * base.median
            )
    for service, group in series("outbox_backlog").items():
        if (state := found.get(service)) is not None:
            state.backlog, state.backlog_slope = _gauge("backlog", group, cut, now)
    for service, group in series("ledger_drift_amount").items():
        state = found.get(service)
        if state is None:
            continue
        points = max(group, key=lambda s: len(s.points)).points
        state.drift = round(points[-1][1], 2)
        state.drift_slope = _rounded(slope([p for p in points if p[0] >= now - 60]), 4)
    for name in ("http_server_requests_in_flight", "rpc_server_requests_in_flight"):
        for service, group in series(name).items():
            state = found.get(service)
            value = m.last(max(group, key=lambda s: len(s.points)).points)
            if state is not None and value is not None:
                state.in_flight = max(state.in_flight or 0.0, value)
    for service, group in series("circuit_breaker_open").items():
        state = found.get(service)
        if state is not None:
            state.breaker_open = [s.labels.get("peer", "?") for s in group if (m.last(s.points) or 0) >= 1]
    return found


def _summed_rates(group: list[m.Series], cut: float) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Per-interval rates of several counters summed by interval end: (recent, history)."""
    summed: dict[float, float] = {}
    for s in group:
        for t, v in m.rate_series(s.points, FRAME_S):
            key = round(t / FRAME_S) * FRAME_S
            summed[key] = summed.get(key, 0.0) + v
    points = sorted(summed.items())
    return [p for p in points if p[0] >= cut], [p for p in points if p[0] < cut - GUARD_S]


def _ratio_series(sums: list[tuple[float, float]], counts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per interval: increase of a histogram's _sum over the increase of its _count (a mean per event)."""
    by_time = dict(counts)
    found = []
    for (t0, s0), (t1, s1) in itertools.pairwise(sums):
        c0, c1 = by_time.get(t0), by_time.get(t1)
        if c0 is None or c1 is None or c1 < c0 or s1 < s0:
            continue
        if c1 > c0:
            found.append((t1, (s1 - s0) / (c1 - c0)))
    return found


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _clock(ts: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(ts))


# ---- all of it -----------------------------------------------------------------------------------
def collect(inputs: Inputs, since_s: float = 300.0) -> Evidence:
    """Everything the diagnosis judges, as of now."""
    now = inputs.now()
    recent_facts = inputs.facts(now - RECENT_S, now + 1)
    current = summarise(recent_facts)
    frames = inputs.frames(now - since_s, now - RECENT_S - GUARD_S)
    history: dict[Element, list[FrameStat | None]] = {}
    for _, stats in frames:
        for element in stats:
            history.setdefault(element, [])
    for element in history:
        history[element] = [stats.get(element) for _, stats in frames]
    opened: dict[Element, list[OpenCall]] = {}
    for call in inputs.open_calls():
        opened.setdefault(call.element, []).append(call)
    by_element: dict[Element, list[Fact]] = {}
    for fact in recent_facts:
        by_element.setdefault(fact.element, []).append(fact)
    readings = {}
    for element in set(current) | set(history) | set(opened):
        reading = _reading(
            element,
            current.get(element),
            history.get(element, []),
            opened.get(element, []),
            by_element.get(element, []),
        )
        reading.onset = _onset(reading, frames)
        readings[element] = reading
    processes = inputs.processes()
    return Evidence(
        at=now,
        since_s=since_s,
        where=inputs.where,
        readings=readings,
        services=_services(inputs.metrics, processes, now, since_s),
        graph=inputs.graph(max(30.0, RECENT_S)),
        changes=inputs.changes(now - since_s),
        processes=processes,
        facts=len(recent_facts),
        baseline_frames=len(frames),
        scrapes=getattr(inputs.metrics, "scrapes", 0),
    )
