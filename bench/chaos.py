"""Chaos benchmarks: injection accuracy, time to inject and revert, deadlock collapse and recovery.

One lab, measured in one run:

1. Accuracy: GET /products on service-a, first bare (paced 500 ms apart, so the
   machine idles as much as it does during an injected delay), then with a
   500 ms inbound latency fault; the added median and P95 against 500 ± 2 ms.
2. Inject/revert: wall time of the CLI applying a three-service scenario and
   reverting it, against the CLI's own start-up (``chaoslab --version``)
   measured the same way; target ≤ 0.5 s each.
3. Deadlock: seconds from ``scenario start deadlock`` to throughput collapse
   (successful checkouts per second under 10% of the baseline), and from
   ``scenario stop`` to recovery (back over 50%); target ≤ 10 s each.

    python -m bench.chaos
"""

from __future__ import annotations

import statistics
import sys
import time

import requests

from bench.labs import BenchLab
from chaoslab.backend import LoadProfile
from chaoslab.loadtest.runner import LoadPlan, LocustRun
from chaoslab.local.ports import free_port


def latencies(url: str, count: int, pause_s: float = 0.0) -> list[float]:
    session = requests.Session()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        session.get(url).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(pause_s)  # pacing, so the baseline idles like a delayed request does
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def accuracy(lab: BenchLab, front: str) -> None:
    # A request that waits 500 ms finds the machine idle (CPU and PostgreSQL backends asleep), which
    # costs ~2 ms by itself on this machine; the baseline is paced with the same idle time.
    bare = latencies(f"{front}/products", 40, pause_s=0.5)
    lab.cli("fault", "add", "latency", "ms=500", "--service", "service-a", "--route", "/products", "--ttl", "120")
    faulted = latencies(f"{front}/products", 40)
    lab.cli("reset")
    added_median = statistics.median(faulted) - statistics.median(bare)
    added_p95 = p95(faulted) - p95(bare)
    print(f"injection accuracy (500 ms asked, GET /products at the caller, {len(faulted)} requests):")
    print(f"  added median {added_median:7.2f} ms  (error {added_median - 500:+.2f} ms; target within ±2 ms)")
    print(f"  added P95    {added_p95:7.2f} ms  (error {added_p95 - 500:+.2f} ms)")


def inject_revert(lab: BenchLab) -> None:
    baseline = statistics.median(lab.timed("--version") for _ in range(5))
    injects, reverts = [], []
    for _ in range(5):
        injects.append(lab.timed("scenario", "start", "multi-component", "--no-load", "--ttl", "120"))
        reverts.append(lab.timed("scenario", "stop"))
    inject, revert = statistics.median(injects), statistics.median(reverts)
    print("inject and revert (CLI call to return, 4 faults on 3 services, median of 5):")
    print(f"  chaoslab --version (CLI start-up baseline)  {baseline:6.3f} s")
    print(
        f"  scenario start                              {inject:6.3f} s  ({inject / baseline:.1f}x baseline; "
        f"{inject - baseline:.3f} s beyond start-up; target <= 0.5 s)"
    )
    print(
        f"  scenario stop                               {revert:6.3f} s  ({revert / baseline:.1f}x baseline; "
        f"{revert - baseline:.3f} s beyond start-up)"
    )


def ok_rate(run: LocustRun, sample_s: float = 1.0) -> float:
    """Successful checkouts per second over the next ``sample_s`` (Locust's own rate lags by ~10 s)."""
    run.reset()
    time.sleep(sample_s)  # the sample interval itself
    entry = next((e for e in run.stats()["stats"] if e["name"] == "POST /checkout"), None)
    return 0.0 if entry is None else (entry["num_requests"] - entry["num_failures"]) / sample_s


def deadlock(lab: BenchLab, front: str) -> None:
    run = LocustRun(LoadPlan(host=front, profile=LoadProfile(24, 24, 0.1, "rush")), free_port()).start()
    try:
        baseline = statistics.median(ok_rate(run, 2.0) for _ in range(3))
        started = time.monotonic()
        lab.cli("scenario", "start", "deadlock", "--no-load", "--ttl", "300")
        while ok_rate(run) > baseline * 0.1 and time.monotonic() - started < 60:
            pass
        collapse = time.monotonic() - started
        ok_rate(run, 5.0)  # five seconds of collapse
        stopped = time.monotonic()
        lab.cli("scenario", "stop")
        while ok_rate(run) < baseline * 0.5 and time.monotonic() - stopped < 60:
            pass
        recovery = time.monotonic() - stopped
    finally:
        run.stop()
    print(f"deadlock under 24 rush users (baseline {baseline:.1f} successful checkouts/s, sampled every second):")
    print(f"  start to collapse (< 10% of baseline)  {collapse:5.1f} s  (target <= 10 s)")
    print(f"  stop to recovery (> 50% of baseline)   {recovery:5.1f} s  (target <= 10 s)")


def main() -> int:
    with BenchLab("chaos-bench") as lab:
        lab.cli("up")
        front = lab.url("service-a")
        accuracy(lab, front)
        inject_revert(lab)
        deadlock(lab, front)
    return 0


if __name__ == "__main__":
    sys.exit(main())
