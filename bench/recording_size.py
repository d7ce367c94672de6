"""How big a drill's recording grows: MiB per minute of drill while it records (the folder) and once
sealed (the zip kept and exported), what a 30-minute drill comes to (the budget: 20 MiB), and what a
replay of it costs to open (seconds to load, MiB held).

One drill on a fresh lab, its scenario's own load running, as a room plays it.

    python -m bench.recording_size [--minutes 3] [--scenario deadlock]
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

from bench.labs import BenchLab
from chaoslab.console.bundle import listed, load, size
from chaoslab.console.recording import TAIL_S

BUDGET_MIB = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--scenario", default="deadlock")
    args = parser.parse_args()
    with BenchLab("recording-size") as lab:
        print("starting a lab…", flush=True)
        lab.cli("up")
        recordings = lab.state / "recordings"
        lab.cli("scenario", "start", args.scenario, "--ttl", str(int(args.minutes * 60 + 120)))
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            time.sleep(min(30.0, args.minutes * 60 - elapsed))
            found = listed(recordings)
            if found:
                print(f"  {elapsed / 60 + 0.5:4.1f} min: {size(found[-1]) / 2**20:6.2f} MiB recorded", flush=True)
        folder = listed(recordings)[-1]
        raw = size(folder)
        lab.cli("scenario", "stop")
        for incident in json.loads(lab.cli("incident", "list", "--json").stdout):  # the drill's page, closed
            if incident["resolved_at"] is None:
                lab.cli("incident", "resolve", incident["id"], "--unverified")
        deadline = time.monotonic() + TAIL_S + 30
        while time.monotonic() < deadline and not (sealed := recordings / f"{folder.name}.zip").exists():
            time.sleep(1)
        if not sealed.exists():
            print("the recording was not sealed within its tail: see the lab daemon's log")
            return 1
        tracemalloc.start()
        loading = time.perf_counter()
        bundle = load(sealed)
        loaded_s = time.perf_counter() - loading
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        minutes = (bundle.end - bundle.start) / 60
        kept = size(sealed)
    recorded_rate = raw / 2**20 / (args.minutes)
    sealed_rate = kept / 2**20 / minutes
    print(f"recorded {minutes:.1f} min of {args.scenario} ({len(bundle.traces)} traces kept)")
    print(f"while recording: {recorded_rate:.2f} MiB/min → {recorded_rate * 30:.1f} MiB for 30 min")
    print(f"sealed (kept, exported): {sealed_rate:.3f} MiB/min → {sealed_rate * 30:.1f} MiB for 30 min")
    print(f"budget for a 30-minute drill: {BUDGET_MIB:.0f} MiB; sealed/recorded: {kept / raw:.2f}x")
    held_mib = held / 2**20
    print(f"a replay loads it in {loaded_s:.1f} s and holds {held_mib:.1f} MiB ({held_mib / minutes:.2f} MiB/min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
