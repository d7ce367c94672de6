"""What the diagnosis measures and when a measure is anomalous: one definition, used by the evidence
(now against the reference) and by the healthy reference itself (a value it will not learn).

A span element's measures come from its 5-second ``FrameStat`` (chaoslab.diagnose.record): own time
and duration (p95, ms), and the shares of errors, error origins, 4xx refusals, unanswered calls and
calls that hung in their callee. A service's metric measures come from its series
(chaoslab.diagnose.metrics.points): CPU in cores, resident memory in MiB, failed calls per second to
each peer, statements per request per route, queue depth, outbox backlog, jobs done per second.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaoslab.diagnose.record import FrameStat
from chaoslab.diagnose.robust import RobustBaseline, baseline, prior
from chaoslab.diagnose.spans import CALL, DB, OP

MIN_FRAMES = 4
"""Frames with traffic an element needs before its baseline is learned rather than assumed."""


@dataclass(frozen=True)
class AnomalyRule:
    """When a measure is anomalous: ``score`` IQRs above the baseline and ``delta`` above its median,
    the IQR never taken below ``floor`` (absolute) or ``relative`` × the median."""

    score: float
    delta: float
    floor: float
    relative: float = 0.0

    def judge(self, value: float, base: RobustBaseline) -> tuple[float, bool]:
        z = base.score(value, max(self.floor, self.relative * abs(base.median)))
        return round(z, 1), z >= self.score and value - base.median >= self.delta


RULES: dict[str, AnomalyRule] = {
    "own": AnomalyRule(score=4, delta=25.0, floor=5.0, relative=0.15),
    "ms": AnomalyRule(score=4, delta=40.0, floor=10.0, relative=0.15),
    "errors": AnomalyRule(score=3, delta=0.05, floor=0.02),
    "origins": AnomalyRule(score=3, delta=0.05, floor=0.02),
    "unanswered": AnomalyRule(score=3, delta=0.10, floor=0.02),
    "hung": AnomalyRule(score=3, delta=0.10, floor=0.02),
    "rejected": AnomalyRule(score=3, delta=0.10, floor=0.02),
    "cpu": AnomalyRule(score=4, delta=0.25, floor=0.05, relative=0.2),
    "rss": AnomalyRule(score=4, delta=40.0, floor=5.0, relative=0.1),
    "peer_errors": AnomalyRule(score=3, delta=0.2, floor=0.05),
    "statements": AnomalyRule(score=4, delta=3.0, floor=0.5, relative=0.2),
    "queue": AnomalyRule(score=4, delta=5.0, floor=1.0),
    "backlog": AnomalyRule(score=4, delta=3.0, floor=1.0),
}
"""Per measure: how far above its baseline counts (ms for times, shares for errors, cores for CPU,
MiB for memory, errors per second for peer errors, statements per request, jobs for queues)."""
OWN_WORK = AnomalyRule(score=4, delta=50.0, floor=5.0, relative=0.15)
"""A service's own time in its handlers: on a shared two-core machine a busy neighbour adds a few tens
of milliseconds to every p95 (seen in ten minutes of healthy load: +40 ms for twenty seconds); a fault
worth a drill adds more."""


def rule(name: str, kind: str) -> AnomalyRule:
    """The rule of measure ``name`` on an element of ``kind`` (op, call, db)."""
    return OWN_WORK if (name, kind) == ("own", OP) else RULES[name]


PRIORS: dict[tuple[str, str], RobustBaseline] = {
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
DESIGNED_ZERO = ("peer_errors", "queue", "backlog")
"""Metric measures whose healthy value is zero by design: judged against ZERO before any frame
taught a baseline. The others (CPU, memory, statements per request, jobs) say nothing until the
reference has learned them: a fresh lab's warm-up is not a fault."""

SPAN_MEASURES = ("own", "ms", "errors", "origins", "unanswered", "rejected", "hung")
_MIN_COUNT = {"errors": 2, "origins": 2, "rejected": 3, "unanswered": 2, "hung": 2}
"""How many spans of a window must show it before a share counts (one failed call is noise)."""


def span_value(stat: FrameStat, name: str, smoothed: bool = False) -> float:
    """One measure of an element's spans in a frame or window. ``smoothed``: a share made of fewer
    than ``_MIN_COUNT`` spans reads as zero (the recent window; a baseline frame keeps its share)."""
    if name == "own":
        return stat.own_p95
    if name == "ms":
        return stat.ms_p95
    count = getattr(stat, name)
    if smoothed and count < _MIN_COUNT[name]:
        return 0.0
    return count / stat.n if stat.n else 0.0


def trimmed(values: list[float], rule: AnomalyRule) -> RobustBaseline | None:
    """Median and IQR, then again without the values that are anomalous against the first pass (BARO's
    robust scorer: an outlier that slipped into the reference does not become the norm)."""
    first = baseline(values)
    if first is None or len(values) < MIN_FRAMES:
        return first
    kept = [v for v in values if not rule.judge(v, first)[1]]
    return baseline(kept) if len(kept) >= MIN_FRAMES else first
