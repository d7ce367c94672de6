"""The services' metrics as the diagnosis reads them: raw samples of named series over a time range.

``Metrics`` is the whole interface: ``select(name, start, end, **labels)`` returns the series of one
metric, each with its labels (``service`` always among them) and its (time, value) samples, like a
range-vector selector ``name{labels}[range]`` in PromQL. Three places can answer it:

- ``ScrapeHistory`` (here): the lab daemon's own scrapes of every service's /metrics, every 5 s,
  keeping only the series in ``WANTED``, for 15 minutes. It stands in for the alert evaluation's
  History (chaoslab/alerts, another branch) until that lands; the History answers ``select`` with
  its own ``select`` once it also keeps the names in ``WANTED``.
- ``PrometheusMetrics`` (chaoslab/kubernetes/diagnosis.py): a team's series from the platform's
  Prometheus on Kubernetes.

The helpers below turn samples into what the signatures compare: counter increases and rates
(resets counted as Prometheus does), last values, slopes.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.parser import text_string_to_metric_families

from chaoslab.telemetry import names

WANTED: dict[str, str] = {
    "up": "1 when the service's /metrics answered the scrape, 0 when it did not (a dead or stuck process)",
    names.CPU_SECONDS_TOTAL: "CPU used: a busy loop or a hot path",
    names.RESIDENT_MEMORY: "memory held: a leak grows in a straight line, or stands far above its reference",
    names.START_TIME: "when the process started: a change is a restart (a crash)",
    names.OUTBOUND_REQUESTS_TOTAL: "calls per peer by outcome: errors to postgres or redis seen from the caller",
    names.HTTP_REQUESTS_TOTAL: "requests per route by status",
    names.HTTP_IN_FLIGHT: "handlers busy now: a full pool",
    names.RPC_IN_FLIGHT: "gRPC handlers busy now",
    names.HTTP_DB_STATEMENTS + "_sum": "statements run per route (with _count: statements per request, an N+1)",
    names.HTTP_DB_STATEMENTS + "_count": "requests counted by the statements histogram",
    names.QUEUE_DEPTH: "fulfilment jobs waiting in the stream",
    names.JOBS_PROCESSED_TOTAL: "jobs the worker finished, by outcome",
    names.OUTBOX_BACKLOG: "paid orders whose event has not reached the stream",
    names.LEDGER_DRIFT: "paid order totals minus what the ledger captured",
    names.BREAKER_OPEN: "1 while a breaker fails fast",
}
"""Every series the diagnosis reads, and why. The alerts' History must keep these names too."""


@dataclass
class TimeSeries:
    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)
    """(wall seconds, value), oldest first."""

    @property
    def service(self) -> str:
        return self.labels.get("service", "")


class Metrics(Protocol):
    def select(self, name: str, start: float, end: float, **labels: str) -> list[TimeSeries]:
        """The series of metric ``name`` whose labels include ``labels``, with their samples in [start, end]."""


class ScrapeHistory:
    """Scrapes of every service (``scrape()`` → service → /metrics text, or None when it did not
    answer), kept for ``keep_s``; only the metrics in WANTED."""

    def __init__(
        self,
        scrape: Callable[[], dict[str, str | None]],
        every_s: float = 5.0,
        keep_s: float = 900.0,
        clock: Callable[[], float] = time.time,
    ):
        self.scrape = scrape
        self.every_s = every_s
        self.keep_s = keep_s
        self.clock = clock
        self._series: dict[tuple, TimeSeries] = {}
        self._lock = threading.Lock()
        self.scrapes = 0

    def scrape_once(self) -> None:
        at = self.clock()
        texts = self.scrape()
        with self._lock:
            for service, text in texts.items():
                answered = text is not None
                if answered:
                    try:
                        self._take(service, text, at)
                    except ValueError:
                        answered = False  # a garbled answer is no answer
                self._put({"__name__": "up", "service": service}, at, 1.0 if answered else 0.0)
            horizon = at - self.keep_s
            for k, series in list(self._series.items()):
                while series.points and series.points[0][0] < horizon:
                    series.points.pop(0)
                if not series.points:
                    del self._series[k]
            self.scrapes += 1

    def _take(self, service: str, text: str, at: float) -> None:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in WANTED:
                    labels = {"service": service, **sample.labels, "__name__": sample.name}
                    self._put(labels, at, float(sample.value))

    def _put(self, labels: dict[str, str], at: float, value: float) -> None:
        k = tuple(sorted(labels.items()))
        series = self._series.get(k)
        if series is None:
            series = self._series[k] = TimeSeries({k: v for k, v in labels.items() if k != "__name__"})
        series.points.append((at, value))

    def run(self, stopping: threading.Event) -> None:
        """Scrape every ``every_s`` until ``stopping`` is set; a failed round is skipped, not fatal."""
        next_round = time.monotonic()
        while not stopping.is_set():
            try:
                self.scrape_once()
            except Exception:  # the diagnosis has one sample fewer; the daemon goes on
                pass
            next_round += self.every_s
            stopping.wait(max(0.0, next_round - time.monotonic()))

    def select(self, name: str, start: float, end: float, **labels: str) -> list[TimeSeries]:
        with self._lock:
            found = []
            for k, series in self._series.items():
                if dict(k).get("__name__") != name or any(series.labels.get(a) != b for a, b in labels.items()):
                    continue
                points = [(t, v) for t, v in series.points if start <= t <= end]
                if points:
                    found.append(TimeSeries(dict(series.labels), points))
            return found


# ---- reading samples ---------------------------------------------------------------------------
def increase(points: list[tuple[float, float]]) -> float | None:
    """A counter's increase over its samples, a drop counted as a restart from zero (PromQL)."""
    if len(points) < 2:
        return None
    total = 0.0
    for (_, before), (_, after) in itertools.pairwise(points):
        total += after - before if after >= before else after
    return total


def rate(points: list[tuple[float, float]]) -> float | None:
    """Per-second increase of a counter over its samples."""
    grown = increase(points)
    if grown is None or points[-1][0] <= points[0][0]:
        return None
    return grown / (points[-1][0] - points[0][0])


def last(points: list[tuple[float, float]]) -> float | None:
    return points[-1][1] if points else None


def by_service(series: list[TimeSeries]) -> dict[str, list[TimeSeries]]:
    grouped: dict[str, list[TimeSeries]] = {}
    for s in series:
        grouped.setdefault(s.service, []).append(s)
    return grouped


def summed_rate(series: list[TimeSeries]) -> float | None:
    """Sum of the rates of several counters (the label values of one metric)."""
    rates = [r for r in (rate(s.points) for s in series) if r is not None]
    return sum(rates) if rates else None


def rate_series(points: list[tuple[float, float]], every_s: float) -> list[tuple[float, float]]:
    """Per-interval rates of a counter: (end of interval, rate), one per consecutive pair of samples."""
    found = []
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t1 > t0:
            found.append((t1, (v1 - v0 if v1 >= v0 else v1) / (t1 - t0)))
    return found


def window(points: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    return [(t, v) for t, v in points if start <= t <= end]


# ---- per-interval measures ---------------------------------------------------------------------
Key = tuple[str, str, str]
"""(measure, service, label): ("cpu", "worker", ""), ("peer_errors", "service-a", "redis"),
("statements", "service-a", "/orders")."""
MIB = 2**20


def points(metrics: Metrics, start: float, end: float, every_s: float) -> dict[Key, list[tuple[float, float]]]:
    """Every metric measure the diagnosis compares, as per-interval values (time, value) between
    ``start`` and ``end``: the same series for the recent window and for the healthy reference
    (chaoslab.diagnose.reference), so that both are measured alike."""
    found: dict[Key, list[tuple[float, float]]] = {}

    def series(name: str) -> dict[str, list[TimeSeries]]:
        return by_service(metrics.select(name, start, end))

    def longest(group: list[TimeSeries]) -> list[tuple[float, float]]:
        return max(group, key=lambda s: len(s.points)).points

    for service, group in series(names.CPU_SECONDS_TOTAL).items():
        found[("cpu", service, "")] = rate_series(longest(group), every_s)
    for service, group in series(names.RESIDENT_MEMORY).items():
        found[("rss", service, "")] = [(t, v / MIB) for t, v in longest(group)]
    for service, group in series(names.OUTBOUND_REQUESTS_TOTAL).items():
        peers: dict[str, list[TimeSeries]] = {}
        for s in group:
            if s.labels.get("outcome") not in (None, "ok"):
                peers.setdefault(s.labels.get("peer", "?"), []).append(s)
        for peer, failed in peers.items():
            found[("peer_errors", service, peer)] = summed_rates(failed, every_s)
    counts = series(names.HTTP_DB_STATEMENTS + "_count")
    for service, group in series(names.HTTP_DB_STATEMENTS + "_sum").items():
        by_route = {s.labels.get("route", ""): s for s in counts.get(service, [])}
        for s in group:
            route = s.labels.get("route", "")
            if route in by_route:
                found[("statements", service, route)] = ratio_series(s.points, by_route[route].points)
    for name, measure in ((names.QUEUE_DEPTH, "queue"), (names.OUTBOX_BACKLOG, "backlog")):
        for service, group in series(name).items():
            found[(measure, service, "")] = list(longest(group))
    for service, group in series(names.JOBS_PROCESSED_TOTAL).items():
        found[("jobs", service, "")] = summed_rates(group, every_s)
    return found


def summed_rates(group: list[TimeSeries], every_s: float) -> list[tuple[float, float]]:
    """Per-interval rates of several counters (the label values of one metric) summed by interval end."""
    summed: dict[float, float] = {}
    for s in group:
        for t, v in rate_series(s.points, every_s):
            key = round(t / every_s) * every_s
            summed[key] = summed.get(key, 0.0) + v
    return sorted(summed.items())


def ratio_series(sums: list[tuple[float, float]], counts: list[tuple[float, float]]) -> list[tuple[float, float]]:
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
