"""Robust baselines: the median and inter-quartile range of a measure over healthy frames, and how many
IQRs a value sits above them (BARO's RobustScorer: outliers in the baseline barely move it)."""

from __future__ import annotations

import math
from dataclasses import dataclass


def quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class RobustBaseline:
    median: float
    iqr: float
    n: int
    """Frames it was learned from (0: a prior, what the healthy lab is designed to do)."""

    def score(self, value: float, floor: float) -> float:
        """How far ``value`` is above the median, in IQRs (never less than ``floor``, so a flat
        baseline does not turn a millisecond into a catastrophe)."""
        return (value - self.median) / max(self.iqr, floor)

    @property
    def learned(self) -> bool:
        return self.n > 0


def baseline(values: list[float]) -> RobustBaseline | None:
    if not values:
        return None
    q1, median, q3 = (quantile(values, q) for q in (0.25, 0.5, 0.75))
    return RobustBaseline(float(median), float(q3 - q1), len(values))


def prior(median: float, iqr: float) -> RobustBaseline:
    """A baseline from the lab's design when there are no healthy frames to learn from."""
    return RobustBaseline(median, iqr, 0)


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope (units per second) of (time, value) points; None with fewer than three."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread <= 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
