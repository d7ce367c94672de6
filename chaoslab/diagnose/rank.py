"""Ranking: the findings of the signature table, weighed by where the symptom is and what changed.

1. **The symptom**: what the front door's users feel (requests slower, failing, hanging, none
   finishing, against the healthy reference and against the lab's SLOs), the alerts that page, and
   what the business sees off the request path (a queue, an outbox, the ledger).
2. **The walk**: from the front door along every anomalous call and datastore call, callee after
   callee, with a visited set (the ring A→B→C→A is a cycle once the deadlock closes it). The elements
   it reaches are the symptom's path; the services where it stops, with healthy callees below them,
   are where the time or the errors begin.
3. **The weighing**: a finding on the path keeps its strength; one off the path while users suffer
   is weighed down (a CPU spike nobody waits on is the red herring); with no user-facing symptom
   every finding stands on its own. A deploy to the same service before the symptom began adds to a
   bad deploy and a deadlock (they are switched on by a deploy) and, a little, to anything else.
4. **The answer**: the top five (service, kind), each with its evidence, traces and queries, and what
   was ruled out and why. Its confidence says how strong the evidence is and how much it stands out
   (``confidence``); ``bench/diagnosis.py`` prints how often answers at 0.6 and above were right.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from chaoslab.alerts.tiers import TIERS
from chaoslab.diagnose.evidence import RECENT_S, Evidence, Inputs, Observation, Reading, collect
from chaoslab.diagnose.reference import SLO_SHARE, SLOW_MS, Reference, is_request
from chaoslab.diagnose.signatures import SIGNATURES, Finding, fading, is_rollback, ms, name, risky, superseded
from chaoslab.diagnose.spans import CALL, DB, OP, Element
from chaoslab.incident.mystery import redact
from chaoslab.telemetry import names
from chaoslab.topology import FRONT_DOOR

OFF_PATH = 0.45
"""A finding off the symptom's path keeps this share of its strength while users suffer."""
PROCESS_KINDS = ("cpu_burn", "memory_leak", "crash", "worker_stall")
"""Kinds that act on a whole process: on the path when their service is (the worker is on it when the
queue backs up)."""
TOP = 5
CHANGE_WINDOW_S = 900.0
"""A deploy this long before the symptom began can still be its trigger."""
_TROUBLE = ("own", "ms", "errors", "origins", "unanswered", "hung", "rejected")
EVIDENCE_SCALE = 2.0
"""The score at which evidence counts as 63 % strong (1 - 1/e): a single clear signature scores 2 to 3."""
UNOBSERVED = 0.6
"""What a candidate's confidence keeps when only the change feed speaks for it."""
SHARED_OUTAGES = ("db_outage", "redis_outage")
"""Kinds that name a shared datastore: the same outage seen from each service that uses it."""


@dataclass
class Candidate:
    service: str
    kind: str
    score: float
    confidence: float
    evidence: list[str]
    traces: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    on_path: bool = False
    observed: bool = True
    """Whether something was measured for it (False: only the change feed speaks for it)."""


@dataclass
class Diagnosis:
    at: float
    where: str
    since_s: float
    symptom: list[str]
    path: list[str]
    candidates: list[Candidate]
    ruled_out: list[str]
    changes: list[str]
    inputs: dict
    alerts: list[str] = field(default_factory=list)
    """Alerts firing now, in words (the paging ones are also in the symptom)."""

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def rank_of(self, service: str, kind: str) -> int | None:
        """1-based rank of (service, kind), None when it is not among the candidates."""
        for position, c in enumerate(self.candidates, 1):
            if (c.service, c.kind) == (service, kind):
                return position
        return None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> Diagnosis:
        return cls(**{**doc, "candidates": [Candidate(**c) for c in doc.get("candidates", [])]})


def diagnose(inputs: Inputs, since_s: float = 300.0, reference: Reference | None = None) -> Diagnosis:
    return rank(collect(inputs, since_s, reference))


# ---- the symptom and the walk --------------------------------------------------------------------
def _troubled(reading: Reading) -> bool:
    return reading.anomalous(*_TROUBLE) or bool(reading.waiting)


def symptom(ev: Evidence) -> list[str]:
    """What the users and the business feel, in words (empty: nothing user-facing): the front door
    against its healthy reference and against the lab's SLOs, the alerts that page, the queue, the
    outbox and the ledger."""
    found = [_paging(a) for a in ev.alerts if a.get("state") == "firing" and _pages(a)]
    for r in ev.of(OP, FRONT_DOOR):
        what, now = r.element[2], r.now
        if not is_request(what):
            continue  # the front door's own background work (its recovery loop) is not what users feel
        failing = bool(now and now.n and now.errors / now.n > SLO_SHARE)
        slow = bool(now and now.n and now.ms_p95 > SLOW_MS)
        if r.anomalous("ms") or slow:
            x = r.measures["ms"]
            found.append(f"{what} on {FRONT_DOOR} is slow: p95 {ms(x.value)}{_was(x, ms, slow, f'{SLOW_MS:.0f} ms')}")
        if r.anomalous("errors") or failing:
            was = _was(r.measures.get("errors"), _pct, failing, f"{SLO_SHARE:.0%}")
            found.append(f"{what} on {FRONT_DOOR} fails: {_pct(now.errors / now.n)} of {now.n}{was}")
        if r.anomalous("rejected"):
            found.append(f"{what} on {FRONT_DOOR} refuses requests: {r.measures['rejected'].value * 100:.0f}% 4xx")
        if r.silent:
            found.append(f"{what} on {FRONT_DOOR} stopped finishing requests (it served them before)")
    edge = ev.graph.edge("client", FRONT_DOOR)
    if edge is not None and edge.in_flight >= 3 and (edge.oldest_open_ms or 0) >= 3000:
        oldest = (edge.oldest_open_ms or 0) / 1000
        found.append(f"{edge.in_flight} requests to {FRONT_DOOR} are in flight, the oldest for {oldest:.1f} s")
    for state in ev.services.values():
        if state.queue is not None and state.queue.anomalous:
            found.append(
                f"{names.QUEUE_DEPTH} is {state.queue.value:.0f} (was {state.queue.base.median:.0f}): "
                "orders wait to ship"
            )
        if state.backlog is not None and state.backlog.anomalous:
            found.append(
                f"{state.service}'s {names.OUTBOX_BACKLOG} is {state.backlog.value:.0f}: paid orders wait to be queued"
            )
        if state.drift is not None and state.drift > 0.005:
            found.append(f"the ledger is {state.drift:.2f} short of the paid orders ({names.LEDGER_DRIFT})")
    return found


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _was(x: Observation | None, show, over: bool, objective: str) -> str:
    """What a front-door figure was when the lab was healthy, and whether it breaks the SLOs."""
    said = [f"was {show(x.base.median)}"] if x is not None and x.base.learned else []
    if over:
        said.append(f"over the SLOs' {objective}")
    return f" ({', '.join(said)})" if said else ""


def _pages(alert: dict) -> bool:
    tier = TIERS.get(str(alert.get("severity")))
    return bool(tier and tier.pages)


def _paging(alert: dict) -> str:
    since = _clock(alert["fired_at"]) if alert.get("fired_at") else "now"
    return f"alert {alert.get('alert')} ({alert.get('severity')}) firing since {since}: {alert.get('summary', '')}"


def _alert_line(alert: dict) -> str:
    return f"{alert.get('alert')} ({alert.get('severity')}): {alert.get('summary', '')}"


def walk(ev: Evidence) -> tuple[set[Element], set[str], list[str]]:
    """From the front door (and the worker, for the queue; the ledger's keeper, while money goes missing)
    along anomalous calls, with a visited set: (elements on the path, services on it, the path in words)."""
    start = [FRONT_DOOR]
    worker = ev.services.get("worker")
    if worker is not None and worker.queue is not None and worker.queue.anomalous:
        start.append("worker")
    start += [s.service for s in ev.services.values() if (s.drift or 0) > 0.005 and (s.drift_slope or 0) > 0]
    visited: set[str] = set()
    elements: set[Element] = set()
    words: list[str] = []
    stack = list(reversed(start))
    while stack:
        service = stack.pop()
        if service in visited:
            continue
        visited.add(service)
        below = []
        for r in ev.readings.values():
            kind, caller, target = r.element
            if caller != service or not _troubled(r):
                continue
            elements.add(r.element)
            if kind == CALL:
                below.append(target)
                if target not in visited:
                    stack.append(target)
            elif kind == DB:
                below.append(target)
        for peer in ev.failing_fast_on(service):  # the calls it no longer makes
            below.append(peer)
            stack.append(peer)
        if below:
            words.append(f"{service} → {', '.join(dict.fromkeys(below))}")
    return elements, visited, words


# ---- weighing ------------------------------------------------------------------------------------
def _merge(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    merged: dict[tuple[str, str], Finding] = {}
    for f in findings:
        key = (f.service, f.kind)
        known = merged.get(key)
        if known is None:
            merged[key] = Finding(
                f.service, f.kind, f.strength, list(f.lines), set(f.elements), list(f.traces), list(f.queries)
            )
            continue
        known.strength = max(known.strength, f.strength) + 0.2 * min(known.strength, f.strength)
        known.lines += [line for line in f.lines if line not in known.lines]
        known.elements |= f.elements
        known.traces += f.traces
        known.queries += f.queries
    return merged


def _interplay(merged: dict[tuple[str, str], Finding], ev: Evidence) -> None:
    """What one finding says about another: a hot CPU explains its own service's slowness, its PostgreSQL
    calls included (a statement's answer waits for the interpreter the busy threads hold; a slow database
    burns no CPU), and, when it is big, everyone's on two cores; a cycle explains the calls stuck on its
    edge; a restart explains the calls that went unanswered into it; a datastore's outage explains its
    caller's slower work (each request waits on the calls that fail)."""
    for service in {service for service, kind in merged if kind in SHARED_OUTAGES}:
        if (slower := merged.get((service, "latency"))) is None:
            continue
        slower.strength *= 0.5  # once, however many of its datastores are down
        for outage in (merged[(service, kind)] for kind in SHARED_OUTAGES if (service, kind) in merged):
            outage.strength += 0.3
            outage.lines.append(f"{service}'s own work is slower at the same time: it waits on the calls that fail")
    for (service, kind), f in list(merged.items()):
        if kind != "cpu_burn":
            continue
        its_own = {"latency": "own work", "db_slow": "PostgreSQL calls"}
        explained = [(merged[(service, k)], what) for k, what in its_own.items() if (service, k) in merged]
        if explained:
            f.strength += 0.7
            what = " and its ".join(what for _, what in explained)
            verb = "is" if what == "own work" else "are"
            f.lines.append(f"{service}'s {what} {verb} slower at the same time: the busy threads take its CPU")
            for own, _ in explained:
                own.strength *= 0.6
        state = ev.services[service]
        slowed = [k for k in merged if k[1] == "latency" and k[0] != service]
        if state.cpu is not None and state.cpu.delta >= 0.6 and len(slowed) >= 2:
            f.strength += 0.5
            others = ", ".join(s for s, _ in slowed)
            f.lines.append(f"the other services slowed a little too ({others}): one CPU hog slows a small machine")
            for key in slowed:
                merged[key].strength *= 0.7
    cycles = [f for (_, kind), f in merged.items() if kind == "deadlock"]
    for cycle in cycles:
        stuck = {e[1] for e in cycle.elements} | {e[2] for e in cycle.elements}
        for (service, kind), f in merged.items():
            if kind in ("partition", "latency", "error") and service in stuck:
                f.strength *= 0.5


def _changes_for(ev: Evidence, service: str, before: float) -> list[dict]:
    return [
        c
        for c in ev.changes
        if c.get("service") == service
        and before - CHANGE_WINDOW_S <= c.get("ts", 0) <= before + RECENT_S
        and not is_rollback(c)
        and not superseded(c, ev.changes)
    ]


def _change_line(change: dict, onset: float | None, now: float) -> str:
    """A deploy in words, dated against the symptom's onset (``None``: no symptom, against now)."""
    if onset is None:
        when = f"{now - change.get('ts', now):.0f} s ago"
    else:
        ago = onset - change.get("ts", onset)
        when = f"{ago:.0f} s before the symptom began" if ago >= 0 else f"{-ago:.0f} s after the symptom began"
    reasons = risky(change)
    summary = redact(str(change.get("summary", "")))
    at = _clock(change.get("ts", 0))
    line = f"deploy {change.get('id', '?')} to {change.get('service')} at {at} ({when}): {summary}"
    return line + (f"; risky: {'; '.join(reasons)}" if reasons else "")


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def rank(ev: Evidence) -> Diagnosis:
    merged = _merge([f for signature in SIGNATURES for f in signature.match(ev)])
    _interplay(merged, ev)
    felt = symptom(ev)
    path_elements, path_services, path_words = walk(ev) if felt else (set(), set(), [])
    onsets = [r.onset for e in path_elements if (r := ev.readings.get(e)) is not None and r.onset is not None]
    onset = min(onsets) if onsets else ev.at - RECENT_S
    said_onset = onset if felt else None
    scored: list[Candidate] = []
    for (service, kind), f in merged.items():
        whole = kind in PROCESS_KINDS or (kind == "bad_deploy" and bool(f.lines))  # a measured deploy: the service
        on_path = bool(f.elements & path_elements) or (whole and service in path_services)
        weight = 1.0 if (on_path or not felt) else OFF_PATH
        score = f.strength * weight
        lines = list(f.lines)
        changes = _changes_for(ev, service, onset)
        if changes:
            risky_changes = [c for c in changes if risky(c)]
            boost = (0.8 if risky_changes else 0.4) if kind in ("bad_deploy", "deadlock") else 0.15
            score += boost
            lines += [_change_line(c, said_onset, ev.at) for c in changes[-2:]]
        elif kind == "bad_deploy" and not f.lines:
            continue  # a risky-looking deploy outside the window says nothing now
        if kind == "bad_deploy" and not f.lines and changes:
            lines.insert(0, f"the only symptom-free explanation at hand: a deploy to {service} changed a risky setting")
            score *= fading(ev.at - max(c.get("ts", 0) for c in changes))
        scored.append(
            Candidate(
                service,
                kind,
                round(score, 3),
                0.0,
                lines,
                list(dict.fromkeys(f.traces))[:4],
                list(dict.fromkeys(f.queries)),
                on_path,
                bool(f.lines),
            )
        )
    scored.sort(key=lambda c: (-c.score, not c.on_path, c.service, c.kind))
    top = scored[:TOP]
    for c in top:
        rivals = sum(o.score * _rivalry(c, o) for o in top if o is not c)
        c.confidence = confidence(c.score, rivals, c.observed)
    return Diagnosis(
        at=ev.at,
        where=ev.where,
        since_s=ev.since_s,
        symptom=felt,
        path=path_words,
        candidates=top,
        ruled_out=ruled_out(ev, scored, felt, path_elements),
        changes=[_change_line(c, said_onset, ev.at) for c in ev.changes if not is_rollback(c)][-5:],
        inputs={
            "spans_in_recent_window": ev.facts,
            "baseline_frames": ev.baseline_frames,
            "metric_scrapes": ev.scrapes,
            "changes": len(ev.changes),
            "recent_window_s": RECENT_S,
            "reference": {
                "frames": ev.reference.frames,
                "latest": ev.reference.latest,
                "paused_since": ev.reference.paused_since,
                "why": ev.reference.why,
                "left_out": ev.reference.left_out,
            },
        },
        alerts=[_alert_line(a) for a in ev.alerts if a.get("state") == "firing"],
    )


def confidence(score: float, rivals: float, observed: bool = True) -> float:
    """How much to trust a candidate: how strong its evidence is on its own (``1 - exp(-score /
    EVIDENCE_SCALE)``: a cycle with stuck calls says much), times how much it stands out from the other
    explanations (its share of its score and theirs, ``rivals``), times ``UNOBSERVED`` when nothing
    measured speaks for it (a risky deploy with no symptom of its own)."""
    if score <= 0:
        return 0.0
    strength = 1 - math.exp(-score / EVIDENCE_SCALE)
    return round(strength * score / (score + rivals) * (1.0 if observed else UNOBSERVED), 2)


def _rivalry(c: Candidate, other: Candidate) -> float:
    """How much ``other`` competes with ``c`` as an explanation: not at all when it is the same shared
    datastore's outage seen from another service, or the deploy that switched ``c`` on (only the change
    feed speaks for it, on ``c``'s own service); fully otherwise."""
    if other.kind == c.kind and c.kind in SHARED_OUTAGES:
        return 0.0
    if not other.observed and other.service == c.service:
        return 0.0
    return 1.0


def ruled_out(ev: Evidence, scored: list[Candidate], felt: list[str], path: set[Element]) -> list[str]:
    """What was looked at and dismissed, with the reason a trainee can check."""
    found = []
    best = scored[0] if scored else None
    for c in scored:
        if c is best or c.on_path or not felt or best is None or c.score >= best.score:
            continue
        if c.kind == "cpu_burn":
            found.append(
                f"{c.evidence[0]}, but {c.service} is not on the path of the requests that suffer and none of its "
                "own work slowed: a red herring, not the cause"
            )
        else:
            found.append(f"{c.kind} on {c.service}: {c.evidence[0]}; off the path of the symptom, so not its cause")
    for r in ev.of(OP, FRONT_DOOR):
        if r.anomalous("ms") and not r.anomalous("own", "origins"):
            found.append(
                f"{FRONT_DOOR} itself: {r.element[2]} is slower but its own time is not (p95 "
                f"{ms(r.measures['own'].value)}): it waits on its calls"
            )
    for element in sorted(path):
        if element[0] != CALL:
            continue
        callee = element[2]
        own = [r for r in ev.of(OP, callee) if r.now and r.now.n]
        if own and not any(_troubled(r) for r in own) and not any(e[1] == callee for e in path):
            worst = max(own, key=lambda r: r.measures["own"].value if "own" in r.measures else 0)
            found.append(
                f"{callee} is healthy: its own time (p95 {ms(worst.measures['own'].value)}) and errors are as usual; "
                f"the trouble is on {name(element)}, not inside {callee}"
            )
    return list(dict.fromkeys(found))
