"""Scraping the services' /metrics into the history, the way Prometheus does it.

Each target gets the labels Prometheus' scrape config gives it on Kubernetes (``job``, ``instance``,
``service``, ``team``); labels the service exposes itself win, as with ``honor_labels: true``. Every
scrape also writes ``up`` (1 answered, 0 did not), and a failed scrape or a series that vanished gets
a staleness marker, so the rules see a dead service exactly as Prometheus would.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from chaoslab.alerts.history import History

JOB = "chaoslab"
"""The scrape job of the lab's services, locally and in the chart's Prometheus."""

_SAMPLE = re.compile(
    r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+([-+]?[0-9.][0-9.eE+-]*|[-+]?Inf|NaN)(?:[ \t]+-?\d+)?[ \t]*$"
)
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")


class ExpositionError(ValueError):
    """A /metrics body that is not the Prometheus text format."""


def parse_exposition(text: str, names: set[str] | None = None) -> Iterator[tuple[dict[str, str], float]]:
    """(labels with ``__name__``, value) for each sample of a Prometheus text exposition; with ``names``,
    only samples of those metric names (the others are skipped before their labels are read)."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line[0] == "#":
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise ExpositionError(f"line {number} is not a sample: {line[:120]!r}")
        name, body, raw = match.groups()
        if names is not None and name not in names:
            continue
        labels = {"__name__": name}
        if body:
            end = 0
            for label in _LABEL.finditer(body):
                if label.start() != end or label.group(1) in labels:
                    break  # garbage between labels, or a label twice: Prometheus refuses those too
                labels[label.group(1)] = _ESCAPE.sub(lambda m: "\n" if m[1] == "n" else m[1], label.group(2))
                end = label.end()
            if end != len(body):
                raise ExpositionError(f"line {number} has malformed labels: {line[:120]!r}")
        try:
            value = float(raw)
        except ValueError:
            raise ExpositionError(f"line {number} has no number: {line[:120]!r}") from None
        yield labels, value


@dataclass(frozen=True)
class Target:
    service: str
    url: str
    """The service's base URL; /metrics is appended."""
    team: str
    read: Callable[[], str] | None = field(default=None, compare=False)
    """Where the exposition comes from when it is not fetched over HTTP: the synthetic prober the lab
    daemon runs in its own process (``url`` then only names the instance). Raising fails the scrape."""

    @property
    def labels(self) -> dict[str, str]:
        instance = self.url.split("://", 1)[-1].rstrip("/")
        return {"job": JOB, "instance": instance, "service": self.service, "team": self.team}


class Scraper:
    """Scrapes every target in parallel into a History; one ``scrape`` call is one round."""

    def __init__(self, history: History, names: set[str] | None = None, timeout_s: float = 4.0):
        self.history = history
        self.names = names
        self.timeout_s = timeout_s
        self._last: dict[str, set[tuple]] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="labd-scrape")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def scrape(self, targets: list[Target], t_ms: int) -> dict[str, str | None]:
        """Scrape each target once at ``t_ms``; returns the error of each target (None when it answered)."""
        futures = {target: self._pool.submit(self._fetch, target) for target in targets}
        wait(futures.values(), timeout=self.timeout_s + 1)
        errors: dict[str, str | None] = {}
        for target, future in futures.items():
            if future.done() and future.exception() is None:
                body, error = future.result(), None
            else:
                body, error = None, str(future.exception()) if future.done() else "no answer in time"
                future.cancel()
            errors[target.service] = self.ingest(target, body, t_ms, error)
        return errors

    def _fetch(self, target: Target) -> str:
        if target.read is not None:
            return target.read()
        try:
            with urllib.request.urlopen(target.url.rstrip("/") + "/metrics", timeout=self.timeout_s) as response:
                return response.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectionError(f"{type(reason).__name__}: {reason}") from None

    def ingest(self, target: Target, body: str | None, t_ms: int, error: str | None = None) -> str | None:
        """Store one scrape's result (``body`` None: the scrape failed); returns the error, if any."""
        base = target.labels
        samples: list[tuple[dict[str, str], float]] = []
        if body is not None:
            try:
                samples = list(parse_exposition(body, self.names))
            except ExpositionError as exc:  # like Prometheus: a malformed scrape counts as a failed one
                error, samples = str(exc), []
        seen: set[tuple] = set()
        for labels, value in samples:
            k = self.history.append({**base, **labels}, t_ms, value)
            if k is not None:
                seen.add(k)
        self.history.append({"__name__": "up", **base}, t_ms, 1.0 if error is None else 0.0)
        self.history.mark_stale(self._last.get(target.service, set()) - seen, t_ms)
        self._last[target.service] = seen
        return error
