"""How fast each drill pages: seconds from a scenario's start to its primary alert firing, the first page
(P1 or P2) and its tier, and what a quiet lab fires under baseline load.

For each scenario of the catalogue: a fresh local lab (its own state directory and ports), a short
quiet spell so the lab daemon's evaluation has history, then ``chaoslab scenario start ID`` (the
drill's faults and its own load block), then the lab daemon's alert state polled every second until
the scenario's primary alert (``alert:`` in its file) fires or ``--deadline`` passes; every other alert
that fires within ``--observe`` seconds is listed too (the red herring's CPU alert, and nothing else
on the worker). Onset is the
moment the start command was issued, so apply time counts against the alert. The baseline is
``--baseline-s`` seconds of the default shop load on a fresh lab; it should fire nothing above P4.

    python -m bench.alert_timing                          # the whole catalogue, then 10 minutes of baseline
    python -m bench.alert_timing --scenarios deadlock,partition --baseline-s 0
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.labs import BenchLab
from chaoslab.alerts.tiers import rank, tier
from chaoslab.chaos import scenarios
from chaoslab.local.client import LabClient
from chaoslab.local.statedir import StateDir

TARGET_S = 90.0
WARM_UP_S = 15.0


def fired(client: LabClient) -> list[dict]:
    """Every alert_fired transition so far, oldest first."""
    return [e for e in client.alerts(since=0).get("events", []) if e["kind"] == "alert_fired"]


def describe(event: dict, onset: float) -> str:
    which = event["labels"].get("service") or event["labels"].get("journey")  # the prober's alerts: per journey
    where = f"{{{which}}}" if which else ""
    return f"{event['alert']}{where} {event['severity']} +{event['ts'] - onset:.0f}s"


def time_scenario(scenario_id: str, deadline_s: float, observe_s: float) -> dict:
    drill = scenarios.get(scenario_id)
    with BenchLab(f"alert-timing-{scenario_id}") as lab:
        lab.cli("up")
        client = LabClient(StateDir.at(lab.state))
        started = time.monotonic()
        while time.monotonic() - started < WARM_UP_S or client.alerts()["evaluated_at"] is None:
            time.sleep(0.5)
        before = {e["seq"] for e in fired(client)}
        onset = time.time()
        lab.cli("scenario", "start", scenario_id, "--ttl", "900")
        seconds = None
        while time.time() - onset < deadline_s:
            for event in fired(client):
                if event["seq"] not in before and event["alert"] == drill.alert and event["ts"] >= onset:
                    seconds = event["ts"] - onset
                    break
            if seconds is not None:
                break
            time.sleep(1.0)
        while time.time() - onset < observe_s:  # what else fires in the drill's first minutes
            time.sleep(1.0)
        after = [e for e in fired(client) if e["seq"] not in before and e["ts"] >= onset]
        others = [describe(e, onset) for e in after if e["alert"] != drill.alert]
        pages = [e for e in after if tier(e["severity"]).pages]
        lab.cli("scenario", "stop")
    return {
        "scenario": scenario_id,
        "alert": drill.alert,
        "seconds": seconds,
        "first_page": describe(pages[0], onset) if pages else None,
        "others": others,
    }


def baseline(duration_s: float) -> dict:
    with BenchLab("alert-timing-baseline") as lab:
        lab.cli("up")
        client = LabClient(StateDir.at(lab.state))
        lab.cli("load", "start", "-u", "10", "-r", "10", "--think-time", "0.5")
        onset = time.time()
        while time.time() - onset < duration_s:
            time.sleep(min(10.0, duration_s - (time.time() - onset)))
        events = fired(client)
        stats = lab.cli("load", "status").stdout
        lab.cli("load", "stop")
    above_p4 = [describe(e, onset) for e in events if rank(e["severity"]) < 4]
    return {
        "duration_s": duration_s,
        "fired": [describe(e, onset) for e in events],
        "above_p4": above_p4,
        "load": stats,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="", help="Comma-separated scenario ids (default: the catalogue).")
    parser.add_argument("--deadline", type=float, default=150.0, help="Seconds to wait for a primary alert.")
    parser.add_argument(
        "--observe", type=float, default=120.0, help="Seconds after onset during which other alerts are listed."
    )
    parser.add_argument("--baseline-s", type=float, default=600.0, help="Seconds of baseline load (0: skip).")
    args = parser.parse_args()
    wanted = [s for s in args.scenarios.split(",") if s] or [s.id for s in scenarios.catalogue()]
    rows = []
    print(f"alert_timing: seconds from `scenario start` to the primary alert firing (target <= {TARGET_S:g}s)")
    print(f"{'scenario':<18} {'primary alert':<30} {'fired after':>11}  {'first page':<36} also fired")
    for scenario_id in wanted:
        row = time_scenario(scenario_id, args.deadline, args.observe)
        rows.append(row)
        shown = f"{row['seconds']:.0f}s" if row["seconds"] is not None else f"> {args.deadline:g}s"
        print(
            f"{scenario_id:<18} {row['alert']:<30} {shown:>11}  {row['first_page'] or 'none':<36} "
            f"{', '.join(row['others']) or '-'}",
            flush=True,
        )
    late = [r["scenario"] for r in rows if r["seconds"] is None or r["seconds"] > TARGET_S]
    print(
        f"within {TARGET_S:g}s: {len(rows) - len(late)}/{len(rows)}" + (f" (late: {', '.join(late)})" if late else "")
    )
    if args.baseline_s > 0:
        result = baseline(args.baseline_s)
        print(
            f"baseline: {result['duration_s']:g}s of 10 shop users fired {len(result['fired'])} alert(s): "
            f"{', '.join(result['fired']) or 'none'}; above P4: {', '.join(result['above_p4']) or 'none'}"
        )
        print("  " + result["load"].strip().replace("\n", "\n  "))
        if result["above_p4"]:
            late.append("baseline")
    return 1 if late else 0


if __name__ == "__main__":
    sys.exit(main())
