"""Memory of the running local lab, per process and in total, and the time from `chaoslab up` to ready.

Runs two labs' worth of work in a fresh state directory: a cold `up` (initdb,
first migrations), a warm `up` (data kept), each timed from the command to
every component ready; then a few checkouts so memory is measured warm.
Memory is reported as PSS (shared pages split between the processes that map
them, so PostgreSQL's shared buffers count once) and, for reference, the sum
of RSS, which counts every shared page again in each process.
Targets from the foundation issue: <= 400 MiB for the five services plus
PostgreSQL and Redis; <= 10 s to ready. Baseline: a bare `python -c pass`
process, measured in the same run.

    python -m bench.lab_footprint
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import requests

from bench.labs import BenchLab

MIB = 2**20
FIVE = {"service-a", "service-b", "service-c", "payment", "worker"}


def memory(pid: int, children: bool = True) -> tuple[float, float]:
    """(RSS, PSS) in MiB of a process and, for PostgreSQL's sake, its children."""
    proc = psutil.Process(pid)
    family = [proc, *proc.children(recursive=True)] if children else [proc]
    rss = sum(p.memory_info().rss for p in family) / MIB
    pss = sum(p.memory_full_info().pss for p in family) / MIB
    return rss, pss


def baseline() -> tuple[float, float]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)  # let the interpreter finish starting; nothing to poll for in a sleeping process
        return memory(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    with BenchLab("footprint") as lab:
        cold = lab.timed("up")
        lab.cli("down")
        warm = lab.timed("up")
        status = lab.status()
        front = lab.url("service-a")
        for n in range(50):
            requests.post(
                f"{front}/checkout",
                json={
                    "customer_id": 1 + n % 50,
                    "items": [{"sku": "SKU-1001", "quantity": 1}, {"sku": "SKU-1005", "quantity": 2}],
                },
                headers={"Idempotency-Key": f"footprint-{n}"},
                timeout=30,
            ).raise_for_status()
        _, base_pss = baseline()
        rows = []
        for proc in status["processes"]:
            rss, pss = memory(proc["pid"])
            rows.append((proc["name"], rss, pss))
        daemon_rss, daemon_pss = memory(status["lab"]["pid"], children=False)
        print("lab_footprint (PSS counts shared pages once; RSS sums count them in every process)")
        print(f"  {'process':<12}{'PSS MiB':>9}{'RSS MiB':>9}{'x bare python':>15}")
        for name, rss, pss in rows:
            print(f"  {name:<12}{pss:9.1f}{rss:9.1f}{pss / base_pss:15.1f}")
        print(f"  {'lab daemon':<12}{daemon_pss:9.1f}{daemon_rss:9.1f}{daemon_pss / base_pss:15.1f}")
        target = [r for r in rows if r[0] in FIVE | {"postgres", "redis"}]
        pss_total = sum(r[2] for r in target)
        rss_total = sum(r[1] for r in target)
        print(
            f"  five services + PostgreSQL + Redis: {pss_total:.0f} MiB PSS ({rss_total:.0f} MiB RSS summed); "
            f"target <= 400 MiB -> {pss_total / 400:.2f} of target"
        )
        everything = sum(r[2] for r in rows) + daemon_pss
        print(f"  everything incl. gateway and lab daemon: {everything:.0f} MiB PSS")
        print(f"  bare python baseline: {base_pss:.1f} MiB PSS")
        print(
            f"  time to ready: cold {cold:.1f}s (initdb + migrations), warm {warm:.1f}s; "
            f"target <= 10 s -> {max(cold, warm) / 10:.2f} of target"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
