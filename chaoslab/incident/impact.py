"""Impact in numbers, from the services' own metrics: checkouts failed or slow, p95, money affected.

A *snapshot* is the few counters that matter, read from service-a's and payment's ``/metrics``
through the backend's probe (so it works on both targets): checkout requests by outcome, their
latency histogram, the money of paid orders, and payment's ledger drift. The impact of a window is
the difference of two snapshots: the drill's baseline (instructor's side) or the incident's
declaration, and the end (resolution, or now). Counters that went backwards (a restarted process)
are counted from zero, as Prometheus's ``increase`` does.
"""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from chaoslab.alerts.definitions import CHECKOUT_SLOW_S

CHECKOUT_ROUTE = ("POST", "/checkout")
SLOW_S = CHECKOUT_SLOW_S
"""A checkout slower than this counts as affected: the latency SLO's own bad event, so the impact counts
what paged (a latency drill that pages on 100% slow checkouts shows them affected, not 0%)."""


def snapshot(probe) -> dict:
    """The counters of service-a and payment now. Raises whatever the probe raises when the lab does
    not answer; callers that must not fail catch it."""
    doc: dict = {"ts": round(time.time(), 3), "total": 0.0, "failed": 0.0, "buckets": {}}
    doc.update(paid=0.0, paid_amount=0.0, ledger_drift=0.0)
    method, route = CHECKOUT_ROUTE
    for family in text_string_to_metric_families(probe.scrape("service-a")):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "http_server_requests_total" and labels.get("route") == route:
                if labels.get("method") == method:
                    doc["total"] += sample.value
                    if labels.get("status", "").startswith("5"):
                        doc["failed"] += sample.value
            elif sample.name == "http_server_request_duration_seconds_bucket" and labels.get("route") == route:
                if labels.get("method") == method:
                    le = labels["le"]
                    doc["buckets"][le] = doc["buckets"].get(le, 0.0) + sample.value
            elif sample.name == "checkouts_total" and labels.get("outcome") == "paid":
                doc["paid"] += sample.value
            elif sample.name == "orders_paid_amount_total":
                doc["paid_amount"] += sample.value
    for family in text_string_to_metric_families(probe.scrape("payment")):
        for sample in family.samples:
            if sample.name == "ledger_drift_amount":
                doc["ledger_drift"] += sample.value
    return doc


def _increase(before: float, after: float) -> float:
    return after if after < before else after - before


def _quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus's histogram_quantile over cumulative bucket counts (seconds); None with no requests."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    previous_le, previous_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if le == float("inf"):
                return previous_le
            if count == previous_count:
                return le
            return previous_le + (le - previous_le) * (rank - previous_count) / (count - previous_count)
        previous_le, previous_count = le, count
    return previous_le


def window(before: dict | None, after: dict) -> dict:
    """Impact between two snapshots (``before`` None: since the counters started)."""
    before = before or {"ts": None, "total": 0.0, "failed": 0.0, "buckets": {}, "paid": 0.0, "paid_amount": 0.0}
    total = _increase(before.get("total", 0.0), after["total"])
    failed = min(total, _increase(before.get("failed", 0.0), after["failed"]))
    buckets = {
        float(le): _increase(before.get("buckets", {}).get(le, 0.0), count) for le, count in after["buckets"].items()
    }
    fast = max((count for le, count in buckets.items() if le <= SLOW_S), default=0.0)
    slow = max(0.0, total - fast)
    paid = _increase(before.get("paid", 0.0), after["paid"])
    paid_amount = _increase(before.get("paid_amount", 0.0), after["paid_amount"])
    average = paid_amount / paid if paid else (after["paid_amount"] / after["paid"] if after["paid"] else None)
    affected = min(total, max(failed, slow))
    p95 = _quantile(0.95, buckets)
    drift = _increase(before.get("ledger_drift", 0.0), after.get("ledger_drift", 0.0))
    return {
        "from": before.get("ts"),
        "to": after["ts"],
        "checkouts": round(total),
        "failed": round(failed),
        "slow": round(slow),
        "affected": round(affected),
        "affected_share": round(affected / total, 4) if total else None,
        "p95_ms": None if p95 is None else round(p95 * 1000),
        "average_order": None if average is None else round(average, 2),
        "revenue_at_risk": None if average is None else round(failed * average, 2),
        "ledger_drift": round(drift, 2),
    }
