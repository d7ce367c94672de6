"""Impact in numbers, from the services' own metrics: checkouts failed or slow, orders paid and not
fulfilled, p95, money affected.

A *snapshot* is the few counters that matter, read from service-a's, payment's and the worker's
``/metrics`` through the backend's probe (so it works on both targets): checkout requests by outcome,
their latency histogram, the orders paid and the money they carried, payment's ledger drift, and the
orders the worker fulfilled. The impact of a window is the difference of two snapshots: the drill's
baseline (instructor's side) or the incident's declaration, and the end (mitigation, the first
verify, the resolution, or now). Counters that went backwards (a restarted process) are counted from
zero, as Prometheus's ``increase`` does.

Three user journeys are measured: *checkout* (a checkout that failed with a 5xx or took longer than
the latency SLO's bad event), *fulfilment* (an order paid in the window and not fulfilled in it, beyond
the few a healthy pipeline has in flight) and *payment* (a charge whose captured amount is not the amount
asked: the customer charged wrong). The **affected share** is the worst of them: the one figure
triage's SCOPE, the status updates and the review all use; their words (``describe``) also name any other
journey hurt beyond its SLO's budget, and every wrong charge.
"""

from __future__ import annotations

import math
import time

from prometheus_client.parser import text_string_to_metric_families

from chaoslab.alerts.definitions import CHECKOUT_SLOW_S
from chaoslab.telemetry import names

CHECKOUT_ROUTE = ("POST", "/checkout")
SLOW_S = CHECKOUT_SLOW_S
"""A checkout slower than this counts as affected: the latency SLO's own bad event, so the impact counts
what paged (a latency drill that pages on 100% slow checkouts shows them affected, not 0%)."""
SHIP_IN_FLIGHT_S = 5.0
"""How long a paid order normally takes to ship (the checkout nudges the outbox relay; the worker takes it
within a second or two): younger unshipped orders are in flight, not affected."""


def snapshot(probe) -> dict:
    """The counters of service-a and payment now. Raises whatever the probe raises when the lab does
    not answer; callers that must not fail catch it."""
    doc: dict = {"ts": round(time.time(), 3), "total": 0.0, "failed": 0.0, "buckets": {}}
    doc.update(paid=0.0, paid_amount=0.0, ledger_drift=0.0, charges=0.0, mischarged=0.0, fulfilled=None)
    method, route = CHECKOUT_ROUTE
    for family in text_string_to_metric_families(probe.scrape("service-a")):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == names.HTTP_REQUESTS_TOTAL and labels.get("route") == route:
                if labels.get("method") == method:
                    doc["total"] += sample.value
                    if labels.get("status", "").startswith("5"):
                        doc["failed"] += sample.value
            elif sample.name == f"{names.HTTP_DURATION}_bucket" and labels.get("route") == route:
                if labels.get("method") == method:
                    le = labels["le"]
                    doc["buckets"][le] = doc["buckets"].get(le, 0.0) + sample.value
            elif sample.name == names.CHECKOUTS_TOTAL and labels.get("outcome") == "paid":
                doc["paid"] += sample.value
            elif sample.name == names.ORDERS_PAID_AMOUNT_TOTAL:
                doc["paid_amount"] += sample.value
    for family in text_string_to_metric_families(probe.scrape("payment")):
        for sample in family.samples:
            if sample.name == names.LEDGER_DRIFT:
                doc["ledger_drift"] += sample.value
            elif sample.name == names.LEDGER_ENTRIES_TOTAL:
                doc["charges"] += sample.value
            elif sample.name == names.LEDGER_MISCHARGED_TOTAL:
                doc["mischarged"] += sample.value
    try:
        worker = probe.scrape("worker")
    except Exception:  # a stopped or crash-looping worker: the fulfilment journey is unmeasured, not the rest
        return doc
    doc["fulfilled"] = sum(
        sample.value
        for family in text_string_to_metric_families(worker)
        for sample in family.samples
        if sample.name == names.JOBS_PROCESSED_TOTAL and sample.labels.get("outcome") == "fulfilled"
    )
    return doc


def counters_now(lab) -> dict | None:
    """``snapshot`` of a backend's lab, or None when its metrics do not answer: for the moves that must
    never fail for want of a figure (a drill's start, an answer, a resolution)."""
    try:
        return snapshot(lab.probe())
    except Exception:  # best effort on any target (a pod without an address, an API error, a hung front door)
        return None


def _in_flight(paid: float, since: float | None, until: float) -> float:
    """The paid orders a healthy pipeline still carries at the window's end: the window's rate of payment
    over ``SHIP_IN_FLIGHT_S``. An order paid a moment ago and not shipped yet is on its way, not a
    customer affected (counted as one, it once outweighed a drill's real harm)."""
    if since is None or until <= since:
        return 0.0
    return math.ceil(paid / (until - since) * SHIP_IN_FLIGHT_S)


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
    unfulfilled = None
    if after.get("fulfilled") is not None and before.get("fulfilled", 0.0) is not None:
        fulfilled = _increase(before.get("fulfilled", 0.0), after["fulfilled"])
        unfulfilled = max(0.0, paid - fulfilled - _in_flight(paid, before.get("ts"), after["ts"]))
    charges = _increase(before.get("charges", 0.0), after.get("charges", 0.0))
    mischarged = min(charges, _increase(before.get("mischarged", 0.0), after.get("mischarged", 0.0)))
    shares = {
        "checkout": affected / total if total else None,
        "fulfilment": unfulfilled / paid if unfulfilled is not None and paid else None,
        "payment": mischarged / charges if charges else None,
    }
    shares = {k: v for k, v in shares.items() if v is not None}
    journey = max(shares, key=shares.get) if shares else None
    return {
        "from": before.get("ts"),
        "to": after["ts"],
        "checkouts": round(total),
        "failed": round(failed),
        "slow": round(slow),
        "affected": round(affected),
        "paid": round(paid),
        "unfulfilled": None if unfulfilled is None else round(unfulfilled),
        "charges": round(charges),
        "mischarged": round(mischarged),
        "journey": journey,
        "affected_share": round(shares[journey], 4) if journey else None,
        "p95_ms": None if p95 is None else round(p95 * 1000),
        "average_order": None if average is None else round(average, 2),
        "revenue_at_risk": None if average is None else round(failed * average, 2),
        "ledger_drift": round(drift, 2),
    }


def describe(figures: dict | None) -> str:
    """The affected share in plain words, as a customer-facing message or a review says it: the worst
    journey first, then any other journey that was hurt (a busy host's slow checkouts must not hide the
    charges that took a wrong amount)."""
    if not figures or figures.get("affected_share") is None:
        return "not measured yet"
    worst = figures["journey"]
    said = [_journey(worst, figures["affected_share"], figures)]
    others = sorted(
        ((share, j) for j, share in _shares(figures).items() if j != worst and _hurt(j, share)), reverse=True
    )
    return "; ".join(said + [_journey(j, share, figures) for share, j in others])


def _shares(figures: dict) -> dict[str, float]:
    """Each journey's share from the window's own counts (``window`` keeps only the worst one's)."""
    shares = {}
    if figures.get("checkouts"):
        shares["checkout"] = figures.get("affected", 0) / figures["checkouts"]
    if figures.get("paid") and figures.get("unfulfilled") is not None:
        shares["fulfilment"] = figures["unfulfilled"] / figures["paid"]
    if figures.get("charges"):
        shares["payment"] = figures.get("mischarged", 0) / figures["charges"]
    return shares


NOISE = 0.01
"""Below this share a checkout or fulfilment figure is within its SLO's budget (99%): worth no mention beside
the worst journey. A charge for a wrong amount is always worth one."""


def _hurt(journey: str, share: float) -> bool:
    return share > 0 if journey == "payment" else share >= NOISE


def _percent(share: float) -> str:
    return "under 1%" if 0 < share < 0.005 else f"{share:.0%}"


def _journey(journey: str, share: float, figures: dict) -> str:
    if journey == "fulfilment":
        return f"{_percent(share)} of the orders paid since then have not shipped ({figures['unfulfilled']} orders)"
    if journey == "payment":
        return f"{_percent(share)} of the charges took a wrong amount ({figures['mischarged']} of {figures['charges']})"
    return (
        f"{_percent(share)} of checkouts failed or took longer than {SLOW_S:g} s "
        f"({figures['affected']} of {figures['checkouts']})"
    )
