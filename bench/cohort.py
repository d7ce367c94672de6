"""What a cohort costs per team on Kubernetes, and how many teams a node holds.

Brings up the platform and N teams on the cluster kubectl points at, with the Makefile's own
targets (`make platform`, `make teams`, as docs/kubernetes.md tells an instructor), runs the
default load in every team (10 Locust users, the shop journey), and reads each pod's CPU and
working set from every node's kubelet summary (through the API server) over a window after a
warm-up. Prints per team: millicores and MiB per pod and in all, and whether its baseline SLO
held (the same checks `chaoslab verify` makes with no scenario: checkout and browse P95, errors),
from its own Locust; then the platform's figures and what fits a 16-core, 64 GiB node.

The cluster: the end-to-end stage's, kept (`E2E_KEEP=1 make e2e`, then its KUBECONFIG and
DOCKER_HOST as it prints them), or `make cluster images`. It removes the teams and the platform
when it ends (`--keep` leaves them).

    python -m bench.cohort --teams 3 [--drill latency-500ms] [--values charts/chaoslab/ci/offline-values.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from chaoslab.loadtest.verify import BASELINE_SLO

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("red", "blue", "green", "amber", "violet", "teal", "coral", "olive", "indigo", "slate")
PLATFORM = "chaoslab-platform"
WARMUP_S = float(os.environ.get("BENCH_WARMUP_S", "120"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "13"))
SAMPLE_EVERY_S = 5.0
NODE_MILLICORES, NODE_MIB = 16000, 64 * 1024


def run(*args: str, timeout: float = 900, check: bool = True) -> str:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise SystemExit(f"cohort: `{' '.join(args)}` exited {done.returncode}: {done.stderr.strip()[-600:]}")
    return done.stdout


def make(target: str, values: list[str], **variables: str) -> None:
    settings = {"VENV": str(Path(sys.executable).parent.parent), "CHART_VALUES": " ".join(values), **variables}
    run("make", "--no-print-directory", target, *(f"{k}={v}" for k, v in settings.items()))


def chaoslab(team: str, *args: str, check: bool = True) -> str:
    namespace = f"chaoslab-{team}"
    return run(sys.executable, "-m", "chaoslab", "--target", "kubernetes", "--namespace", namespace, *args, check=check)


def samples(nodes: list[str]) -> list[tuple[float, list[dict]]]:
    """SAMPLES kubelet summaries of every node, SAMPLE_EVERY_S apart, with when each was taken."""
    taken = []
    for n in range(SAMPLES):
        raw = [run("kubectl", "get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary") for node in nodes]
        taken.append((time.monotonic(), [json.loads(r) for r in raw]))
        if n < SAMPLES - 1:
            time.sleep(SAMPLE_EVERY_S)  # often enough to see the reaper's minute job, which runs ~10 s
    return taken


def per_pod(taken: list[tuple[float, list[dict]]]) -> dict[str, dict[str, tuple[float, float]]]:
    """namespace -> workload -> (millicores over the window, peak MiB of working set). CPU is each
    container's cumulative CPU time, last seen less first seen (a pod that started within the window,
    such as a CronJob's, counts all it was seen to use), over the window."""
    first: dict[tuple[str, str], float] = {}
    last: dict[tuple[str, str], float] = {}
    workload_of: dict[tuple[str, str], tuple[str, str]] = {}
    peak: dict[tuple[str, str], float] = {}
    for n, (_, sample) in enumerate(taken):
        for pod in (p for node in sample for p in node["pods"]):
            name, namespace = pod["podRef"]["name"], pod["podRef"]["namespace"]
            workload = "postgres" if name == "postgres-0" else name.rsplit("-", 2)[0]
            containers = pod.get("containers", [])
            used = sum(c.get("cpu", {}).get("usageCoreNanoSeconds", 0) for c in containers) / 1e9
            key = (namespace, name)
            workload_of[key] = (namespace, workload)
            first.setdefault(key, used if n == 0 else 0.0)
            last[key] = max(last.get(key, 0.0), used)
            mib = sum(c.get("memory", {}).get("workingSetBytes", 0) for c in containers) / 2**20
            peak[(namespace, workload)] = max(peak.get((namespace, workload), 0.0), mib)
    window = taken[-1][0] - taken[0][0]
    found: dict[str, dict[str, tuple[float, float]]] = {}
    for key, (namespace, workload) in workload_of.items():
        millicores = (last[key] - first[key]) / window * 1000
        before = found.setdefault(namespace, {}).get(workload, (0.0, 0.0))[0]
        found[namespace][workload] = (before + millicores, peak[(namespace, workload)])
    return found


def slo(team: str) -> tuple[bool, str]:
    """The baseline SLO over the team's whole run, from its Locust's own statistics."""
    stats = {s["name"]: s for s in json.loads(chaoslab(team, "load", "status", "--json"))["stats"]}
    said, held = [], True
    for check in BASELINE_SLO:
        row = stats.get("Aggregated" if check.request == "all" else check.request, {})
        if check.measure == "error_rate":
            value = row.get("num_failures", 0) / max(1, row.get("num_requests", 0))
            said.append(f"errors {value:.1%}")
        else:
            value = row.get("response_time_percentile_0.95") or 0
            said.append(f"{check.request} p95 {value:.0f} ms")
        held = held and value <= check.max
    return held, ", ".join(said)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=3, help="how many teams (default 3)")
    parser.add_argument("--values", action="append", default=[], help="extra values files for the chart")
    parser.add_argument("--keep", action="store_true", help="leave the teams and the platform running")
    parser.add_argument(
        "--drill",
        metavar="SCENARIO",
        help="also run this drill in every team (the platform records each team's drill, as on a GameDay)",
    )
    args = parser.parse_args()
    if not 1 <= args.teams <= len(NAMES):
        raise SystemExit(f"cohort: --teams must be 1 to {len(NAMES)}")
    teams = NAMES[: args.teams]
    started = time.monotonic()
    print(f"cohort: the platform and {len(teams)} team(s) ({' '.join(teams)}) on the cluster", flush=True)
    make("platform", args.values, TEAMS=" ".join(teams))
    make("teams", args.values, TEAMS=" ".join(teams))
    try:
        for team in teams:
            run(
                "kubectl",
                "-n",
                f"chaoslab-{team}",
                "wait",
                "--for=condition=Available",
                "deployment",
                "--all",
                "--timeout=600s",
            )
        print(
            f"cohort: every team Available after {time.monotonic() - started:.0f} s; the default load in each",
            flush=True,
        )
        for team in teams:
            chaoslab(team, "load", "start")
            if args.drill:
                chaoslab(team, "scenario", "start", args.drill, "--ttl", str(int(WARMUP_S + 300)), "--no-load")
        nodes = run("kubectl", "get", "nodes", "-o", "jsonpath={.items[*].metadata.name}").split()
        time.sleep(WARMUP_S)  # the measurement's warm-up: working sets grow for the first minutes of load
        print(
            f"cohort: measuring over {SAMPLES} samples {SAMPLE_EVERY_S:.0f} s apart on {len(nodes)} node(s)", flush=True
        )
        usage = per_pod(samples(nodes))
        verdicts = {team: slo(team) for team in teams}
    finally:
        for team in teams:  # whatever happened, nothing of the run goes on loading the node
            if args.drill:
                chaoslab(team, "scenario", "stop", check=False)
            chaoslab(team, "load", "stop", check=False)
        if not args.keep:
            for team in teams:
                make("team-down", [], TEAM=team)
            run("helm", "uninstall", "platform", "-n", PLATFORM)
    drilled = f", drill {args.drill} in each" if args.drill else ""
    print(
        f"\ncohort: {len(teams)} team(s), default load each{drilled} "
        "(kubelet summary: CPU over the window, peak working set)"
    )
    per_team = []
    for team in teams:
        pods = usage.get(f"chaoslab-{team}", {})
        millicores, mib = sum(c for c, _ in pods.values()), sum(m for _, m in pods.values())
        per_team.append((millicores, mib))
        held, said = verdicts[team]
        print(f"  {team:<8}{millicores:6.0f} m {mib:6.0f} MiB   SLO {'held' if held else 'MISSED'} ({said})")
        print(
            "           "
            + ", ".join(f"{w} {c:.0f} m/{m:.0f} MiB" for w, (c, m) in sorted(pods.items(), key=lambda i: -i[1][0]))
        )
    platform = usage.get(PLATFORM, {})
    platform_m, platform_mib = sum(c for c, _ in platform.values()), sum(m for _, m in platform.values())
    print(
        f"  platform{platform_m:6.0f} m {platform_mib:6.0f} MiB   "
        + ", ".join(f"{w} {c:.0f} m/{m:.0f} MiB" for w, (c, m) in sorted(platform.items()))
    )
    team_m = sum(c for c, _ in per_team) / len(per_team)
    team_mib = sum(m for _, m in per_team) / len(per_team)
    # The platform grows with the cohort: its share per team, as measured here, goes with each team.
    with_platform_m, with_platform_mib = team_m + platform_m / len(teams), team_mib + platform_mib / len(teams)
    fits = min(NODE_MILLICORES // with_platform_m, NODE_MIB // with_platform_mib)
    print(
        f"  per team {team_m:.0f} m and {team_mib:.0f} MiB; with its share of the platform {with_platform_m:.0f} m "
        f"and {with_platform_mib:.0f} MiB -> a 16-core, 64 GiB node holds about {fits:.0f} teams "
        f"({'CPU' if NODE_MILLICORES / with_platform_m < NODE_MIB / with_platform_mib else 'memory'} runs out first)"
    )
    held = sum(v[0] for v in verdicts.values())
    drill_said = f" (expected: {args.drill} breaks it)" if args.drill else ""
    print(f"  SLO held in {held} of {len(teams)} team(s){drill_said}; {time.monotonic() - started:.0f} s in all")
    return 0 if args.drill or held == len(teams) else 1


if __name__ == "__main__":
    sys.exit(main())
