"""Checks: read-only measurements of the lab over a window, compared with a bound.

A scenario's ``symptom`` says what a trainee can see while it runs; its
``slo`` is the steady state a fix must restore. Both are lists of checks in
this one vocabulary, which ``chaoslab verify`` and the tests evaluate the
same way. A check never changes anything (a *probe*, in chaostoolkit's words).

    {measure: p95_ms, request: POST /checkout, max: 400}
    {measure: metric_rate, service: payment, metric: payment_processed_total, labels: {status: failed}, max: 0}
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client.parser import text_string_to_metric_families

from chaoslab.chaos.reconcile import MONEY_FINDINGS, SETTLE_S, reconcile
from chaoslab.errors import BadInput
from chaoslab.telemetry import names

DEFAULT_WINDOW_S = 5.0


@dataclass(frozen=True)
class Measure:
    source: str
    """load (the Locust run), metrics (services' /metrics), lab (status, readiness), data (PostgreSQL) or
    books (PostgreSQL, the whole database reconciled by ``chaos/reconcile.py``)."""
    help: str
    needs: tuple[str, ...] = ()


MEASURES: dict[str, Measure] = {
    "p50_ms": Measure("load", "Median latency of a request name (or all) during the window, in ms.", ("request",)),
    "p95_ms": Measure("load", "95th percentile latency of a request name (or all), in ms.", ("request",)),
    "p99_ms": Measure("load", "99th percentile latency of a request name (or all), in ms.", ("request",)),
    "error_rate": Measure("load", "Failed share of a request name's requests (0 to 1).", ("request",)),
    "rps": Measure("load", "Requests per second of a request name, failed ones included.", ("request",)),
    "ok_rps": Measure("load", "Successful requests per second of a request name.", ("request",)),
    "metric_rate": Measure(
        "metrics",
        "Per-second increase of a counter on a service, summed over the samples whose labels include `labels`.",
        ("service", "metric"),
    ),
    "metric_value": Measure(
        "metrics", "A gauge's value at the end of the window, summed the same way.", ("service", "metric")
    ),
    "queries_per_request": Measure(
        "metrics", "PostgreSQL statements per request of an HTTP route.", ("service", "route")
    ),
    "ready": Measure("lab", "1 when the service's /health/ready answers 200, else 0.", ("service",)),
    "restarts": Measure("lab", "Restarts of the service during the window.", ("service",)),
    "ledger_drift": Measure(
        "books",
        "Captured money that differs from the money requested (absolute, summed) over the whole ledger; "
        "charges the float-money bad deploy made before the window are a drill's known damage and left out.",
    ),
    "stuck_orders": Measure("data", "Paid orders not fulfilled 30 s after payment."),
    "unfulfilled_orders": Measure("books", "Paid orders anywhere in the database that are not fulfilled."),
    "mischarged_orders": Measure(
        "books",
        "Orders anywhere in the database whose money is wrong: charged but pending or payment_failed, paid "
        "without a charge, charged a different amount than their total or more than once, or a charge "
        "whose order does not exist.",
    ),
    "unresolved_orders": Measure(
        "books",
        "Orders still pending longer than service-a's recovery deadline (SERVICE_A_PENDING_DEADLINE_S).",
    ),
}


class CheckError(BadInput):
    """A malformed check in a scenario file; the message names the field."""


@dataclass(frozen=True)
class Check:
    measure: str
    min: float | None = None
    max: float | None = None
    request: str | None = None
    service: str | None = None
    metric: str | None = None
    route: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    window_s: float = DEFAULT_WINDOW_S

    @classmethod
    def parse(cls, raw: Any, where: str = "check") -> Check:
        if not isinstance(raw, dict):
            raise CheckError(f"{where}: must be a mapping with measure and min or max")
        measure = raw.get("measure")
        if measure not in MEASURES:
            raise CheckError(f"{where}.measure={measure!r}: must be one of {', '.join(MEASURES)}")
        for needed in MEASURES[measure].needs:
            if not raw.get(needed):
                raise CheckError(f"{where}: {measure} needs {needed}")
        if raw.get("min") is None and raw.get("max") is None:
            raise CheckError(f"{where}: give min, max or both")
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise CheckError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        metric = raw.get("metric")
        if metric is not None and metric not in names.EXPOSED:
            raise CheckError(f"{where}.metric={metric!r}: no service exposes it (see chaoslab/telemetry/names.py)")
        return cls(**{k: v for k, v in raw.items()})

    def describe(self) -> str:
        subject = " ".join(str(x) for x in (self.request, self.service, self.metric, self.route) if x)
        labels = ",".join(f"{k}={v}" for k, v in self.labels.items())
        bound = " and ".join(
            b
            for b in (
                f">= {self.min:g}" if self.min is not None else "",
                f"<= {self.max:g}" if self.max is not None else "",
            )
            if b
        )
        return (
            f"{self.measure}" + (f" {subject}" if subject else "") + (f"{{{labels}}}" if labels else "") + f" {bound}"
        )

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass
class Result:
    check: Check
    value: float | None
    ok: bool
    note: str = ""
    basis: str = ""
    """What the value was judged against when it was not the check's own bound (verify's latency on a host
    too slow for it: chaoslab.loadtest.verify.judge_latency); empty: the bound."""


class Probe(Protocol):
    """Read-only access to a running lab (local or one team's namespace)."""

    sources: frozenset[str]
    """Which measure sources (Measure.source) it can answer: a namespace's database is out of reach."""

    def scrape(self, service: str) -> str:
        """Prometheus text of every instance of ``service``, concatenated."""

    def ready(self, service: str) -> bool: ...

    def restarts(self, service: str) -> int: ...

    def query(self, sql: str, params: tuple = ()) -> list[tuple]: ...


class LoadStats(Protocol):
    def reset(self) -> None: ...

    def stats(self) -> dict:
        """Locust's /stats/requests document."""


def sum_samples(text: str, name: str, labels: dict[str, str]) -> float | None:
    """Sum of the samples called ``name`` whose labels include ``labels``; None when there is none."""
    total, seen = 0.0, False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
                seen = True
    return total if seen else None


def _load_value(check: Check, stats: dict, window_s: float) -> tuple[float | None, str]:
    name = check.request
    entries = stats.get("stats", [])
    entry = next(
        (e for e in entries if (e.get("name") == name) or (name == "all" and e.get("name") == "Aggregated")), None
    )
    if entry is None or not entry.get("num_requests"):
        return None, f"no {name} requests in the window"
    requests, failures = entry["num_requests"], entry["num_failures"]
    if check.measure == "error_rate":
        return failures / requests, f"{failures}/{requests} failed"
    if check.measure == "rps":
        return requests / window_s, f"{requests} requests"
    if check.measure == "ok_rps":
        return (requests - failures) / window_s, f"{requests - failures} ok of {requests}"
    key = {
        "p50_ms": "response_time_percentile_0.5",
        "p95_ms": "response_time_percentile_0.95",
        "p99_ms": "response_time_percentile_0.99",
    }[check.measure]
    value = entry.get(key)
    if value is None and check.measure == "p50_ms":
        value = entry.get("median_response_time")
    return (float(value) if value is not None else None), f"over {requests} requests"


class Window:
    """The measurement window of a set of checks: opened before, closed after whatever happens in it
    (a few seconds of waiting, or a whole load run)."""

    def __init__(self, checks: list[Check], probe: Probe):
        self.checks = checks
        self.probe = probe
        self.services = {c.service for c in checks if MEASURES[c.measure].source == "metrics"}
        self.needs_load = any(MEASURES[c.measure].source == "load" for c in checks)
        self.before = {s: probe.scrape(s) for s in self.services}
        self.restarts_before = {c.service: probe.restarts(c.service) for c in checks if c.measure == "restarts"}
        self.needs_books = any(MEASURES[c.measure].source == "books" for c in checks)
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.books = None
        """The reconciliation the window closed with (``chaos.reconcile.Reconciliation``), if a check needed it."""

    def close(self, stats: dict | None) -> list[Result]:
        """Compare every check; ``stats`` is the load run's Locust stats for the window (None: no load)."""
        if self.needs_load and stats is None:
            raise CheckError("these checks need load running (chaoslab load start, or verify)")
        elapsed = time.monotonic() - self.started
        after = {s: self.probe.scrape(s) for s in self.services}
        if self.needs_books:
            self.books = reconcile(self.probe.query, since=self.started_wall, settle_s=SETTLE_S)
        results = []
        for check in self.checks:
            if MEASURES[check.measure].source == "books":
                results.append(_books_result(check, self.books))
                continue
            value, note = _value(
                check, self.probe, self.before, after, stats or {}, self.restarts_before, self.started_wall, elapsed
            )
            results.append(Result(check, value, check.holds(value), note))
        return results


def _books_result(check: Check, books) -> Result:
    """A ``books`` measure read from the window's reconciliation of the whole database."""
    if check.measure == "ledger_drift":
        value = float(books.ledger_drift)
        note = f"over {books.charges} charges" + (
            f"; {books.explained_drift} more from the float-money drill before the window"
            if books.explained_drift
            else ""
        )
    else:
        finding = {
            "mischarged_orders": books.mischarged,
            "unfulfilled_orders": books.findings["unfulfilled"],
            "unresolved_orders": books.findings["unresolved"],
        }[check.measure]
        value, note = float(finding.count), finding.note()
        if check.measure == "mischarged_orders" and finding.count:
            kinds = [f"{books.findings[k].count} {k}" for k in MONEY_FINDINGS if books.findings[k].count]
            note = f"{', '.join(kinds)}: {note}"
    return Result(check, value, check.holds(value), note)


def observe(
    checks: list[Check], probe: Probe, load: LoadStats | None = None, window_s: float | None = None
) -> list[Result]:
    """Measure every check over one window (the longest any check asks for) and compare."""
    window_length = window_s or max((c.window_s for c in checks), default=DEFAULT_WINDOW_S)
    window = Window(checks, probe)
    if window.needs_load:
        if load is None:
            raise CheckError("these checks need load running (chaoslab load start, or verify)")
        load.reset()
    time.sleep(window_length)  # the measurement window itself, not a wait for anything
    return window.close(load.stats() if window.needs_load else None)


def _value(
    check: Check,
    probe: Probe,
    before: dict,
    after: dict,
    stats: dict,
    restarts_before: dict,
    started_wall: float,
    elapsed: float,
) -> tuple[float | None, str]:
    source = MEASURES[check.measure].source
    if source == "load":
        return _load_value(check, stats, elapsed)
    if check.measure == "metric_rate":
        start = sum_samples(before[check.service], check.metric, check.labels) or 0.0
        end = sum_samples(after[check.service], check.metric, check.labels)
        if end is None:
            return 0.0, f"{check.metric} not exported yet"
        return max(0.0, end - start) / elapsed, ""
    if check.measure == "metric_value":
        value = sum_samples(after[check.service], check.metric, check.labels)
        return value, "" if value is not None else f"{check.metric} not exported"
    if check.measure == "queries_per_request":
        labels = {"route": check.route}
        counts = [
            sum_samples(t[check.service], f"{names.HTTP_DB_STATEMENTS}_count", labels) or 0.0 for t in (before, after)
        ]
        sums = [
            sum_samples(t[check.service], f"{names.HTTP_DB_STATEMENTS}_sum", labels) or 0.0 for t in (before, after)
        ]
        requests = counts[1] - counts[0]
        if requests <= 0:
            return None, f"no {check.route} requests in the window"
        return (sums[1] - sums[0]) / requests, f"over {requests:g} requests"
    if check.measure == "ready":
        return (1.0 if probe.ready(check.service) else 0.0), ""
    if check.measure == "restarts":
        return float(probe.restarts(check.service) - restarts_before[check.service]), ""
    if check.measure == "stuck_orders":
        rows = probe.query(
            "SELECT count(*) FROM shop.orders WHERE status = 'paid' AND updated_at < now() - interval '30 seconds'"
        )
        return float(rows[0][0]), ""
    raise CheckError(f"unknown measure {check.measure}")
