"""The healthy reference: what the lab looked like when it was well, which a fault cannot absorb.

A baseline made of "the last five minutes" becomes the fault after two or three of them, and a
diagnosis that was right at onset then says nothing is wrong. So the diagnosis compares the recent
window with frames it *judged healthy* instead, whenever they were (TRAINING.md, "Baselines a fault
cannot absorb"; BARO and RCAEval freeze the baseline at the change point in the same spirit).

Each closed 5-second frame is judged once, ``judge_after_s`` after it ended (so that an alert it set
off has had time to go pending). It is **left out of the reference whole** when:

- no request finished at the front door (no traffic is not health, and an idle lab is not the
  reference of a loaded one);
- the front door's requests broke the lab's SLOs in it: more than ``SLO_SHARE`` failed, or its p95
  was over the checkout SLO's latency (chaoslab.alerts.definitions), whatever the baseline says;
- an alert that pages or files a ticket (P1 to P3; chaoslab/alerts) was pending or firing during it.

Of a frame it keeps, a single value is **left out** when it is anomalous against the reference as it
stood (a change point: the measures in ``GATED``), so that a fault nobody is paged for (a CPU hog, an
N+1 before its ticket) does not become the norm either. A value left out for ``adapt_s`` of healthy
frames in a row is learned after all: a change nobody feels and no alert pages for becomes the new
normal (a heavier load, a deploy that made a route slower but within its objective).

The reference keeps the latest ``keep_s`` of healthy frames (references to the recorder's frame
figures, a few floats per metric): bounded however long a fault lasts. On the lab daemon it lives as
long as the daemon and is updated every frame; a one-shot diagnosis (``chaoslab diagnose`` on
Kubernetes) builds one from the frames of its own window.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from chaoslab.alerts.definitions import CHECKOUT_SLOW_S
from chaoslab.alerts.tiers import TIERS
from chaoslab.diagnose import metrics as m
from chaoslab.diagnose.measures import MIN_FRAMES, RULES, SPAN_MEASURES, span_value, trimmed
from chaoslab.diagnose.record import FRAME_S, FrameStat
from chaoslab.diagnose.spans import OP, Element
from chaoslab.topology import FRONT_DOOR

SLO_SHARE = 0.05
"""Share of a window's front-door requests that may fail, or be slower than the checkout SLO's
latency, before users feel it: five times the 1 % error budget of the lab's 99 % objectives."""
SLOW_MS = CHECKOUT_SLOW_S * 1000
GATED = ("errors", "origins", "unanswered", "hung", "rejected", "cpu", "rss", "peer_errors", "statements")
"""Measures whose single values are left out of the reference when anomalous against it."""
GRAVE = tuple(name for name, tier in TIERS.items() if tier.name != "P4")
"""Alert tiers that say the lab is not well (P4 is information only: a busy CPU is not an outage)."""
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def is_request(op_name: str) -> bool:
    """Whether an op is a request someone made (``POST /checkout``, a gRPC method), not background work."""
    return op_name.split(" ", 1)[0] in _METHODS or op_name.startswith("/")


def front_door(stats: dict[Element, FrameStat]) -> list[tuple[str, FrameStat]]:
    """The front door's requests in a frame or window: (op name, its figures)."""
    return [(e[2], s) for e, s in stats.items() if e[0] == OP and e[1] == FRONT_DOOR and is_request(e[2]) and s.n]


def over_slo(stats: dict[Element, FrameStat]) -> str | None:
    """Why the front door's requests broke the SLOs in these figures, in words (None: they did not)."""
    for name, stat in front_door(stats):
        if stat.errors / stat.n > SLO_SHARE:
            return f"{stat.errors} of {stat.n} {name} failed"
        if stat.ms_p95 > SLOW_MS:
            return f"{name} p95 {stat.ms_p95:.0f} ms, over the {SLOW_MS:.0f} ms objective"
    return None


@dataclass(frozen=True)
class RefFrame:
    """One healthy frame as the reference keeps it."""

    start: float
    stats: dict[Element, FrameStat]
    metrics: dict[m.Key, float]
    left_out: frozenset = frozenset()
    """(element, measure) and metric keys whose value here was anomalous against the reference."""

    def span(self, element: Element, name: str) -> float | None:
        stat = self.stats.get(element)
        if stat is None or not stat.n or (element, name) in self.left_out:
            return None
        return span_value(stat, name)

    def metric(self, key: m.Key) -> float | None:
        return None if key in self.left_out else self.metrics.get(key)


@dataclass
class Status:
    """What the reference is doing, for the report."""

    frames: int = 0
    latest: float | None = None
    """Start of the newest frame learned."""
    paused_since: float | None = None
    """Start of the first frame of the current run of frames left out (None: it is learning)."""
    why: str = ""
    """Why the newest frame judged was left out."""
    left_out: dict[str, float] = field(default_factory=dict)
    """Values being left out now, by measure: how long (seconds) each has been."""


class Reference:
    def __init__(self, keep_s: float = 900.0, judge_after_s: float = 30.0, adapt_s: float = 900.0):
        self.judge_after_s = judge_after_s
        self.adapt_frames = max(1, round(adapt_s / FRAME_S))
        self._frames: deque[RefFrame] = deque(maxlen=max(MIN_FRAMES, round(keep_s / FRAME_S)))
        self._keep_s = keep_s
        self._judged_until: float | None = None
        self._alerts: dict[tuple, list] = {}  # (alert, labels, active_at) → [start, end, "name (Pn)"]
        self._streak: dict[tuple, int] = {}  # value key → healthy frames in a row it was left out
        self._lock = threading.Lock()
        self.status = Status()

    # ---- judging -------------------------------------------------------------------------------
    def update(self, inputs) -> None:
        """Judge every frame closed since the last update (``inputs``: chaoslab.diagnose.evidence.Inputs)."""
        with self._lock:
            now = inputs.now()
            self._note_alerts(inputs.alerts(), now)
            until = now - self.judge_after_s
            since = self._judged_until if self._judged_until is not None else until - self._keep_s
            frames = inputs.frames(since, until - FRAME_S + 1e-6)
            if not frames:
                return
            first, last = frames[0][0], frames[-1][0] + FRAME_S
            series = m.points(inputs.metrics, first - 2 * FRAME_S, last, FRAME_S)
            bases = self._baselines(series)
            for start, stats in frames:
                values = {
                    key: sum(v for _, v in inside) / len(inside)
                    for key, pts in series.items()
                    if (inside := [(t, v) for t, v in pts if start <= t < start + FRAME_S])
                }
                self._judge(start, stats, values, bases)
                self._judged_until = start + FRAME_S

    def _judge(self, start: float, stats: dict[Element, FrameStat], values: dict, bases: dict) -> None:
        why = self._unwell(start, stats)
        if why is not None:
            if self.status.paused_since is None:
                self.status.paused_since = start
            self.status.why = why
            return
        left_out = set()
        candidates = [((e, name), span_value(s, name)) for e, s in stats.items() if s.n for name in SPAN_MEASURES]
        candidates += [(key, value) for key, value in values.items()]
        for key, value in candidates:
            name = key[1] if isinstance(key[0], tuple) else key[0]
            base = bases.get(key)
            if name not in GATED or base is None or not RULES[name].judge(value, base)[1]:
                self._streak.pop(key, None)
                continue
            self._streak[key] = self._streak.get(key, 0) + 1
            if self._streak[key] < self.adapt_frames:
                left_out.add(key)
        self._frames.append(RefFrame(start, dict(stats), values, frozenset(left_out)))
        self.status = Status(
            len(self._frames),
            start,
            left_out={_said(k): self._streak[k] * FRAME_S for k in left_out},
        )

    def _unwell(self, start: float, stats: dict[Element, FrameStat]) -> str | None:
        """Why a frame is not a healthy one (None: it is)."""
        if not front_door(stats):
            return "no request finished at the front door"
        broken = over_slo(stats)
        if broken is not None:
            return broken
        end = start + FRAME_S
        firing = sorted({said for a, b, said in self._alerts.values() if a < end and b >= start})
        return f"{', '.join(firing)} active" if firing else None

    def _note_alerts(self, alerts: list[dict], now: float) -> None:
        for alert in alerts:
            if alert.get("severity") not in GRAVE or alert.get("active_at") is None:
                continue
            labels = tuple(sorted((alert.get("labels") or {}).items()))
            key = (alert.get("alert"), labels, alert["active_at"])
            end = alert.get("resolved_at") or now
            said = f"{alert.get('alert')} ({alert.get('severity')})"
            self._alerts[key] = [alert["active_at"], max(end, self._alerts.get(key, [0, 0])[1]), said]
        for key, (_, end, _) in list(self._alerts.items()):
            if end < now - self._keep_s:
                del self._alerts[key]

    def _baselines(self, series: dict) -> dict:
        """The reference's baseline of every gated value, as it stands before this batch."""
        bases = {}
        frames = list(self._frames)
        elements = {e for f in frames for e in f.stats}
        for element in elements:
            for name in GATED:
                if name in SPAN_MEASURES:
                    values = [v for f in frames if (v := f.span(element, name)) is not None]
                    if len(values) >= MIN_FRAMES:
                        bases[(element, name)] = trimmed(values, RULES[name])
        for key in series:
            if key[0] in GATED:
                values = [v for f in frames if (v := f.metric(key)) is not None]
                if len(values) >= MIN_FRAMES:
                    bases[key] = trimmed(values, RULES[key[0]])
        return bases

    # ---- reading -------------------------------------------------------------------------------
    def latest(self) -> list[RefFrame]:
        """Every healthy frame kept, oldest first."""
        with self._lock:
            return list(self._frames)


def _said(key: tuple) -> str:
    """A left-out value in words: "service-a's errors on POST /checkout", "worker's cpu"."""
    if isinstance(key[0], tuple):
        (kind, service, what), name = key
        return f"{name} of {service} {what}" if kind == OP else f"{name} of {service} → {what}"
    name, service, label = key
    return f"{name} of {service}" + (f" ({label})" if label else "")
