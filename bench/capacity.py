"""The highest checkout rate the local lab sustains with checkout P95 under the baseline SLO, against
the same figure for a bare three-hop chain measured in the same run, and where the time goes.

1. The lab, full telemetry on: Locust's checkout-only journey at rising user counts; each step
   reports successful checkouts per second and P95. Capacity is the best rate of a step whose P95
   stays within the baseline SLO (``loadtest/verify.py``: POST /checkout P95 <= 400 ms).
2. The bare chain: service-a's shape without anything else (Flask on waitress → gRPC → gRPC: no
   database, no payment, no queue, no telemetry, no fault agent), same steps, same rule.
3. py-spy samples the hottest service of the lab under load (the GIL holder only: CPU, not waiting)
   and prints where its CPU goes.

    python -m bench.capacity [--steps 4,8,16,24,32] [--step-s 20]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent import futures
from pathlib import Path

import psutil

from bench.labs import BenchLab
from chaoslab.backend import LoadProfile
from chaoslab.loadtest.runner import LoadPlan, LocustRun
from chaoslab.loadtest.verify import BASELINE_SLO
from chaoslab.local.ports import free_port

SLO_P95_MS = next(c.max for c in BASELINE_SLO if c.request == "POST /checkout")


# ---- the bare chain: what the ring costs with nothing but the hops --------------------------------
def serve_bare(role: str, port: int, downstream: int) -> None:
    import grpc
    from flask import Flask, jsonify

    from chaoslab.services.rpc import ring_pb2, ring_pb2_grpc
    from chaoslab.wsgi import HttpServer

    if role == "c":

        class Pricing(ring_pb2_grpc.PricingServicer):
            def Quote(self, request, context):
                return ring_pb2.QuoteReply(total="1.00", currency="USD")

        server = grpc.server(futures.ThreadPoolExecutor(8))
        ring_pb2_grpc.add_PricingServicer_to_server(Pricing(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        server.wait_for_termination()
    elif role == "b":
        pricing = ring_pb2_grpc.PricingStub(grpc.insecure_channel(f"127.0.0.1:{downstream}"))

        class Inventory(ring_pb2_grpc.InventoryServicer):
            def Reserve(self, request, context):
                return ring_pb2.ReserveReply(
                    reservation_id="r",
                    quote=pricing.Quote(
                        ring_pb2.QuoteRequest(order_id=request.order_id, items=request.items), timeout=5
                    ),
                )

        server = grpc.server(futures.ThreadPoolExecutor(8))
        ring_pb2_grpc.add_InventoryServicer_to_server(Inventory(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        server.wait_for_termination()
    else:
        inventory = ring_pb2_grpc.InventoryStub(grpc.insecure_channel(f"127.0.0.1:{downstream}"))
        app = Flask("bare-a")
        counter = iter(range(1, 10**9))

        @app.post("/checkout")
        def checkout():
            order_id = next(counter)
            reply = inventory.Reserve(
                ring_pb2.ReserveRequest(
                    order_id=order_id, items=[ring_pb2.LineItem(sku="SKU-1001", quantity=1, unit_price="19.99")]
                ),
                timeout=5,
            )
            return jsonify(id=order_id, total=reply.quote.total), 201

        HttpServer(app, "127.0.0.1", port, 8, "bare-a").start()
        while True:
            time.sleep(3600)


def start_bare() -> tuple[str, list[subprocess.Popen]]:
    c, b, a = free_port(), free_port(), free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.capacity", "--serve", role, str(port), str(down)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, port, down in (("c", c, 0), ("b", b, c), ("a", a, b))
    ]
    return f"http://127.0.0.1:{a}", procs


# ---- measuring ------------------------------------------------------------------------------------
def step(run: LocustRun, users: int, step_s: float) -> tuple[float, float | None]:
    """(successful checkouts per second, P95 ms) at ``users`` users, after a short settle."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(
            f"{run.url}/swarm", data=f"user_count={users}&spawn_rate={users}".encode(), method="POST"
        ),
        timeout=5,
    )
    time.sleep(3)  # let the new users settle before the measured window
    run.reset()
    time.sleep(step_s)  # the measured window
    entry = next((e for e in run.stats()["stats"] if e["name"] == "POST /checkout"), None)
    if entry is None:
        return 0.0, None
    return (entry["num_requests"] - entry["num_failures"]) / step_s, entry.get("response_time_percentile_0.95")


def capacity(host: str, steps: list[int], step_s: float, label: str, on_best=None) -> float:
    run = LocustRun(LoadPlan(host=host, profile=LoadProfile(steps[0], steps[0], 0, "rush")), free_port()).start()
    best = 0.0
    try:
        print(f"{label}:")
        for users in steps:
            rate, p95 = step(run, users, step_s)
            within = p95 is not None and p95 <= SLO_P95_MS
            print(f"  {users:>3} users  {rate:7.1f} checkouts/s  P95 {p95} ms  {'ok' if within else 'over SLO'}")
            if within and rate > best:
                best = rate
                if on_best:
                    on_best()
            if not within:
                break
    finally:
        run.stop()
    return best


def hottest(status: dict) -> dict:
    """The lab process that used the most CPU so far (after a load run, the bottleneck's best guess)."""
    procs = [p for p in status["processes"] if p["kind"] == "service"]
    return max(procs, key=lambda p: sum(psutil.Process(p["pid"]).cpu_times()[:2]))


def profile(pid: int, seconds: int) -> str:
    """py-spy's view of one process: share of samples per function, own time and with callees."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = Path(tempfile.mkdtemp()) / "profile.txt"
    # --gil: only samples of the thread holding the GIL, i.e. where the process spends CPU in Python,
    # not the threads parked on a socket waiting for PostgreSQL or a peer.
    result = subprocess.run(
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            str(seconds),
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            str(raw),
            "--nonblocking",
            "--gil",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not raw.exists():
        return f"  (py-spy failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else '?'})"
    own, inclusive, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(" (")[0] + " " + f.split("/")[-1].split(":")[0].rstrip(")") for f in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    if not total:
        return "  (no samples holding the GIL)"
    lines = ["  the lab's own code, share of CPU samples spent in it and below:"]
    ours = [(f, c) for f, c in inclusive.most_common() if _ours(f)]
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in ours[:12]]
    lines.append("  functions by own time (where the CPU actually is):")
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in own.most_common(12)]
    return "\n".join(lines)


def _ours(frame: str) -> bool:
    name = frame.rsplit(" ", 1)[-1]
    return (
        name
        in {
            "app.py",
            "checkout.py",
            "store.py",
            "db.py",
            "peers.py",
            "grpc_peers.py",
            "web.py",
            "queue.py",
            "outbox.py",
            "agent.py",
            "validation.py",
            "logs.py",
            "tracing.py",
        }
        and "Flask" not in frame
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="4,8,16,24,32")
    parser.add_argument("--step-s", type=float, default=20.0)
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_bare(args.serve[0], int(args.serve[1]), int(args.serve[2]))
        return 0
    steps = [int(s) for s in args.steps.split(",")]
    with BenchLab("capacity", CHAOSLAB_ACCESS_LOG="true") as lab:
        lab.cli("up")
        front = lab.url("service-a")
        lab_rate = capacity(front, steps, args.step_s, "lab (five services, PostgreSQL, Redis, full telemetry)")
        target = hottest(lab.status())
        bare_url, bare_procs = start_bare()
        try:
            time.sleep(2)  # three fresh processes binding their ports; a failed start shows as 0 below
            bare_rate = capacity(bare_url, steps, args.step_s, "bare chain (Flask on waitress -> gRPC -> gRPC)")
        finally:
            for proc in bare_procs:
                proc.kill()
        ratio = lab_rate / bare_rate if bare_rate else float("nan")
        print(
            f"capacity with checkout P95 <= {SLO_P95_MS:g} ms: lab {lab_rate:.1f}/s, bare chain "
            f"{bare_rate:.1f}/s, lab/bare = {ratio:.2f}"
        )
        print(
            f"where the CPU goes in the hottest lab process ({target['name']}, {min(steps[-1], 16)} users, "
            "py-spy --gil):"
        )
        run = LocustRun(
            LoadPlan(host=front, profile=LoadProfile(min(steps[-1], 16), 16, 0, "rush")), free_port()
        ).start()
        try:
            time.sleep(3)  # settle
            print(profile(target["pid"], 10))
        finally:
            run.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
