"""What one instrumented service hop costs, against a bare Flask hop on the same WSGI server.

Both servers run as their own processes on waitress with the same thread
count; the instrumented one is the services' real app factory (RED metrics,
JSON access log, OpenTelemetry spans exported over OTLP to a live receiver).
The client sends the same requests to both, alternating rounds, and prints
the median cost per request and the ratio. The instrumented hop carries an idle fault agent, as every service
does. Target from the foundation issue: ≤ 1.3×.

    python -m bench.hop_overhead [--requests 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from chaoslab.local.ports import free_port


def serve(kind: str, port: int, otlp_port: int) -> None:
    """Run one of the two servers in this process until killed."""
    from flask import Flask, jsonify

    from chaoslab.wsgi import HttpServer

    if kind == "bare":
        app = Flask("bare")
    elif kind in ("instrumented", "no-access-log"):
        from chaoslab.services.common.health import Health
        from chaoslab.services.common.web import create_app
        from chaoslab.telemetry.logs import configure_logging
        from chaoslab.telemetry.tracing import configure_tracing

        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{otlp_port}"
        from chaoslab.chaos.agent import FaultAgent

        configure_logging("bench-hop", "bench")
        configure_tracing("bench-hop", "bench")
        app = create_app(
            "bench-hop",
            Health(),
            agent=FaultAgent("bench-hop"),  # an idle fault agent
            access_log=kind == "instrumented",
        )
    else:  # the OTLP receiver the instrumented hop exports to, like the lab daemon
        from chaoslab.local.tracestore import TraceStore, decode

        app = Flask("sink")
        store = TraceStore(max_traces=100)

        @app.post("/v1/traces")
        def traces():
            from flask import request

            store.add(decode(request.get_data()))
            return ""

    @app.get("/hop/<int:n>")
    def hop(n: int):
        return jsonify(hop=n, ok=True)

    HttpServer(app, "127.0.0.1", port, 4, kind).start()
    while True:
        time.sleep(3600)


def idle_agent_cost() -> tuple[float, float]:
    """(ns per idle inbound hook, ns per empty function call) in this process: what an idle agent adds
    to each request, against the cheapest thing a request could do instead."""
    import timeit

    from chaoslab.chaos.agent import FaultAgent

    agent = FaultAgent("bench-idle")
    try:
        hook = (
            min(
                timeit.repeat(lambda: agent.inbound("/hop") if agent.inbound_faults else None, number=200_000, repeat=5)
            )
            / 200_000
        )
        empty = min(timeit.repeat(lambda: None, number=200_000, repeat=5)) / 200_000
    finally:
        agent.close()
    return hook * 1e9, empty * 1e9


def run_round(session: requests.Session, url: str, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        response = session.get(f"{url}/hop/{n}")
        response.raise_for_status()
    return (time.perf_counter() - started) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", choices=("bare", "instrumented", "no-access-log", "sink"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--otlp-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.otlp_port)
        return 0

    kinds = ("bare", "instrumented", "no-access-log")
    ports = {"sink": free_port(), **{kind: free_port() for kind in kinds}}
    logs = Path(tempfile.mkdtemp(prefix="hop-bench-"))
    procs = []
    try:
        for kind in ("sink", *kinds):
            with open(logs / f"{kind}.log", "wb") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "bench.hop_overhead",
                            "--serve",
                            kind,
                            "--port",
                            str(ports[kind]),
                            "--otlp-port",
                            str(ports["sink"]),
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "200"},
                    )
                )
        urls = {kind: f"http://127.0.0.1:{ports[kind]}" for kind in kinds}
        sessions = {kind: requests.Session() for kind in urls}
        deadline = time.monotonic() + 30
        for kind, url in urls.items():
            while True:
                try:
                    sessions[kind].get(f"{url}/hop/0", timeout=1).raise_for_status()
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{kind} server did not start; see {logs}") from None
                    time.sleep(0.1)
        for kind, url in urls.items():  # warm-up
            run_round(sessions[kind], url, 300)
        results: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(args.rounds):
            for kind, url in urls.items():
                results[kind].append(run_round(sessions[kind], url, args.requests))
        bare = statistics.median(results["bare"])
        instrumented = statistics.median(results["instrumented"])
        quiet = statistics.median(results["no-access-log"])
        print(f"hop_overhead: {args.rounds} rounds x {args.requests} sequential keep-alive requests per server")
        print(f"  bare Flask on waitress          {bare * 1e6:8.1f} us/request")
        print(
            f"  instrumented service hop        {instrumented * 1e6:8.1f} us/request "
            "(RED metrics, JSON access log, OTLP spans, idle fault agent)"
        )
        print(f"  ratio instrumented / bare       {instrumented / bare:8.2f}x   (target <= 1.30x)")
        print(
            f"  the same without the access log {quiet * 1e6:8.1f} us/request, {quiet / bare:.2f}x "
            "(CHAOSLAB_ACCESS_LOG=false)"
        )
        hook_ns, empty_ns = idle_agent_cost()
        print(
            f"  idle fault agent on the request path: {hook_ns:.0f} ns per request (an empty call: "
            f"{empty_ns:.0f} ns), {hook_ns / (bare * 1e9):.5%} of the bare hop"
        )
        return 0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
