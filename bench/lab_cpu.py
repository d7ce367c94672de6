"""CPU of the running local lab under the default load, per process and per request.

The cost per team on Kubernetes is mostly these processes' CPU, so this is where a cut is
measured first (the cohort's figures on kind come from the end-to-end stage's kubelet
summary, which reads the same processes in pods). Starts a throwaway lab, runs the default
load (`chaoslab load start`: Locust's shop journey), lets it warm up, then reads each
process's CPU time over a window. Baseline, measured in the same run: Locust's own CPU for
the same requests (the load generator does comparable HTTP work per request, so the ratio
is about the services, not about this machine's speed).

    python -m bench.lab_cpu            # BENCH_WINDOW_S (60) after BENCH_WARMUP_S (30)
"""

from __future__ import annotations

import json
import os
import sys
import time

import psutil

from bench.labs import BenchLab

WARMUP_S = float(os.environ.get("BENCH_WARMUP_S", "30"))
WINDOW_S = float(os.environ.get("BENCH_WINDOW_S", "60"))


def cpu_seconds(proc: psutil.Process, children: bool) -> float:
    family = [proc, *proc.children(recursive=True)] if children else [proc]
    total = 0.0
    for p in family:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def requests_served(lab: BenchLab) -> int:
    stats = json.loads(lab.cli("load", "status", "--json").stdout)["stats"]
    return sum(s["num_requests"] for s in stats if s["name"] == "Aggregated") or sum(s["num_requests"] for s in stats)


def locust_process(lab: BenchLab) -> psutil.Process:
    """The background load's Locust, as `chaoslab load start` registered it in the state directory."""
    try:
        return psutil.Process(json.loads((lab.state / "load.json").read_text())["pid"])
    except (FileNotFoundError, KeyError, ValueError, psutil.NoSuchProcess):
        raise SystemExit("lab_cpu: the load is not running (no Locust registered by `load start`)") from None


def main() -> int:
    with BenchLab("lab-cpu") as lab:
        lab.cli("up")
        lab.cli("load", "start")
        time.sleep(WARMUP_S)  # the measurement's warm-up: pools fill, statements get prepared
        status = lab.status()
        procs = {p["name"]: psutil.Process(p["pid"]) for p in status["processes"]}
        procs["lab daemon"] = psutil.Process(status["lab"]["pid"])
        locust = locust_process(lab)
        # PostgreSQL's backends are its children; the daemon's children are the lab itself.
        before = {n: cpu_seconds(p, children=n == "postgres") for n, p in procs.items()}
        before_locust, served_before, started = cpu_seconds(locust, True), requests_served(lab), time.monotonic()
        time.sleep(WINDOW_S)  # the measurement window itself
        elapsed = time.monotonic() - started
        after = {n: cpu_seconds(p, children=n == "postgres") for n, p in procs.items()}
        locust_m = (cpu_seconds(locust, True) - before_locust) / elapsed * 1000
        served = requests_served(lab) - served_before
    rate = served / elapsed
    print(f"lab_cpu: default load, {rate:.1f} requests/s over {elapsed:.0f} s (after {WARMUP_S:.0f} s of warm-up)")
    print(f"  {'process':<12}{'millicores':>11}{'ms CPU/request':>16}{'x Locust':>10}")
    team = 0.0
    for name in procs:
        millicores = (after[name] - before[name]) / elapsed * 1000
        if name != "lab daemon":
            team += millicores
        print(f"  {name:<12}{millicores:11.1f}{millicores / rate:16.2f}{millicores / locust_m:10.2f}")
    print(f"  {'Locust':<12}{locust_m:11.1f}{locust_m / rate:16.2f}{1:10.2f}   (baseline: the load generator)")
    print(f"  the team's services and datastores: {team:.0f} m ({team / locust_m:.1f} x Locust)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
