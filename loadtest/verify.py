"""``chaoslab verify``: a fix is only a fix once it survives load.

Runs Locust for a set time against the lab, then judges the run: throughput,
P50/P95/P99 and error rate, the scenario's SLO (or the lab's baseline SLO),
and the reconciliation every run gets, over the whole database and not only
the run's orders (``chaos/reconcile.py``): no money drift, no order charged
but unpaid, paid but uncharged, charged a wrong amount or twice, no charge
without its order, every paid order fulfilled and none left pending.
"""

from __future__ import annotations

import csv
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chaoslab.chaos.checks import Check, Probe, Result, Window
from chaoslab.chaos.reconcile import recovery_deadline_s
from chaoslab.loadtest.runner import LoadPlan, LocustRun

BASELINE_SLO: tuple[Check, ...] = (
    Check("p95_ms", request="POST /checkout", max=400),
    Check("p95_ms", request="GET /products", max=200),
    Check("error_rate", request="all", max=0.01),
)
"""What a healthy lab must do under the default traffic (the README documents it)."""

RECONCILIATION: tuple[Check, ...] = (
    Check("ledger_drift", max=0),
    Check("mischarged_orders", max=0),
    Check("unfulfilled_orders", max=0),
    Check("unresolved_orders", max=0),
)
"""Checked after every run over the whole database, once the lab has settled (see drain)."""

DRAIN_S = 30.0
STALL_S = 5.0


def drain(probe: Probe, pending_deadline_s: float) -> None:
    """Let the lab finish what the run started: the worker fulfils paid orders, service-a's recovery
    resolves orders left pending (after ``pending_deadline_s``). Until none waits, and no longer than
    DRAIN_S plus that deadline; gives up after STALL_S without progress on paid orders (a lost order
    never will be fulfilled), or after the deadline plus STALL_S while pending ones wait."""
    deadline = time.monotonic() + DRAIN_S + pending_deadline_s
    last_count, last_progress = None, time.monotonic()
    while time.monotonic() < deadline:
        paid, pending = probe.query(
            "SELECT count(*) FILTER (WHERE status = 'paid'), count(*) FILTER (WHERE status = 'pending') "
            "FROM shop.orders"
        )[0]
        if paid + pending == 0:
            return
        if last_count is None or paid + pending < last_count:
            last_count, last_progress = paid + pending, time.monotonic()
        elif time.monotonic() - last_progress > STALL_S + (pending_deadline_s if pending else 0):
            return
        time.sleep(0.5)


@dataclass
class Verdict:
    scenario: str | None
    duration_s: float
    figures: dict
    results: list[Result] = field(default_factory=list)
    report_dir: str = ""
    books: dict | None = None
    """The reconciliation of the whole database (``chaos.reconcile.Reconciliation.to_json``)."""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario,
            "duration_s": self.duration_s,
            "ok": self.ok,
            "figures": self.figures,
            "checks": [
                {
                    "check": r.check.describe(),
                    "measure": r.check.measure,
                    "value": r.value,
                    "min": r.check.min,
                    "max": r.check.max,
                    "ok": r.ok,
                    "note": r.note,
                }
                for r in self.results
            ],
            "report_dir": self.report_dir,
            "reconciliation": self.books,
        }


def read_final_stats(report_dir: Path) -> dict:
    """Locust's final per-request figures from its CSV, shaped like its /stats/requests JSON."""
    entries = []
    with open(report_dir / "locust_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):

            def number(key: str, row: dict = row) -> float | None:
                value = row.get(key, "")
                return float(value) if value not in ("", "N/A") else None

            entries.append(
                {
                    "name": row["Name"],
                    "num_requests": int(row["Request Count"]),
                    "num_failures": int(row["Failure Count"]),
                    "median_response_time": number("50%"),
                    "response_time_percentile_0.95": number("95%"),
                    "response_time_percentile_0.99": number("99%"),
                    "total_rps": number("Requests/s") or 0.0,
                }
            )
    return {"stats": entries}


def figures(stats: dict, duration_s: float) -> dict:
    by_name = {e["name"]: e for e in stats["stats"]}
    total = by_name.get("Aggregated", {"num_requests": 0, "num_failures": 0})
    checkout = by_name.get("POST /checkout", {})

    def latency(entry: dict) -> dict:
        return {
            "p50_ms": entry.get("median_response_time"),
            "p95_ms": entry.get("response_time_percentile_0.95"),
            "p99_ms": entry.get("response_time_percentile_0.99"),
        }

    requests = total["num_requests"]
    return {
        "requests": requests,
        "throughput_rps": round(requests / duration_s, 2) if duration_s else 0,
        "error_rate": round(total["num_failures"] / requests, 4) if requests else None,
        "all": latency(total),
        "checkout": dict(
            latency(checkout), count=checkout.get("num_requests", 0), failures=checkout.get("num_failures", 0)
        ),
    }


def verify(
    probe: Probe,
    plan: LoadPlan,
    slo: tuple[Check, ...],
    scenario: str | None,
    log_path: Path,
    on_progress: Callable[[float, dict], None] = lambda elapsed, stats: None,
) -> Verdict:
    """Run ``plan`` (its run_time_s is the duration) and judge it. Raises LoadError if Locust fails."""
    checks = list(slo) + list(RECONCILIATION)
    window = Window(checks, probe)
    run = LocustRun(plan, log_path=log_path).start()
    started = time.monotonic()
    try:
        while run.running:
            try:
                on_progress(time.monotonic() - started, run.stats())
            except Exception:  # the web UI goes away as Locust quits; progress is best effort
                pass
            try:
                run.wait(2.0)
            except subprocess.TimeoutExpired:  # still running: report progress again
                continue
    finally:
        run.stop()
    final = read_final_stats(plan.report_dir)
    drain(probe, recovery_deadline_s())
    results = window.close(final)
    return Verdict(
        scenario,
        plan.run_time_s or 0,
        figures(final, plan.run_time_s or 0),
        results,
        str(plan.report_dir),
        window.books.to_json() if window.books else None,
    )
