"""The soak: drills started and stopped at random under load, then the books.

A lab that teaches money correctness must not lose money itself, whatever is done to it and in
whatever order. The soak runs the default load with shoppers that retry failed checkouts by their
Idempotency-Key, starts random catalogue drills with random TTLs, stops some by hand and lets the
others expire, then waits for every fault to go by itself and for service-a's recovery loop to
settle what was left pending, and reconciles the whole database: no order lost, doubled or
mischarged. The float-money drills' drift is their intended damage (the ledger marks it), so it is
reported, not counted.

Drills run under the soak's own traffic, not their own (the deadlock's flash sale is not started):
the point is the books under churn, not each drill's symptom (tests/integration/test_drills.py).
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from chaoslab.backend import Backend
from chaoslab.chaos.journal import Journal
from chaoslab.chaos.reconcile import Reconciliation, recovery_deadline_s
from chaoslab.chaos.reconcile import reconcile as reconcile_books
from chaoslab.chaos.scenarios import DEFAULT_LOAD, catalogue
from chaoslab.errors import Refused
from chaoslab.timefmt import duration

TTL_RANGE_S = (10.0, 40.0)
"""Each drill's TTL is drawn from here; about half are stopped by hand before it."""
GAP_RANGE_S = (0.0, 8.0)
"""Quiet time between one drill's end and the next one's start."""
LOAD_LEASH_S = 120.0
"""The soak's Locust stops by itself this long after the soak's time is up (its last drill may run on
for a minute): a soak killed before it can stop its traffic leaves none running for good."""
CLAIMS = "soak-claims.jsonl"
"""A journal in the lab's store: ``claimed`` by each soak that started, ``released`` when it ended."""


@dataclass
class Drill:
    scenario: str
    faults: int
    ttl_s: float
    ended: str = ""
    """``stopped`` (by hand) or ``ttl`` (left to expire)."""


@dataclass
class SoakReport:
    seed: int
    duration_s: float
    drills: list[Drill] = field(default_factory=list)
    refused: int = 0
    """Starts the lab refused, all or nothing (a service still restarting after a crash drill)."""
    checkouts: int = 0
    failed_checkouts: int = 0
    faults_left: list[dict] = field(default_factory=list)
    books: Reconciliation | None = None

    @property
    def ok(self) -> bool:
        return not self.faults_left and self.books is not None and self.books.ok

    def summary(self) -> str:
        kept = sum(d.ended == "ttl" for d in self.drills)
        lines = [
            f"soak seed {self.seed}: {self.duration_s:.0f} s, {len(self.drills)} drills "
            f"({sum(d.faults for d in self.drills)} faults; {kept} left to expire, {len(self.drills) - kept} stopped; "
            f"{self.refused} starts refused while the lab recovered)",
            f"checkout attempts {self.checkouts} ({self.failed_checkouts} failed, retried by key)",
        ]
        if self.books is not None:
            lines.append(
                f"books: {self.books.orders} orders, {self.books.charges} charges, "
                f"{self.books.mischarged.count} mischarged; {self.books.summary()}"
            )
            if self.books.explained_drift:
                lines.append(f"(plus {self.books.explained_drift} drift the float-money drills made, as they should)")
        lines.append("every fault expired" if not self.faults_left else f"faults still active: {len(self.faults_left)}")
        return "\n".join(lines)


def run(lab: Backend, duration_s: float, seed: int, say: Callable[[str], None] = print) -> SoakReport:
    """Soak ``lab`` for ``duration_s`` seconds of drills, then wait for it to settle and reconcile.
    Refused while another soak has the lab: the second would reset it under the first one's books."""
    controller = lab.controller()  # refused here, before anything is said or changed, when no lab runs
    claims = Journal(lab.store(), CLAIMS)
    claim = _claim(claims, until=time.time() + duration_s + LOAD_LEASH_S + recovery_deadline_s() + 120)
    try:
        return _soak(lab, controller, duration_s, seed, say)
    finally:
        claims.append("released", claim=claim)


def _soak(lab: Backend, controller, duration_s: float, seed: int, say: Callable[[str], None]) -> SoakReport:
    draw = random.Random(seed)
    drills = catalogue()
    report = SoakReport(seed, duration_s)
    say(f"soak: {duration_s / 60:g} min of random drills, seed {seed} (`--seed {seed}` repeats them)")
    lab.reset()
    traffic = lab.load()
    traffic.stop()
    # A leash: killed (SIGKILL) before its `finally`, the soak would leave its Locust running for good.
    traffic.start(replace(DEFAULT_LOAD, retries=2), "soak", run_time_s=duration_s + LOAD_LEASH_S)
    started = time.monotonic()
    try:
        while time.monotonic() - started < duration_s:
            scenario = draw.choice(drills)
            ttl = draw.uniform(*TTL_RANGE_S)
            hold = draw.uniform(2.0, ttl * 1.2)
            try:
                applied = controller.start(scenario, ttl)
            except Refused as exc:  # rolled back whole: try another drill once the lab has recovered
                report.refused += 1
                say(f"{time.monotonic() - started:6.0f}s  {scenario.id} not started: {exc}")
                time.sleep(3.0)
                continue
            drill = Drill(scenario.id, len(applied), ttl)
            report.drills.append(drill)
            say(f"{time.monotonic() - started:6.0f}s  {scenario.id}: {len(applied)} fault(s), TTL {ttl:.0f}s")
            time.sleep(min(hold, ttl))
            if hold < ttl:
                controller.stop()
                drill.ended = "stopped"
            else:
                drill.ended = "ttl"  # its agents drop the faults by themselves; the next start finds it over
                expires_at = (controller.current() or {}).get("expires_at", 0.0)
                time.sleep(max(0.0, expires_at - time.time()) + 0.5)
            time.sleep(draw.uniform(*GAP_RANGE_S))
    finally:
        stats = traffic.stats() or {}
        traffic.stop()
    checkout = next((s for s in stats.get("stats", []) if s.get("name") == "POST /checkout"), {})
    report.checkouts = checkout.get("num_requests", 0)
    report.failed_checkouts = checkout.get("num_failures", 0)
    say("load stopped; waiting for the last faults to expire and the recovery loop to settle")
    report.faults_left = _settle(lambda: controller.faults()[0], TTL_RANGE_S[1] + 15)
    probe = lab.probe()
    books = _settle(
        lambda: reconcile_books(probe.query, since=time.time(), settle_s=5.0),
        recovery_deadline_s() + 60,
        done=lambda books: books.ok,
    )
    report.books = books
    return report


def _settle(read, timeout_s: float, done=lambda value: not value):
    """Read until ``done`` says the lab has settled or ``timeout_s`` passes; the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(1.0)


def _claim(claims: Journal, until: float) -> str:
    """Claim the lab for one soak until ``until``; refused while another soak holds it. Every soak appends
    its claim (appends are atomic), then reads them all: the first live claim holds, so two soaks
    started at the same moment agree on which one runs. A claim is live until released, until its time
    is up, or, on this machine, until its process is gone (a soak killed with SIGKILL)."""
    mine = claims.append("claimed", claim=uuid.uuid4().hex, until=until, host=socket.gethostname(), pid=os.getpid())
    entries = claims.entries()
    released = {e.get("claim") for e in entries if e.get("event") == "released"}
    live = [
        e
        for e in entries
        if e.get("event") == "claimed"
        and e.get("claim") not in released
        and e.get("until", 0) > time.time()
        and _running(e)
    ]
    holder = live[0]  # in time order, ties in the order appended: every reader agrees which came first
    if holder["claim"] != mine["claim"]:
        claims.append("released", claim=mine["claim"])
        raise Refused(
            f"another soak has had this lab for {duration(time.time() - holder['ts'])} (pid {holder.get('pid')} on "
            f"{holder.get('host')}); a soak needs the lab to itself: wait for it, at most "
            f"{duration(holder['until'] - time.time())} more"
        )
    return mine["claim"]


def _running(claim: dict) -> bool:
    """Whether the soak that made ``claim`` may still run: on this machine, while its process lives;
    from another machine there is no telling, and its time bounds it."""
    if claim.get("host") != socket.gethostname() or claim.get("pid") == os.getpid():
        return True
    try:
        os.kill(int(claim["pid"]), 0)
    except ProcessLookupError:
        return False
    except (OSError, KeyError, TypeError, ValueError):
        pass  # not ours to signal, or no pid written: assume it runs
    return True
