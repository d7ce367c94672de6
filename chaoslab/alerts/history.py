"""A small in-memory time-series store: what the lab daemon remembers of its scrapes, bounded.

It keeps only the series some rule selects (``wanted``), only as far back as the longest rule window
needs (``retention_ms``), and at most ``max_series`` series, so a lab that runs for days uses the same
memory as one that runs for minutes. Staleness follows Prometheus: a series that a scrape no longer
returns, or whose target failed, gets a staleness marker, and instant selectors stop seeing it.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable, Iterable
from operator import itemgetter

from chaoslab.alerts.promql import STALE, Labels, Matcher, Series, key

log = logging.getLogger("chaoslab.alerts")
_time = itemgetter(0)


class History:
    def __init__(
        self, retention_ms: int, wanted: Callable[[Labels], bool] = lambda labels: True, max_series: int = 20_000
    ):
        self.retention_ms = retention_ms
        self.wanted = wanted
        self.max_series = max_series
        self._series: dict[tuple, tuple[Labels, list[tuple[int, float]]]] = {}
        self._by_name: dict[str, set[tuple]] = {}
        self._lock = threading.Lock()
        self._refused = 0

    def __len__(self) -> int:
        return len(self._series)

    def append(self, labels: Labels, t_ms: int, value: float) -> tuple | None:
        """Record one sample (ignored unless a rule wants the series); returns the series' key if kept."""
        if not self.wanted(labels):
            return None
        k = key(labels)
        with self._lock:
            entry = self._series.get(k)
            if entry is None:
                if len(self._series) >= self.max_series:
                    self._refused += 1
                    if self._refused == 1:
                        log.warning("alert history is full (%d series); new series are dropped", self.max_series)
                    return None
                entry = self._series[k] = (dict(labels), [])
                self._by_name.setdefault(labels.get("__name__", ""), set()).add(k)
            points = entry[1]
            if points and points[-1][0] >= t_ms:
                return k  # out of order or duplicate: Prometheus drops it too
            points.append((t_ms, value))
            if points[0][0] < t_ms - self.retention_ms - 60_000:  # trim in batches, not on every sample
                del points[: bisect.bisect_left(points, t_ms - self.retention_ms, key=_time)]
        return k

    def mark_stale(self, keys: Iterable[tuple], t_ms: int) -> None:
        """Write a staleness marker on series that just disappeared (or whose target is down)."""
        with self._lock:
            for k in keys:
                entry = self._series.get(k)
                if entry is not None and entry[1] and entry[1][-1][0] < t_ms:
                    entry[1].append((t_ms, STALE))

    def forget_before(self, t_ms: int) -> None:
        """Drop samples older than the retention and series left with none."""
        horizon = t_ms - self.retention_ms
        with self._lock:
            for k, (labels, points) in list(self._series.items()):
                del points[: bisect.bisect_left(points, horizon, key=_time)]
                if not points:
                    del self._series[k]
                    self._by_name.get(labels.get("__name__", ""), set()).discard(k)

    def select(self, matchers: list[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        name = next((m.value for m in matchers if m.name == "__name__" and m.op == "="), None)
        with self._lock:
            keys = self._by_name.get(name, set()) if name is not None else self._series.keys()
            out = []
            for k in keys:
                labels, points = self._series[k]
                if all(m.matches(labels) for m in matchers):
                    lo = bisect.bisect_left(points, start_ms, key=_time)
                    hi = bisect.bisect_right(points, end_ms, key=_time)
                    if lo < hi:
                        out.append(Series(labels, points[lo:hi]))
            return out
