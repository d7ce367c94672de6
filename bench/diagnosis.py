"""How well the shadow on-call names the root cause, at onset and minutes into a fault: every catalogue
scenario and random single faults, one after the other on one local lab under the default load, and a
stretch of healthy load on the fresh lab first.

What it asks is what ``chaoslab diagnose`` shows: the lab daemon's diagnosis (``GET /api/diagnose``,
looking back ``DEFAULT_SINCE_S``), with the lab's token, as a trainee's CLI asks it.

**Healthy load** (``--healthy``, first, from the moment the load starts on the fresh lab, warm-up
included): a look every ``LOOK_S``; every cause named is a false one.

**A case**: wait until the lab looks healthy to the diagnosis, inject, then

- *onset*: a look every ``LOOK_S`` for up to ``OBSERVE_S``; the case's onset rank is the true cause's
  rank in the last of those looks (1 as soon as the top answer was right twice in a row, as the shadow
  on-call's answers count), its time the seconds from onset to the first look of that streak;
- *minutes in*: one look at each of ``--at`` minutes after onset (2, 5 and 10 by default), the rank of
  the truth in that look alone (what a trainee asking then would read), with a look every
  ``BETWEEN_S`` in between for the calibration and for "kept" (the share of looks from a minute after
  onset on whose top answer was right);

then reset. The true cause is what the bench injected (for a catalogue scenario: its root cause or any
of its real faults, as the incident's grading accepts); the diagnosis never sees it.

**Calibration**: of the top answers given at 0.6 confidence or more (every look of every case and of the
healthy load), the share that were right; and the same by band of confidence.

Random faults are drawn with a seed from the fault vocabulary (chaos/faults.py: every agent-level
kind, its services, its peers, each parameter inside its own range). The bench narrows a few ranges
for the machine's sake and the window's, never widens them (``NARROW``), and draws a probability from
its upper half (a fault hitting 3 % of calls is a different benchmark).

Results go to a JSON-lines file as each case ends, so a long run can stop and resume (cases already in
the file are skipped)::

    python -m bench.diagnosis [--at 2,5,10] [--random 40] [--seed 12] [--healthy 600]
                              [--out bench-diagnosis.jsonl] [--only KIND_OR_ID ...] [--no-catalogue]
    python -m bench.diagnosis --table bench-diagnosis.jsonl      # the tables from a results file

A whole run at 10 minutes per case is about 11 minutes a case (15 catalogue and 40 random: ten hours);
``--at 2,5`` halves it.

AC@k: share of cases whose true cause ranked within the top k.
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
from chaoslab.diagnose import DEFAULT_SINCE_S
from chaoslab.topology import component

LOOK_S = 5.0
"""How often the onset phase and the healthy load look (the shadow on-call's pace)."""
BETWEEN_S = 15.0
"""How often the minutes between the time points look (calibration and "kept")."""
OBSERVE_S = 90.0
"""How long the onset phase may take to name the cause."""
CALM_MAX_S = 180.0
"""Longest wait for the lab to look healthy again between cases."""
CALM_MIN_S = 10.0
KEPT_AFTER_S = 60.0
"""Looks from this long after onset on count towards "kept"."""
CONFIDENT = 0.6
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
def said(d: dict, causes: list) -> list:
    """One look, compact: [seconds, "kind@service" of the top answer, rank of the truth, its confidence,
    every candidate as [kind@service, score, observed], whether a symptom was felt] (the last two to
    refit the confidence)."""
    ranks = [i for i, c in enumerate(d["candidates"], 1) if [c["service"], c["kind"]] in [list(x) for x in causes]]
    top = d["candidates"][0] if d["candidates"] else None
    return [
        round(d["at"], 1),
        f"{top['kind']}@{top['service']}" if top else None,
        ranks[0] if ranks else None,
        top["confidence"] if top else None,
        [[f"{c['kind']}@{c['service']}", c["score"], c.get("observed", True)] for c in d["candidates"]],
        bool(d["symptom"]),
    ]


class Runner:
    def __init__(self, lab: BenchLab):
        from chaoslab.local.client import LabClient
        from chaoslab.local.statedir import StateDir

        self.lab = lab
        self.client = LabClient(StateDir.at(lab.state))

    def look(self) -> dict:
        return self.client.diagnosis(DEFAULT_SINCE_S)

    def calm(self) -> float:
        """Wait until a look shows no symptom but a standing ledger gap (money a float deploy lost stays
        lost); a restart is remembered for minutes: an old crash may still be a candidate, as it would
        be for a trainee."""
        started = time.monotonic()
        time.sleep(CALM_MIN_S)
        while time.monotonic() - started < CALM_MAX_S:
            d = self.look()
            if all("ledger" in line for line in d["symptom"]):
                break
            time.sleep(LOOK_S)
        return time.monotonic() - started

    def healthy(self, seconds: float) -> dict:
        """``seconds`` of the default load on the lab as it is, a look every LOOK_S: every cause is false."""
        started, looks = time.time(), []
        while time.time() - started < seconds:
            d = self.look()
            looks.append(said(d, []))
            looks[-1][0] = round(d["at"] - started, 1)
            time.sleep(LOOK_S)
        return {"id": f"healthy-{seconds:g}", "source": "healthy", "seconds": seconds, "looks": looks}

    def inject(self, case: Case, ttl_s: float) -> None:
        if "scenario" in case.spec:
            self.lab.cli("scenario", "start", case.spec["scenario"], "--no-load", "--ttl", f"{ttl_s:g}")
            return
        spec = case.spec
        args = ["fault", "add", spec["kind"], *(f"{k}={v}" for k, v in spec["params"].items())]
        args += ["--service", spec["service"], "--ttl", f"{ttl_s:g}"]
        if "peer" in spec:
            args += ["--peer", spec["peer"]]
        if "route" in spec:
            args += ["--route", spec["route"]]
        self.lab.cli(*args)

    def run(self, case: Case, points_min: list[float]) -> dict:
        calm_s = self.calm()
        last_s = max([OBSERVE_S / 60, *points_min]) * 60
        injected = time.time()
        self.inject(case, last_s + case.onset_delay_s + 120)
        onset = injected + case.onset_delay_s
        looks, first_right, streak, rank = [], None, 0, None

        def look() -> list:
            seen = said(self.look(), case.causes)
            seen[0] = round(seen[0] - onset, 1)
            looks.append(seen)
            return seen

        while time.time() - injected < OBSERVE_S:
            time.sleep(LOOK_S)
            at, _, rank, *_ = look()
            streak = streak + 1 if rank == 1 else 0
            if streak == 1:
                first_right = at
            if streak >= 2:
                break
        if streak < 2:
            first_right = None
        points = {}
        for minutes in sorted(points_min):
            while time.time() < onset + minutes * 60 - BETWEEN_S:
                time.sleep(BETWEEN_S)
                look()
            time.sleep(max(0.0, onset + minutes * 60 - time.time()))
            points[f"{minutes:g}"] = look()[2]
        self.lab.cli("scenario", "stop") if "scenario" in case.spec else None
        self.lab.cli("reset")
        return {
            **asdict(case),
            "rank": rank,
            "seconds": max(0.0, first_right) if first_right is not None else None,
            "points": points,
            "calm_s": round(calm_s, 1),
            "looks": looks,
        }


# ---- the tables ------------------------------------------------------------------------------------
def _ac(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


def _kept(result: dict) -> float | None:
    later = [look for look in result.get("looks", []) if look[0] >= KEPT_AFTER_S]
    return sum(1 for look in later if look[2] == 1) / len(later) if later else None


def row(label: str, results: list[dict], points: list[str]) -> list[str]:
    cells = [label, str(len(results))]
    for point in ["onset", *points]:
        ranks = [r["rank"] if point == "onset" else r.get("points", {}).get(point, "-") for r in results]
        measured = all(rank != "-" for rank in ranks)
        cells += [f"{_ac(ranks, 1):.2f}", f"{_ac(ranks, 3):.2f}"] if measured else ["-", "-"]
    kept = [k for r in results if (k := _kept(r)) is not None]
    times = [r["seconds"] for r in results if r["seconds"] is not None]
    cells.append(f"{statistics.mean(kept):.2f}" if kept else "-")
    cells.append(f"{statistics.median(times):.0f}" if times else "-")
    cells.append(f"{_p90(times):.0f}" if times else "-")
    return cells


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in rows:
        first, *rest = cells
        lines.append(
            "| "
            + " | ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))])
            + " |"
        )
    return lines


def table(results: list[dict]) -> str:
    cases = [r for r in results if r["source"] != "healthy"]
    points = sorted({p for r in cases for p in r.get("points", {})}, key=float)
    header = ["kind", "n"]
    for point in ["onset", *points]:
        header += [f"{point if point == 'onset' else point + ' min'} AC@1", "AC@3"]
    header += ["kept", "median s", "p90 s"]
    lines = []
    for source in ("catalogue", "random"):
        group = [r for r in cases if r["source"] == source]
        if not group:
            continue
        rows = [
            row(kind, [r for r in group if r["kind"] == kind], points) for kind in sorted({r["kind"] for r in group})
        ]
        lines += [f"{source} ({len(group)} cases)", "", *_markdown(header, [*rows, row("all", group, points)]), ""]
    lines += [healthy_line(r) for r in results if r["source"] == "healthy"]
    lines.append(calibration(results))
    return "\n".join(lines)


def healthy_line(result: dict) -> str:
    looks = result["looks"]
    named = [look for look in looks if look[1]]
    sure = [look for look in named if (look[3] or 0) >= CONFIDENT]
    felt = sum(1 for look in looks if look[5])
    return (
        f"healthy load, {result['seconds']:g} s from the load's start: {len(looks)} looks, {len(named)} named a cause "
        f"({len(sure)} at >= {CONFIDENT} confidence), {felt} showed a symptom"
        + (f"; causes named: {sorted({look[1] for look in named})}" if named else "")
    )


def calibration(results: list[dict]) -> str:
    """Of the top answers given at >= CONFIDENT, the share that were right; then by band."""
    answers = [(look[3], look[2] == 1) for r in results for look in r.get("looks", []) if look[1]]
    if not answers:
        return "calibration: no answers"
    sure = [right for confidence, right in answers if confidence >= CONFIDENT]
    bands = []
    for low, high in ((0.0, 0.3), (0.3, 0.6), (0.6, 0.8), (0.8, 1.01)):
        inside = [right for confidence, right in answers if low <= confidence < high]
        if inside:
            bands.append(
                f"[{low:g}, {min(high, 1):g}{']' if high > 1 else ')'} {sum(inside) / len(inside):.2f} of {len(inside)}"
            )
    if sure:
        head = f"of {len(sure)} top answers given at >= {CONFIDENT} confidence, {sum(sure) / len(sure):.2f} were right"
    else:
        head = f"no top answer at >= {CONFIDENT} confidence"
    return f"calibration: {head}; right by confidence band: {', '.join(bands)}"


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.diagnosis", description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", default="2,5,10", help="minutes after onset to look at (default 2,5,10)")
    parser.add_argument("--random", type=int, default=40, help="random single faults to draw (default 40)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--healthy", type=float, default=600, help="seconds of healthy load first (0: none)")
    parser.add_argument("--out", type=Path, default=Path("bench-diagnosis.jsonl"), help="results, one JSON per line")
    parser.add_argument("--only", nargs="*", default=None, help="case ids or kinds to run (default: all)")
    parser.add_argument("--no-catalogue", action="store_true")
    parser.add_argument("--table", type=Path, help="print the tables of a results file and exit")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still takes its lab down
    if args.table:
        print(table(read(args.table)))
        return 0
    points = [float(p) for p in args.at.split(",") if p.strip()]
    cases = ([] if args.no_catalogue else scenarios()) + draw(args.random, args.seed)
    if args.only:
        cases = [c for c in cases if c.id in args.only or c.kind in args.only]
    done = {r["id"] for r in read(args.out)}
    healthy = f"healthy-{args.healthy:g}" if args.healthy else None
    todo = [c for c in cases if c.id not in done]
    print(f"{len(cases)} cases, {len(cases) - len(todo)} done already in {args.out}, {len(todo)} to run", flush=True)
    if todo or (healthy and healthy not in done):
        with BenchLab("bench-diagnosis") as lab:
            lab.cli("up")
            p = DEFAULT_LOAD
            lab.cli(
                "load", "start", "-u", str(p.users), "-r", str(p.spawn_rate),
                "--think-time", str(p.think_time_s), "--journey", p.journey,
            )  # fmt: skip
            runner = Runner(lab)
            if healthy and healthy not in done:
                _write(args.out, runner.healthy(args.healthy))
                print(healthy_line(read(args.out)[-1]), flush=True)
            for case in todo:
                result = runner.run(case, points)
                _write(args.out, result)
                print(
                    f"{case.id:<20} {case.kind:<16} {case.service:<10} onset rank {result['rank']} after "
                    f"{result['seconds']} s, at minutes {result['points']}   last look {result['looks'][-1]}",
                    flush=True,
                )
    ids = {c.id for c in cases} | ({healthy} if healthy else set())
    print(table([r for r in read(args.out) if r["id"] in ids]))
    return 0


def _write(path: Path, result: dict) -> None:
    with path.open("a") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    sys.exit(main())
