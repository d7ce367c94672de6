"""How well the shadow on-call names the root cause: every catalogue scenario and random single faults,
one after the other on one local lab under the default load.

For each case: wait until the lab looks healthy to the diagnosis, inject, ask the lab daemon's
diagnosis (``GET /api/diagnose?since=300``, what ``chaoslab diagnose`` shows) every ``LOOK_S`` seconds
for up to ``OBSERVE_S``, then reset. A case records the rank of the true cause in the last look (1 when
the top answer was right twice in a row, which ends the case early) and the seconds from onset to the
first look whose top answer was right. The true cause is what the bench injected (for a catalogue
scenario: its root cause or any of its real faults, as the incident's grading accepts); the diagnosis
never sees it.

Random faults are drawn with a seed from the fault vocabulary (chaos/faults.py: every agent-level
kind, its services, its peers, each parameter inside its own range). The bench narrows a few ranges
for the machine's sake and the window's, never widens them (``NARROW``), and draws a probability from
its upper half (a fault hitting 3 % of calls is a different benchmark).

Results go to a JSON-lines file as each case ends, so a long run can stop and resume::

    python -m bench.diagnosis [--random 40] [--seed 12] [--out bench-diagnosis.jsonl] [--only KIND ...]
    python -m bench.diagnosis --table bench-diagnosis.jsonl      # the table from a results file

AC@k: share of cases whose true cause ranked within the top k; Avg@5: the mean of AC@1..AC@5.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.labs import BenchLab
from chaoslab.chaos.faults import KINDS, PROBABILITY, TTL, Kind, Param
from chaoslab.chaos.scenarios import DEFAULT_LOAD, catalogue
from chaoslab.topology import component

LOOK_S = 5.0
OBSERVE_S = 90.0
"""How long a case may take to be named; the issue's goal is a median of 30 s."""
SINCE_S = 300
CALM_MAX_S = 120.0
"""Longest wait for the lab to look healthy again between cases."""
CALM_MIN_S = 10.0
TTL_S = 240
NARROW: dict[str, float] = {"threads": 2, "cap_mb": 400.0, "delay_s": 10.0, "mb_per_s": 20.0}
"""Upper bounds the bench draws under: two busy threads on a two-core machine shared with others, a
leak that cannot take the machine's memory, a crash within the observation window."""


@dataclass
class Case:
    id: str
    source: str
    """catalogue or random."""
    kind: str
    service: str
    causes: list[tuple[str, str]]
    """(service, kind) answers that count as right."""
    spec: dict = field(default_factory=dict)
    onset_delay_s: float = 0.0


# ---- drawing ---------------------------------------------------------------------------------------
def _draw_param(param: Param, rng: random.Random) -> object:
    if param.choices:
        return rng.choice(param.choices)
    if param is PROBABILITY:
        return round(rng.uniform(0.5, 1.0), 2)
    low, high = float(param.min or 0), min(float(param.max or 1), NARROW.get(param.name, math.inf))
    if param.type is int:
        return rng.randint(int(low), int(high))
    if param.name == "delay_s":
        return round(rng.uniform(low, high), 1)
    floor = max(low, high / 100)  # log-uniform over two decades: small and large values alike
    return round(math.exp(rng.uniform(math.log(floor), math.log(high))), 1)


def _live_peers(service: str) -> list[str]:
    """Peers the service calls under the default load (a dormant peer is called only by a deadlock)."""
    c = component(service)
    return [peer for peer, _ in c.peers.values() if peer not in c.dormant]


def draw(count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    kinds = [k for k in KINDS.values() if not k.kubernetes_only]
    cases = []
    while len(cases) < count:
        kind: Kind = kinds[len(cases) % len(kinds)] if len(cases) < len(kinds) else rng.choice(kinds)
        service = rng.choice(kind.services)
        spec: dict = {"kind": kind.name, "service": service}
        peers = _live_peers(service)
        if kind.scope == "peer" or (kind.scope == "route_or_peer" and peers and rng.random() < 0.5):
            if not peers:
                continue
            spec["peer"] = rng.choice(peers)
        elif kind.scope == "route_or_peer":
            spec["route"] = "*"
        params = {p.name: _draw_param(p, rng) for p in kind.params if p is not TTL}
        if kind.name == "bad_deploy":
            changes = [c for c, where in _bad_deploys().items() if service in where]
            params["change"] = rng.choice(changes)
        spec["params"] = params
        cases.append(
            Case(
                f"random-{len(cases) + 1:02d}",
                "random",
                kind.name,
                service,
                [(service, kind.name)],
                spec,
                float(params.get("delay_s", 0.0)) if kind.name == "crash" else 0.0,
            )
        )
    return cases


def _bad_deploys() -> dict:
    from chaoslab.chaos.faults import BAD_DEPLOYS

    return BAD_DEPLOYS


def scenarios() -> list[Case]:
    found = []
    for s in catalogue():
        root = (s.root_cause["service"], s.root_cause["kind"])
        causes = [root] + [(f["service"], f["kind"]) for f in s.faults if (f["service"], f["kind"]) != root]
        found.append(Case(s.id, "catalogue", root[1], root[0], causes, {"scenario": s.id}))
    return found


# ---- running ---------------------------------------------------------------------------------------
class Runner:
    def __init__(self, lab: BenchLab):
        from chaoslab.local.client import LabClient
        from chaoslab.local.statedir import StateDir

        self.lab = lab
        self.client = LabClient(StateDir.at(lab.state))

    def look(self) -> dict:
        return self.client.diagnosis(SINCE_S)

    def calm(self) -> float:
        """Wait until a look shows no user-facing symptom but a standing ledger gap (money a float deploy
        lost stays lost); a restart is remembered for minutes: an old crash may still be a candidate, as
        it would be for a trainee."""
        started = time.monotonic()
        time.sleep(CALM_MIN_S)
        while time.monotonic() - started < CALM_MAX_S:
            d = self.look()
            if all("ledger" in line for line in d["symptom"]):
                break
            time.sleep(LOOK_S)
        return time.monotonic() - started

    def inject(self, case: Case) -> None:
        if "scenario" in case.spec:
            self.lab.cli("scenario", "start", case.spec["scenario"], "--no-load", "--ttl", str(TTL_S))
            return
        spec = case.spec
        args = ["fault", "add", spec["kind"], *(f"{k}={v}" for k, v in spec["params"].items())]
        args += ["--service", spec["service"], "--ttl", str(TTL_S)]
        if "peer" in spec:
            args += ["--peer", spec["peer"]]
        if "route" in spec:
            args += ["--route", spec["route"]]
        self.lab.cli(*args)

    def run(self, case: Case) -> dict:
        calm_s = self.calm()
        injected = time.time()
        self.inject(case)
        onset = injected + case.onset_delay_s
        looks, first_right, streak, rank = [], None, 0, None
        while time.time() - injected < OBSERVE_S:
            time.sleep(LOOK_S)
            d = self.look()
            ranks = [
                i for i, c in enumerate(d["candidates"], 1) if (c["service"], c["kind"]) in map(tuple, case.causes)
            ]
            rank = ranks[0] if ranks else None
            top = d["candidates"][0] if d["candidates"] else None
            at = round(d["at"] - onset, 1)
            looks.append([at, f"{top['kind']}@{top['service']}" if top else None, rank])
            if rank == 1:
                first_right = at if first_right is None else first_right
                streak += 1
                if streak >= 2:
                    break
            else:
                streak = 0
        self.lab.cli("scenario", "stop") if "scenario" in case.spec else None
        self.lab.cli("reset")
        return {
            **asdict(case),
            "rank": rank,
            "seconds": max(0.0, first_right) if first_right is not None else None,
            "calm_s": round(calm_s, 1),
            "looks": looks,
        }


# ---- the table -------------------------------------------------------------------------------------
def _ac(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


def row(label: str, results: list[dict]) -> str:
    ranks = [r["rank"] for r in results]
    times = [r["seconds"] for r in results if r["seconds"] is not None]
    avg5 = sum(_ac(ranks, k) for k in range(1, 6)) / 5
    median = f"{statistics.median(times):5.0f}" if times else "    -"
    p90 = f"{_p90(times):5.0f}" if times else "    -"
    n, ac1, ac3 = len(results), _ac(ranks, 1), _ac(ranks, 3)
    return f"| {label:<18} | {n:>3} | {ac1:.2f} | {ac3:.2f} | {avg5:.2f}  | {median}    | {p90} |"


def table(results: list[dict]) -> str:
    lines = []
    for source in ("catalogue", "random"):
        group = [r for r in results if r["source"] == source]
        if not group:
            continue
        lines += [
            f"{source} ({len(group)} cases)",
            "",
            "| kind               |   n | AC@1 | AC@3 | Avg@5 | median s | p90 s |",
            "|--------------------|-----|------|------|-------|----------|-------|",
        ]
        for kind in sorted({r["kind"] for r in group}):
            lines.append(row(kind, [r for r in group if r["kind"] == kind]))
        lines += [row("all", group), ""]
    return "\n".join(lines)


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.diagnosis", description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=40, help="random single faults to draw (default 40)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("bench-diagnosis.jsonl"), help="results, one JSON per line")
    parser.add_argument("--only", nargs="*", default=None, help="case ids or kinds to run (default: all)")
    parser.add_argument("--no-catalogue", action="store_true")
    parser.add_argument("--table", type=Path, help="print the table of a results file and exit")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still takes its lab down
    if args.table:
        print(table(read(args.table)))
        return 0
    cases = ([] if args.no_catalogue else scenarios()) + draw(args.random, args.seed)
    if args.only:
        cases = [c for c in cases if c.id in args.only or c.kind in args.only]
    done = {r["id"] for r in read(args.out)}
    todo = [c for c in cases if c.id not in done]
    print(f"{len(cases)} cases, {len(cases) - len(todo)} done already in {args.out}, {len(todo)} to run", flush=True)
    if todo:
        with BenchLab("bench-diagnosis") as lab:
            lab.cli("up")
            p = DEFAULT_LOAD
            lab.cli(
                "load", "start", "-u", str(p.users), "-r", str(p.spawn_rate),
                "--think-time", str(p.think_time_s), "--journey", p.journey,
            )  # fmt: skip
            runner = Runner(lab)
            for case in todo:
                result = runner.run(case)
                with args.out.open("a") as out:
                    out.write(json.dumps(result) + "\n")
                print(
                    f"{case.id:<20} {case.kind:<16} {case.service:<10} rank {result['rank']} "
                    f"after {result['seconds']} s   {result['looks'][-1]}",
                    flush=True,
                )
    print(table([r for r in read(args.out) if r["id"] in {c.id for c in cases}]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
