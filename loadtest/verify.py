"""``chaoslab verify``: a fix is only a fix once it survives load.

Runs Locust for a set time against the lab, then judges the run: throughput,
P50/P95/P99 and error rate, the scenario's SLO (or the lab's baseline SLO),
and the reconciliation every run gets: no money drift, every order placed
during the run fulfilled, and charged exactly its total, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chaoslab.backend import LoadDriver, LoadProfile
from chaoslab.chaos.checks import MEASURES, Check, Probe, Result, Window

BASELINE_SLO: tuple[Check, ...] = (
    Check("p95_ms", request="POST /checkout", max=400),
    Check("p95_ms", request="GET /products", max=200),
    Check("error_rate", request="all", max=0.01),
)
"""What a healthy lab must do under the default traffic (the README documents it)."""

RECONCILIATION: tuple[Check, ...] = (
    Check("ledger_drift", max=0),
    Check("unfulfilled_orders", max=0),
    Check("mischarged_orders", max=0),
)
"""Checked after every run, once the queue has drained (see drain)."""

DRAIN_S = 30.0
STALL_S = 5.0


def drain(probe: Probe, since_wall: float) -> None:
    """Give the worker time to fulfil the run's last orders: until none waits, DRAIN_S at most, and
    no longer than STALL_S without one more being fulfilled (a lost order never will be)."""
    deadline = time.monotonic() + DRAIN_S
    last_count, last_progress = None, time.monotonic()
    while time.monotonic() < deadline:
        count = probe.query(
            "SELECT count(*) FROM shop.orders WHERE status = 'paid' AND created_at >= to_timestamp(%s)", (since_wall,)
        )[0][0]
        if count == 0:
            return
        if last_count is None or count < last_count:
            last_count, last_progress = count, time.monotonic()
        elif time.monotonic() - last_progress > STALL_S:
            return
        time.sleep(0.5)


@dataclass
class Verdict:
    scenario: str | None
    duration_s: float
    figures: dict
    results: list[Result] = field(default_factory=list)
    report_dir: str = ""
    skipped: list[Check] = field(default_factory=list)
    """Checks this lab cannot measure from here (data checks on a namespace)."""

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
            "skipped": [c.describe() for c in self.skipped],
            "report_dir": self.report_dir,
        }


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
    load: LoadDriver,
    profile: LoadProfile,
    duration_s: float,
    slo: tuple[Check, ...],
    scenario: str | None,
    on_progress: Callable[[float, dict], None] = lambda elapsed, stats: None,
) -> Verdict:
    """Run ``profile`` for ``duration_s`` and judge it against ``slo`` and the reconciliation. Checks
    the probe cannot measure (data checks on a namespace) are reported as skipped. Raises LoadError
    if the load generator fails."""
    checks = [c for c in (*slo, *RECONCILIATION) if MEASURES[c.measure].source in probe.sources]
    skipped = [c for c in (*slo, *RECONCILIATION) if c not in checks]
    window = Window(checks, probe)
    run = load.run(profile, duration_s, f"verify-{scenario or 'baseline'}", on_progress)
    if any(MEASURES[c.measure].source == "data" for c in checks):
        drain(probe, window.started_wall)
    results = window.close(run.stats)
    return Verdict(scenario, duration_s, figures(run.stats, duration_s), results, run.report, skipped)
