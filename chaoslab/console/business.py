"""Business figures from the services' /metrics: checkout success and p95, payment success, queue depth
and outbox backlog, the ledger's drift, and statements per request (an N+1 query shows there).

When the service that counts a figure does not answer its /metrics (service-a in the deadlock, payment
held up by its gateway), the figure comes from what still measures the same user journey, and says so
(``Figures.measured_by``): checkouts from the synthetic prober's checkout probes, payments from
service-a's own calls to payment; when neither answers, a level (queue depth, outbox backlog, the
ledger's drift), payment success and statements per request come from the last scrapes that had
them, with their time. A hung service is when the room most needs the numbers.

``MetricsHistory`` scrapes through the console's source at most every ``every_s`` while somebody
looks, keeps only the few series the panels read, for ``keep_s``, and answers over a window the way
PromQL would (``increase`` of counters with resets, ``histogram_quantile`` of bucket increases).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

from prometheus_client.parser import text_string_to_metric_families

from chaoslab.alerts.synthetic import DURATION, SUCCESS
from chaoslab.telemetry import names
from chaoslab.timefmt import clock
from chaoslab.topology import FRONT_DOOR

CHECKOUT_ROUTE = ("POST", "/checkout")
PROBER_SAYS = "the prober's checkouts"
CALLER_SAYS = "service-a's calls to payment"
LAST_SAYS = "its last answer, at {}"
"""How a tile names the stand-in it shows when the service that counts the figure does not answer."""


def flatten(text: str) -> dict[str, float]:
    """The samples the business panels read from one /metrics text, as ``name:label`` → value."""
    found: dict[str, float] = {}

    def put(key: str, value: float) -> None:
        found[key] = found.get(key, 0.0) + value

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == names.CHECKOUTS_TOTAL:
                put(f"checkouts:{labels.get('outcome')}", value)
            elif name == f"{names.HTTP_DURATION}_bucket":
                if (labels.get("method"), labels.get("route")) == CHECKOUT_ROUTE:
                    put(f"checkout_le:{labels['le']}", value)
            elif name == names.PAYMENT_PROCESSED_TOTAL:
                put(f"payments:{labels.get('status')}", value)
            elif name in (names.QUEUE_DEPTH, names.QUEUE_PENDING, names.OUTBOX_BACKLOG):
                put(name, value)
            elif name == names.LEDGER_DRIFT:
                put("ledger_drift", value)
            elif name == names.LEDGER_AMOUNT_TOTAL:
                put("ledger_total", value)
            elif name == names.ORDERS_PAID_AMOUNT_TOTAL:
                put("orders_paid_total", value)
            elif name in (f"{names.HTTP_DB_STATEMENTS}_sum", f"{names.HTTP_DB_STATEMENTS}_count"):
                put(f"{name.rsplit('_', 1)[1]}:{labels.get('route')}", value)
            elif name in (SUCCESS, DURATION) and labels.get("journey") == "checkout":
                put(name, value)
            elif name == names.OUTBOUND_REQUESTS_TOTAL and (labels.get("peer"), labels.get("service")) == (
                "payment",
                FRONT_DOOR,
            ):
                put(f"to_payment:{labels.get('outcome')}", value)
    return found


def increase(before: float | None, after: float | None) -> float | None:
    """A counter's increase between two samples; a drop is a restart, counted from zero (PromQL)."""
    if after is None:
        return None
    if before is None:
        return None
    return after - before if after >= before else after


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """PromQL's histogram_quantile over cumulative bucket counts (upper bound → count), in the
    buckets' unit; None with no observations."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return previous_bound
            width = count - previous_count
            share = (rank - previous_count) / width if width > 0 else 0.0
            return previous_bound + (bound - previous_bound) * share
        previous_bound, previous_count = bound, count
    return previous_bound


@dataclass(frozen=True)
class Figures:
    """The business panels' numbers over one interval (None: no data for it)."""

    checkouts: float | None
    checkout_success: float | None
    checkout_p95_ms: float | None
    payments: float | None
    payment_success: float | None
    queue_depth: float | None
    outbox_backlog: float | None
    ledger_drift: float | None
    ledger_total: float | None
    orders_paid_total: float | None
    statements_per_request: dict[str, float]
    measured_by: dict[str, str]
    """The figures shown from a stand-in, and which (``PROBER_SAYS``, ``CALLER_SAYS``)."""


def figures(
    before: dict[str, float], after: dict[str, float], between: list[dict[str, float]] | None = None
) -> Figures:
    """What happened between two flattened scrapes (``after`` gives the gauges; ``between``, the scrapes
    after ``before`` up to ``after``, gives the probes: by default ``after`` alone)."""

    def delta(key: str) -> float | None:
        earlier = before.get(key)
        if earlier is None and ":" in key:  # a new label value of a metric the service already had
            family = key.split(":", 1)[0] + ":"
            earlier = 0.0 if any(k.startswith(family) for k in before) else None
        return increase(earlier, after.get(key))

    def total(prefix: str) -> tuple[float | None, dict[str, float]]:
        parts = {k.split(":", 1)[1]: delta(k) for k in after if k.startswith(prefix + ":")}
        known = {k: v for k, v in parts.items() if v is not None}
        return (sum(known.values()) if known else None), known

    checkouts, outcomes = total("checkouts")
    payments, statuses = total("payments")
    buckets = {}
    for key in after:
        if key.startswith("checkout_le:"):
            grown = delta(key)
            if grown is not None:
                buckets[float(key.split(":", 1)[1])] = grown
    p95 = histogram_quantile(0.95, buckets)
    measured_by: dict[str, str] = {}
    checkout_success = (1 - outcomes.get("failed", 0.0) / checkouts) if checkouts else None
    checkout_p95_ms = round(p95 * 1000, 1) if p95 is not None else None
    probes = [(s[SUCCESS], s[DURATION]) for s in between or [after] if SUCCESS in s and DURATION in s]
    if checkouts is None and probes:  # service-a is silent: what a shopper at the door gets
        checkout_success = sum(ok for ok, _ in probes) / len(probes)
        durations = sorted(d for _, d in probes)
        checkout_p95_ms = round(durations[min(len(durations) - 1, int(0.95 * len(durations)))] * 1000, 1)
        measured_by |= {"checkout_success": PROBER_SAYS, "checkout_p95_ms": PROBER_SAYS}
    payment_success = (statuses.get("succeeded", 0.0) / payments) if payments else None
    calls, call_outcomes = total("to_payment")
    if payments is None and calls:  # payment is silent: how its caller fares
        payment_success = call_outcomes.get("ok", 0.0) / calls
        measured_by["payment_success"] = CALLER_SAYS
    statements = {}
    for key in after:
        if key.startswith("sum:"):
            route = key.split(":", 1)[1]
            count = delta(f"count:{route}")
            summed = delta(key)
            if count and summed is not None:
                statements[route] = round(summed / count, 1)
    return Figures(
        checkouts=checkouts,
        checkout_success=checkout_success,
        checkout_p95_ms=checkout_p95_ms,
        payments=payments,
        payment_success=payment_success,
        queue_depth=after.get("queue_depth"),
        outbox_backlog=after.get("outbox_backlog"),
        ledger_drift=after.get("ledger_drift"),
        ledger_total=after.get("ledger_total"),
        orders_paid_total=after.get("orders_paid_total"),
        statements_per_request=statements,
        measured_by=measured_by,
    )


def sample(scrape) -> tuple[dict[str, float], set[str]]:
    """One scrape of every service (``scrape()`` → service → /metrics text or None), flattened and
    merged, and the services that did not answer it."""
    merged: dict[str, float] = {}
    silent: set[str] = set()
    for service, text in scrape().items():
        if text is None:
            silent.add(service)
            continue
        try:
            merged.update(flatten(text))
        except ValueError:
            silent.add(service)
    return merged, silent


GAUGES = ("queue_depth", "outbox_backlog", "ledger_drift")
"""The tiles that show a level, not a rate: a silent service's last level is still a fact."""


def held(overall: Figures, samples: list[tuple[float, dict[str, float], set[str]]]) -> Figures:
    """``overall`` with each gauge its service did not report in the latest scrape taken from the last
    scrape that had it, and said so (``LAST_SAYS`` with when)."""
    kept, said = {}, dict(overall.measured_by)

    def last_answer(at: float) -> str:
        return LAST_SAYS.format(clock(at))

    for figure in GAUGES:
        if getattr(overall, figure) is not None:
            continue
        found = next(((at, values[figure]) for at, values, _ in reversed(samples) if figure in values), None)
        if found is not None:
            kept[figure] = found[1]
            said[figure] = last_answer(found[0])
    for figure, prefix in (("statements_per_request", "sum:"), ("payment_success", "payments:")):
        if getattr(overall, figure) not in (None, {}) or (figure == "payment_success" and overall.payments is not None):
            continue  # it has a figure, or payment answered and charged nothing (the tile says so)
        # the figure between the last two scrapes in a row that had its counters
        for newer, older in itertools.pairwise(reversed(samples)):
            if any(k.startswith(prefix) for k in newer[1]) and any(k.startswith(prefix) for k in older[1]):
                found = getattr(figures(older[1], newer[1]), figure)
                if found not in (None, {}):
                    kept[figure], said[figure] = found, last_answer(newer[0])
                break
    return replace(overall, **kept, measured_by=said) if kept else overall


class MetricsHistory:
    """Flattened scrapes of every service, newest last, ``keep_s`` of them."""

    def __init__(self, every_s: float = 5.0, keep_s: float = 330.0, clock=time.time):
        self.every_s = every_s
        self.clock = clock
        self._samples: deque[tuple[float, dict[str, float], set[str]]] = deque(maxlen=int(keep_s / every_s) + 2)
        self._lock = threading.Lock()
        self._scraping = threading.Lock()

    def refresh(self, scrape) -> None:
        """Scrape (``scrape()`` → service → /metrics text or None) unless the last scrape is recent;
        one caller scrapes at a time, the others read what is there."""
        if self._samples and self.clock() - self._samples[-1][0] < self.every_s:
            return
        if not self._scraping.acquire(blocking=False):
            return
        try:
            at = self.clock()
            merged, silent = sample(scrape)
            with self._lock:
                self._samples.append((at, merged, silent))
        finally:
            self._scraping.release()

    def window(self, window_s: float) -> tuple[Figures | None, list[tuple[float, Figures]], set[str]]:
        """(figures over the window, figures per scrape interval within it, services that did not
        answer the last scrape)."""
        with self._lock:
            samples = list(self._samples)
        if len(samples) < 2:
            return None, [], samples[-1][2] if samples else set()
        newest = samples[-1][0]
        inside = [s for s in samples if s[0] >= newest - window_s - self.every_s / 2]
        if len(inside) < 2:
            inside = samples[-2:]
        series = [(after[0], figures(before[1], after[1])) for before, after in itertools.pairwise(inside)]
        overall = held(figures(inside[0][1], inside[-1][1], [s[1] for s in inside[1:]]), samples)
        return overall, series, samples[-1][2]
