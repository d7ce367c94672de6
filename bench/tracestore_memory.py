"""What the lab daemon's trace store costs in memory: its newest 1000 traces, and each trace a diagnosis
pins beyond them, and each trace the console lists (chaoslab/local/tracestore.py), under the default load.

One local lab under the default load for ``--warm`` seconds; then its newest traces are read back
(``chaoslab traces``'s API) and added to a fresh TraceStore while tracemalloc counts what it holds::

    python -m bench.tracestore_memory [--warm 60]

It prints the traces and spans held, the memory, the memory per trace, how many seconds of traffic the
newest 1000 are, and what the pins cost at their bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc

from bench.labs import BenchLab
from chaoslab.chaos.scenarios import DEFAULT_LOAD
from chaoslab.local.tracestore import TraceStore


def measure(traces: list[list[dict]]) -> tuple[int, float]:
    """Bytes a TraceStore holds for ``traces`` (fresh copies of their spans, as the receiver decodes)."""
    copies = json.loads(json.dumps(traces))
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    store = TraceStore(max_traces=len(copies) + 1)
    for spans in copies:
        store.add(spans)
    del copies
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return held, sum(len(t) for t in store.recent(len(traces)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracestore_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=float, default=60, help="seconds of load before reading (default 60)")
    args = parser.parse_args(argv)
    with BenchLab("bench-traces") as lab:
        lab.cli("up")
        p = DEFAULT_LOAD
        lab.cli(
            "load", "start", "-u", str(p.users), "-r", str(p.spawn_rate),
            "--think-time", str(p.think_time_s), "--journey", p.journey,
        )  # fmt: skip
        time.sleep(args.warm)
        from chaoslab.local.client import LabClient
        from chaoslab.local.statedir import StateDir

        traces = LabClient(StateDir.at(lab.state)).traces(1000)
    held, spans = measure(traces)
    starts = [min(s["start_ns"] for s in t) / 1e9 for t in traces]
    per_trace = held / len(traces)
    default = TraceStore()
    print(f"{len(traces)} traces, {spans} spans ({spans / len(traces):.1f} a trace): {held / 2**20:.1f} MiB held")
    span_s = max(starts) - min(starts)
    print(f"{per_trace / 1024:.1f} KiB a trace; the newest {len(traces)} are {span_s:.0f} s of traffic")
    print(
        f"pins at their bound ({default.max_pinned} traces for {default.pin_s / 60:g} min): "
        f"{default.max_pinned * per_trace / 2**20:.1f} MiB more at most"
    )
    print(
        f"listed traces at their bound ({default.max_listed}, the console's slow and failed calls): "
        f"{default.max_listed * per_trace / 2**20:.1f} MiB more at most"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
