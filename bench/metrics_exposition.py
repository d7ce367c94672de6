"""What a service's own labels cost a scrape: /metrics rendered with ``service`` and ``team`` on every sample
(chaoslab.telemetry.metrics.exposition) against the plain prometheus_client rendering of the same registry.

The labels are added when /metrics is rendered, so requests pay nothing (bench/hop_overhead measures the
request path); this measures the scrape. The registry is filled like service-a's under load: RED metrics
for seven routes and four peers, with their histograms.

    python -m bench.metrics_exposition [--rounds 7] [--renders 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from prometheus_client import generate_latest

from chaoslab.telemetry import metrics


def fill() -> None:
    for route in (
        "/checkout",
        "/orders",
        "/orders/<order_id>",
        "/products",
        "/products/<sku>",
        "/health/ready",
        "/metrics",
    ):
        for status in ("200", "201", "503"):
            metrics.HTTP_REQUESTS.labels("GET", route, status).inc()
        metrics.HTTP_DURATION.labels("GET", route).observe(0.05)
        metrics.HTTP_DB_STATEMENTS.labels(route).observe(3)
    for peer in ("postgres", "redis", "service-b", "payment"):
        for operation in ("SELECT", "INSERT", "UPDATE"):
            metrics.OUTBOUND_REQUESTS.labels(peer, operation, "ok").inc()
            metrics.OUTBOUND_DURATION.labels(peer, operation).observe(0.01)


def per_render(render, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        render()
    return (time.perf_counter() - started) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()
    fill()
    metrics.describe_process("service-a", "bench")
    plain, labelled = [], []
    for _ in range(args.rounds):  # alternate, so both see the same machine
        plain.append(per_render(generate_latest, args.renders))
        labelled.append(per_render(metrics.exposition, args.renders))
    base, own = statistics.median(plain), statistics.median(labelled)
    size_plain, size_own = len(generate_latest()), len(metrics.exposition())
    print(f"metrics_exposition: {args.rounds} rounds x {args.renders} renders of a service-a-like registry")
    print(f"  plain prometheus_client       {base * 1e3:7.2f} ms/render, {size_plain} bytes")
    print(f"  with service and team labels  {own * 1e3:7.2f} ms/render, {size_own} bytes")
    print(f"  ratio labelled / plain        {own / base:7.2f}x   (paid once per scrape, every 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
