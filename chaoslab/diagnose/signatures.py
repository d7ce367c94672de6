"""The fault-kind signature table: which pattern of evidence points at which (service, kind).

- **deadlock**: a call edge the lab does not normally have closes a cycle: its calls re-enter a
  service already waiting further up the same trace, and wait for it.
- **crash**: a process started again (a new process_start_time_seconds, a failed scrape, its state)
  and calls to it failed meanwhile.
- **partition**: a caller's calls to one peer get no answer at all (they time out or are refused)
  while the peer is up (it answers its /metrics, it is ready) and not busy waiting on anything of its
  own.
- **error**: errors start in a service's own handling (no failing call below them), or a caller gets
  error answers that no span of the callee stands behind.
- **latency**: a service's own time rose (not its callees'), or the time between a caller and its
  callee rose (client span minus server span), or calls into it give up while it works on them (and
  it is not itself waiting on its own calls), or get no answer while it answers nothing else either
  (its handlers all hang).
- **upstream_failure**: the payment gateway (the third party) fails, slows or hangs: its own errors,
  its own time, calls to it that give up while it is still working on them.
- **cpu_burn**: a process's CPU rose by a quarter of a core or more; with its own work slower it is the
  cause, with nothing on the symptom's path slower it is a red herring.
- **memory_leak**: a process's resident memory grows in a straight line, or stands far above what it
  held when the lab was healthy (a leak that reached its cap).
- **db_outage**, **db_slow**: a service's PostgreSQL calls fail at the source, or take longer; or
  PostgreSQL's own process is stopped or restarting (its state in ``chaoslab status``).
- **redis_outage**: a service's Redis calls fail (the outbox backs up, the worker cannot read), or
  Redis's own process is stopped or restarting.
- **worker_stall**: the worker is up and its Redis calls succeed, yet it finishes no jobs while the
  queue grows.
- **bad_deploy**: a deploy changed a setting and that setting's symptom followed: statements per
  request (an N+1), the ledger drifting from the orders (float money); or a deploy set a risky value
  (a timeout of 0, a breaker off) and nothing else explains more.

Each entry is a function from ``Evidence`` to ``Finding``s: the candidate, how strongly the evidence
fits (``strength``, before the ranking weighs it by the symptom's path and the change feed), and the
evidence in words with the traces and metric queries that show it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from chaoslab.diagnose.evidence import RECENT_S, Evidence, Reading
from chaoslab.diagnose.spans import CALL, DB, OP, Element
from chaoslab.telemetry import names
from chaoslab.topology import COMPONENTS

GATEWAY = "gateway"
"""The third party: whatever fails inside it is the provider's failure (upstream_failure)."""


@dataclass
class Finding:
    service: str
    kind: str
    strength: float
    lines: list[str]
    elements: set[Element] = field(default_factory=set)
    traces: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    onset: float | None = None


@dataclass(frozen=True)
class Signature:
    kind: str
    match: Callable[[Evidence], list[Finding]]


# ---- words -------------------------------------------------------------------------------------
def ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def name(element: Element) -> str:
    kind, service, what = element
    if kind == CALL:
        return f"{service} → {what}"
    if kind == DB:
        return f"{service}'s {'PostgreSQL' if what == 'postgres' else 'Redis'} calls"
    return f"{service} {what}"


def _n(reading: Reading) -> int:
    return reading.now.n if reading.now else 0


def _vs(reading: Reading, measure: str, show: Callable[[float], str]) -> str:
    x = reading.measures[measure]
    basis = "baseline" if x.base.learned else "design"
    return f"{show(x.value)} ({basis} {show(x.base.median)})"


def fading(age_s: float) -> float:
    """What an event ``age_s`` old still says when nothing new stands behind it (an old restart, a risky
    deploy with no symptom since): all of it for a minute, then less, down to 30 % after five."""
    return 1.0 if age_s <= 60 else max(0.3, 1.0 - (age_s - 60) / 240 * 0.7)


def _traces(reading: Reading) -> str:
    return f", e.g. trace {reading.examples[0]}" if reading.examples else ""


# ---- the table -----------------------------------------------------------------------------------
def deadlock(ev: Evidence) -> list[Finding]:
    found = []
    for r in ev.of(CALL):
        reentrant = (r.now.reentrant if r.now else 0) + sum(c.reentrant for c in r.open)
        if not reentrant:
            continue
        caller, callee = r.element[1], r.element[2]
        edge = ev.graph.edge(caller, callee)
        new = bool(edge and edge.new) or r.frames == 0
        waiting = r.waiting
        stuck = bool(waiting) or r.anomalous("unanswered", "errors", "hung", "own")
        lines = [
            f"{caller} → {callee} is a call edge the lab {'does not normally have' if new else 'has'}: "
            f"{reentrant} of its calls re-entered {callee}, which was already waiting further up the same "
            f"trace (a cycle through {callee}){_traces(r)}"
        ]
        if waiting:
            lines.append(
                f"{len(waiting)} of those calls are waiting for {callee} to pick them up, the oldest for "
                f"{max(c.age_s for c in waiting):.1f} s: {callee}'s handlers are all busy waiting on the ring"
            )
        state = ev.services.get(callee)
        if state is not None and state.in_flight:
            lines.append(f"{callee} has {state.in_flight:.0f} requests in flight ({names.HTTP_IN_FLIGHT})")
        found.append(
            Finding(
                caller,
                "deadlock",
                2.0 + (1.0 if stuck else 0.0) + (0.5 if new else 0.0),
                lines,
                {r.element},
                r.examples,
                [f'{names.HTTP_IN_FLIGHT}{{service="{callee}"}}'],
            )
        )
    return found


def crash(ev: Evidence) -> list[Finding]:
    found = []
    for state in ev.services.values():
        if not state.restarts:
            continue
        # a process that is down answers nothing: its callers' calls get no server span at all
        refused = [r for r in ev.of(CALL) if r.element[2] == state.service and r.anomalous("unanswered")]
        lines = [f"{state.service} restarted: {'; '.join(dict.fromkeys(state.restarts))}"]
        lines += [
            f"calls {name(r.element)} failed meanwhile ({r.now.n if r.now else 0} in the window)" for r in refused
        ]
        looping = any("crash-loop" in reason for reason in state.restarts) or len(state.restarts) > 1
        age = ev.at - state.restarted_at if state.restarted_at is not None and not looping else 0.0
        strength = (2.5 + (0.5 if looping else 0.0)) * fading(age)
        if not looping and age > RECENT_S and state.up and not refused:
            strength *= 0.5
            lines.append(
                f"it is up again and answers its calls: the restart explains the past, not the last {RECENT_S:g} s"
            )
        found.append(
            Finding(
                state.service,
                "crash",
                strength,
                lines,
                {r.element for r in refused} | {(OP, state.service, "*")},
                [t for r in refused for t in r.examples][:3],
                [f'{names.START_TIME}{{service="{state.service}"}}', f'up{{service="{state.service}"}}'],
            )
        )
    return found


def _saturated(ev: Evidence, service: str) -> bool:
    """Whether ``service`` is busy waiting on something of its own (its calls or datastore calls are
    anomalous): then calls into it that go unanswered queue behind it, no partition needed."""
    return any(
        r.anomalous("own", "errors", "unanswered", "hung") or r.waiting
        for r in ev.readings.values()
        if r.element[0] in (CALL, DB) and r.element[1] == service
    )


def partition(ev: Evidence) -> list[Finding]:
    found = []
    for r in ev.of(CALL):
        if not r.anomalous("unanswered") or (r.now and r.now.reentrant) or any(c.reentrant for c in r.open):
            continue
        caller, callee = r.element[1], r.element[2]
        now = r.now
        timeouts, refused = (now.timeouts, now.refused) if now else (0, 0)
        waiting = len(r.waiting)
        cut = timeouts + refused + waiting
        unanswered = (now.unanswered if now else 0) + waiting
        if cut < max(2, unanswered // 2):
            continue  # mostly answered with a status by something on the way: an error, not a cut
        strength = 2.0 + r.measures["unanswered"].value
        callee_state = ev.services.get(callee)
        if callee_state is not None and callee_state.restarts:
            strength *= 0.3  # its callee restarted: a crash explains the silence
        if _saturated(ev, callee):
            strength *= 0.3  # its callee is busy waiting itself: the calls queue, nothing is cut
        if _stuck(ev, callee):
            strength *= 0.3  # its callee answers nothing at all: it hangs, the link is not cut
        mode = "time out with no answer" if timeouts + waiting >= refused else "are refused at once"
        lines = [
            f"{caller} → {callee}: {_vs(r, 'unanswered', pct)} of {caller}'s calls to {callee} {mode}; "
            f"{callee} never saw them (no server span){_traces(r)}"
        ]
        if callee_state is not None and callee_state.up and not callee_state.restarts and not _stuck(ev, callee):
            lines.append(f"{callee} itself is up: it answers its /metrics and did not restart")
        found.append(
            Finding(
                caller,
                "partition",
                strength,
                lines,
                {r.element},
                r.examples,
                [f'{names.OUTBOUND_REQUESTS_TOTAL}{{service="{caller}",peer="{callee}",outcome!="ok"}}'],
            )
        )
    return found


def errors(ev: Evidence) -> list[Finding]:
    found = []
    for r in ev.of(OP):
        if not r.anomalous("origins", "rejected"):
            continue
        service, what = r.element[1], r.element[2]
        measure = "origins" if r.anomalous("origins") else "rejected"
        share = r.measures[measure].value
        words = "fail" if measure == "origins" else "are refused (4xx)"
        line = (
            f"{what} on {service}: {_vs(r, measure, pct)} of {_n(r)} requests {words} in {service}'s own "
            f"handling, with no failing call below them: the errors start there{_traces(r)}"
        )
        strength = 1.6 + share
        queries = [f'{names.HTTP_REQUESTS_TOTAL}{{service="{service}",route=~".*"}} by status']
        for peer in ev.failing_fast_on(service) if measure == "origins" else ():
            because = (
                f"{what} on {service}: {_vs(r, measure, pct)} of {_n(r)} requests fail fast because {service}'s "
                f"circuit breaker on {peer} is open: {peer} kept failing, so the errors start in {peer}{_traces(r)}"
            )
            kind = "upstream_failure" if peer == GATEWAY else "error"
            found.append(Finding(peer, kind, strength + 0.4, [because], {r.element}, r.examples, queries))
            strength *= 0.5
        if service == GATEWAY:
            found.append(Finding(GATEWAY, "upstream_failure", strength + 0.4, [line], {r.element}, r.examples, queries))
            strength -= 0.4
        found.append(Finding(service, "error", strength, [line], {r.element}, r.examples, queries))
    for r in ev.of(CALL):
        now = r.now
        if now is None or not r.anomalous("origins") or now.timeouts + now.refused >= now.origins / 2:
            continue
        caller, callee = r.element[1], r.element[2]
        found.append(
            Finding(
                caller,
                "error",
                1.6 + r.measures["origins"].value,
                [
                    f"{caller} → {callee}: {_vs(r, 'origins', pct)} of {now.n} calls come back failed with no span "
                    f"of {callee} behind them: something between the two answers with an error{_traces(r)}"
                ],
                {r.element},
                r.examples,
                [f'{names.OUTBOUND_REQUESTS_TOTAL}{{service="{caller}",peer="{callee}",outcome="error"}}'],
            )
        )
    return found


def latency(ev: Evidence) -> list[Finding]:
    found = []
    for r in ev.readings.values():
        kind, service, what = r.element
        if kind == DB or not r.anomalous("own"):
            continue
        delta = r.measures["own"].delta
        strength = 1.4 + min(1.0, delta / 300)
        if kind == CALL:
            if r.anomalous("unanswered"):
                continue  # no answer is no latency: partition or crash
            line = (
                f"{service} → {what}: the calls spend {_vs(r, 'own', ms)} (p95) between {service} and {what}, "
                f"beyond what {what} itself takes (client minus server span){_traces(r)}"
            )
            found.append(Finding(service, "latency", strength, [line], {r.element}, r.examples))
            continue
        line = f"{service}'s own time in {what}: p95 {_vs(r, 'own', ms)}, not counting its calls to others{_traces(r)}"
        if service == GATEWAY:
            found.append(Finding(GATEWAY, "upstream_failure", strength + 0.2, [line], {r.element}, r.examples))
        found.append(Finding(service, "latency", strength, [line], {r.element}, r.examples))
    for r in ev.of(CALL):
        if not r.anomalous("hung"):
            continue
        caller, callee = r.element[1], r.element[2]
        line = (
            f"{caller} → {callee}: {_vs(r, 'hung', pct)} of the calls gave up after {ms(r.now.ms_p95)} while "
            f"{callee} was still working on them: the time goes into {callee}{_traces(r)}"
        )
        strength = 2.2 + r.measures["hung"].value
        if _saturated(ev, callee):
            strength *= 0.3  # it was waiting on its own calls: the time goes further down
            line += f"; but {callee} was itself waiting on its own calls, so the time goes further down"
        kind = "upstream_failure" if callee == GATEWAY else "latency"
        found.append(Finding(callee, kind, strength, [line], {r.element}, r.examples))
    for r in ev.of(CALL):
        callee = r.element[2]
        why = _stuck(ev, callee)
        if why is None or not r.anomalous("unanswered") or (r.now and r.now.reentrant):
            continue
        line = (
            f"{r.element[1]} → {callee}: {_vs(r, 'unanswered', pct)} of the calls get no answer, and {callee} "
            f"answers nothing else either ({why}): its handlers all hang, the link is not what is cut{_traces(r)}"
        )
        kind = "upstream_failure" if callee == GATEWAY else "latency"
        found.append(Finding(callee, kind, 2.4 + r.measures["unanswered"].value, [line], {r.element}, r.examples))
    return found


def _stuck(ev: Evidence, service: str) -> str | None:
    """Why ``service`` itself answers nothing (its /metrics, its readiness), when it did not restart: calls
    into it that go unanswered are then its own hang, not a cut link (None: it answers)."""
    state = ev.services.get(service)
    if state is None or state.restarts:
        return None  # a restart is the crash signature's
    why = []
    if not state.up and state.unscraped >= 2:
        why.append(f"its /metrics did not answer {state.unscraped} of the last scrapes")
    if ev.processes.get(service, {}).get("state") == "unready":
        why.append("its process is unready in `chaoslab status`")
    return "; ".join(why) or None


def cpu(ev: Evidence) -> list[Finding]:
    found = []
    for state in ev.services.values():
        x = state.cpu
        if x is None or not x.anomalous:
            continue
        line = (
            f"{state.service}'s CPU: {x.value:.2f} cores ({'baseline' if x.base.learned else 'design'} "
            f"{x.base.median:.2f})"
        )
        found.append(
            Finding(
                state.service,
                "cpu_burn",
                1.2 + min(1.3, x.delta),
                [line],
                {(OP, state.service, "*")},
                queries=[f'rate({names.CPU_SECONDS_TOTAL}{{service="{state.service}"}}[1m])'],
            )
        )
    return found


def memory(ev: Evidence) -> list[Finding]:
    found = []
    for state in ev.services.values():
        lines, strength = [], 0.0
        if state.rss_slope is not None and state.rss_slope >= 0.5 and (state.rss_rise_mb or 0) >= 15:
            strength = 2.0 + min(1.0, state.rss_slope / 10)
            lines.append(
                f"{state.service}'s resident memory grows {state.rss_slope:.1f} MiB/s: {state.rss_mb:.0f} MiB "
                f"now, +{state.rss_rise_mb:.0f} MiB within the last minute, in a straight line"
            )
        held = state.rss
        if held is not None and held.anomalous and (state.rss_slope or 0) > -0.2:
            strength = max(strength, 1.8 + min(1.0, held.delta / 200))
            lines.append(
                f"{state.service} holds {held.value:.0f} MiB, {held.delta:.0f} MiB more than when the lab was "
                f"healthy ({held.base.median:.0f} MiB), and it is not coming down"
            )
        if lines:
            found.append(
                Finding(
                    state.service,
                    "memory_leak",
                    strength,
                    lines,
                    {(OP, state.service, "*")},
                    queries=[f'{names.RESIDENT_MEMORY}{{service="{state.service}"}}'],
                )
            )
    return found


DATASTORE_DOWN = {"stopped": 2.8, "crash-loop": 2.8, "restarting": 2.6, "unready": 2.0}
"""A datastore's process state and how strongly it says the datastore is out (unready: it answers
nothing, or not yet)."""


def datastores(ev: Evidence) -> list[Finding]:
    found: dict[tuple[str, str], Finding] = {}

    def add(service: str, kind: str, strength: float, line: str, element: Element | None, reading=None, q=None):
        finding = found.get((service, kind))
        if finding is None:
            finding = found[(service, kind)] = Finding(service, kind, strength, [], set())
        finding.strength = max(finding.strength, strength)
        finding.lines.append(line)
        if element:
            finding.elements.add(element)
        if reading is not None:
            finding.traces += reading.examples
        if q:
            finding.queries.append(q)

    for r in ev.of(DB):
        service, store = r.element[1], r.element[2]
        outage = "db_outage" if store == "postgres" else "redis_outage"
        if r.anomalous("errors", "origins"):
            measure = "origins" if r.anomalous("origins") else "errors"
            add(
                service,
                outage,
                2.6,
                f"{name(r.element)} fail: {_vs(r, measure, pct)} of {_n(r)}; the errors start there{_traces(r)}",
                r.element,
                r,
            )
        elif store == "postgres" and r.anomalous("own"):
            add(
                service,
                "db_slow",
                1.6 + min(1.0, r.measures["own"].delta / 200),
                f"{name(r.element)} take longer: p95 {_vs(r, 'own', ms)} over {_n(r)} statements{_traces(r)}",
                r.element,
                r,
                f'{names.OUTBOUND_DURATION}{{service="{service}",peer="postgres"}}',
            )
    for store, kind in (("postgres", "db_outage"), ("redis", "redis_outage")):
        state = str(ev.processes.get(store, {}).get("state", ""))
        if state not in DATASTORE_DOWN:
            continue
        for c in COMPONENTS:
            if store in c.uses and c.name in ev.services:
                add(
                    c.name,
                    kind,
                    DATASTORE_DOWN[state],
                    f"{store} itself is {state} (its process state in `chaoslab status`): every call {c.name} makes "
                    f"to it fails",
                    (DB, c.name, store),
                    ev.reading((DB, c.name, store)),
                    f'rate({names.OUTBOUND_REQUESTS_TOTAL}{{service="{c.name}",peer="{store}",outcome!="ok"}}[1m])',
                )
    for state in ev.services.values():
        for store, kind in (("postgres", "db_outage"), ("redis", "redis_outage")):
            x = state.peer_errors.get(store)
            if x is None or not x.anomalous:
                continue
            add(
                state.service,
                kind,
                2.4,
                f"{state.service}'s calls to {store} fail: {x.value:.1f}/s ({names.OUTBOUND_REQUESTS_TOTAL}, "
                f"outcome not ok; baseline {x.base.median:.1f}/s)",
                (DB, state.service, store),
                q=f'rate({names.OUTBOUND_REQUESTS_TOTAL}{{service="{state.service}",peer="{store}",outcome!="ok"}}[1m])',
            )
        backlog = state.backlog
        if backlog is not None and backlog.anomalous and (state.backlog_slope or 0) > 0:
            finding = found.get((state.service, "redis_outage"))
            if finding is not None:
                finding.lines.append(f"{state.service}'s {names.OUTBOX_BACKLOG} is {backlog.value:.0f} and growing")
                finding.strength += 0.3
    return list(found.values())


def stall(ev: Evidence) -> list[Finding]:
    worker = ev.services.get("worker")
    if worker is None or worker.restarts or not worker.up:
        return []
    queue_up = worker.queue is not None and (worker.queue.anomalous or (worker.queue_slope or 0) > 0.3)
    idle = worker.jobs_rate is not None and worker.jobs_rate.anomalous
    redis_failing = any(x.anomalous for peer, x in worker.peer_errors.items() if peer == "redis")
    if not (queue_up and idle) or redis_failing:
        return []
    lines = [
        f"worker finished {worker.jobs_rate.value:.1f} jobs/s (baseline {worker.jobs_rate.base.median:.1f}) while "
        f"{names.QUEUE_DEPTH} is {worker.queue.value:.0f} and growing {worker.queue_slope or 0:+.1f}/s",
        "the worker is up, did not restart, and its Redis calls succeed: it just stopped taking jobs",
    ]
    return [
        Finding(
            "worker",
            "worker_stall",
            2.8,
            lines,
            {(OP, "worker", "*")},
            queries=[names.QUEUE_DEPTH, f'rate({names.JOBS_PROCESSED_TOTAL}{{service="worker"}}[1m])'],
        )
    ]


RISKY = {
    "money_math": ("float", "money in floating point drifts by cents"),
    "orders_query": ("n_plus_one", "one query per order and line: an N+1"),
    "loyalty_lookup": ("sync", "a synchronous call back into the caller: a cycle"),
}
"""Settings values a senior engineer would flag in a deploy (chaoslab.settings' runtime settings);
timeouts of 0 and breakers switched off are flagged by their names."""
_SETTING = re.compile(r"([a-z_]+)=([^,\s()]+)")


def risky(change: dict) -> list[str]:
    """Why a deploy (a change feed entry) looks risky: one reason per risky setting it changed."""
    reasons = []
    for key, value in _SETTING.findall(str(change.get("summary", ""))):
        if key in RISKY and value == RISKY[key][0]:
            reasons.append(f"{key}={value}: {RISKY[key][1]}")
        elif key.endswith("_timeout_s") and value in ("0", "0.0"):
            reasons.append(f"{key}={value}: no timeout, a slow peer holds every caller")
        elif key.endswith("_breaker") and value.lower() == "false":
            reasons.append(f"{key}={value}: no circuit breaker, failures are waited out every time")
    return reasons


BASELINE = "to the baseline"  # what a reset or a restart says in the change feed (chaos.controller, chaos.agent)


def is_rollback(change: dict) -> bool:
    summary = str(change.get("summary", ""))
    return "rollback" in summary or BASELINE in summary


def superseded(change: dict, changes: list[dict]) -> bool:
    """Whether a later change to the same service set again what ``change`` set (a rollback, the next
    deploy), or put the whole service back to its baseline (a lab reset names no setting): then
    ``change`` is no longer running and explains nothing now."""
    keys = {key for key, _ in _SETTING.findall(str(change.get("summary", "")))}
    if not keys:
        return False
    later = [c for c in changes if c.get("service") == change.get("service") and c.get("ts", 0) > change.get("ts", 0)]
    return any(
        keys & {key for key, _ in _SETTING.findall(str(c.get("summary", "")))} or BASELINE in str(c.get("summary", ""))
        for c in later
    )


def deploys(ev: Evidence) -> list[Finding]:
    found: dict[str, Finding] = {}
    for state in ev.services.values():
        for route, x in state.statements.items():
            if not x.anomalous:
                continue
            finding = found.setdefault(state.service, Finding(state.service, "bad_deploy", 0.0, []))
            finding.strength = max(finding.strength, 2.2)
            finding.lines.append(
                f"{state.service}'s {route} runs {x.value:.1f} PostgreSQL statements per request "
                f"(baseline {x.base.median:.1f}): one query per row, an N+1"
            )
            finding.elements.add((OP, state.service, "*"))
            finding.queries.append(f'{names.HTTP_DB_STATEMENTS}_sum{{service="{state.service}",route="{route}"}}')
        if state.drift is not None and state.drift > 0.005:
            growing = (state.drift_slope or 0) > 0
            finding = found.setdefault(state.service, Finding(state.service, "bad_deploy", 0.0, []))
            finding.strength = max(finding.strength, 2.4 if growing else 0.8)  # a standing gap is money lost earlier
            finding.lines.append(
                f"{state.service}'s ledger is {state.drift:.2f} short of the paid orders ({names.LEDGER_DRIFT})"
                + (", and the gap grows" if growing else ", not growing in the last minute: lost earlier")
            )
            finding.queries.append(f'{names.LEDGER_DRIFT}{{service="{state.service}"}}')
    for change in ev.changes:
        reasons = risky(change)
        service = change.get("service", "")
        if not reasons or is_rollback(change) or superseded(change, ev.changes) or service not in ev.services:
            continue
        finding = found.setdefault(service, Finding(service, "bad_deploy", 0.0, []))
        finding.strength = max(finding.strength, 1.5)
    return list(found.values())


SIGNATURES: tuple[Signature, ...] = (
    Signature("deadlock", deadlock),
    Signature("crash", crash),
    Signature("partition", partition),
    Signature("error", errors),
    Signature("latency", latency),
    Signature("cpu_burn", cpu),
    Signature("memory_leak", memory),
    Signature("db_outage", datastores),
    Signature("worker_stall", stall),
    Signature("bad_deploy", deploys),
)
"""In the table's order; ``datastores`` covers db_outage, db_slow and redis_outage, ``errors`` and
``latency`` also upstream_failure."""
