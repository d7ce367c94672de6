"""Playing a drill on any target: start it the way a room plays it, and stop it.

``start``:

1. refuses while an earlier mystery is still secret (chaoslab.incident.mystery): a new drill would
   bury an incident still being worked;
2. starts the drill's traffic on a leash of the drill's time limit (Locust stops by itself when the
   faults expire, on both targets: a drill's traffic never outlives it and keeps paging);
3. measures the lab under that traffic for ``CHAOSLAB_DRILL_HEALTHY_S`` seconds, before any fault:
   the drill run's *healthy* latency, which ``verify`` judges a fix against where the absolute SLO
   cannot be fair on a slow host (chaoslab.loadtest.verify);
4. applies the faults (chaos.controller.Controller.start gives the run its id);
5. records the services' counters read just before the faults went in as the run's impact baseline
   (chaoslab.incident.truth).

``extend`` gives the running drill more time, its traffic too; ``pause`` is a break (the drill's clock
stands still, its faults and traffic live as much longer); ``stop`` ends the last drill (running,
or ended by its time limit) and the traffic it started; ``reset`` does that and removes every other
fault and deploy too.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from chaoslab.alerts.definitions import check_alerts
from chaoslab.chaos.checks import Check, observe
from chaoslab.chaos.faults import MAX_TTL_S
from chaoslab.chaos.journal import SCENARIO
from chaoslab.chaos.scenarios import get
from chaoslab.errors import ChaoslabError, Refused
from chaoslab.incident.impact import counters_now
from chaoslab.incident.mystery import refuse_new_drill_while_secret
from chaoslab.incident.mystery import story as mystery_story
from chaoslab.incident.truth import record_baseline
from chaoslab.settings import Drills, load

LATENCY = ("p50_ms", "p95_ms", "p99_ms")
SPAWN_WAIT_S = 30.0
"""How long the healthy measurement waits for the drill's users to be spawned."""


@dataclass
class Started:
    scenario: object
    """The chaos.scenarios.Scenario started."""
    run: str
    ttl_s: float
    faults: int
    story: str
    """What the team is told: the scenario's story, or a mystery's story told from the symptom."""
    traffic: str = ""
    """Where to watch the drill's own traffic ("" when it brought none)."""
    healthy: dict | None = None
    warnings: list[str] | None = None


def healthy_figures(lab, scenario, window_s: float) -> dict | None:
    """p50/p95/p99 per request the drill's SLO judges by latency (and checkout), measured over
    ``window_s`` of the traffic now running; None when none runs or nothing was measured."""
    traffic = lab.load()
    deadline = time.monotonic() + SPAWN_WAIT_S
    while (stats := traffic.stats()) is not None and stats.get("state") == "spawning":
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)  # polling Locust's state until its users are all running, with a deadline
    if stats is None:
        return None
    requests = {"POST /checkout"} | {c.request for c in scenario.slo if c.measure in LATENCY and c.request}
    checks = [Check(m, request=r, max=math.inf) for r in sorted(requests) for m in LATENCY]
    results = observe(checks, lab.probe(), traffic.stats_source(), window_s)
    figures: dict = {}
    for result in results:
        if result.value is not None:
            figures.setdefault(result.check.request, {})[result.check.measure] = round(result.value, 1)
    return {"requests": figures, "window_s": window_s} if figures else None


def start(
    lab,
    scenario,
    ttl_s: float | None,
    mystery: bool,
    with_load: bool,
    started_by: str,
    say: Callable[[str], None] = lambda line: None,
    seed: int | None = None,
) -> Started:
    """Start ``scenario`` on ``lab`` (a chaoslab.backend.Backend); see the module docstring. ``seed``
    draws a mystery's story (the same seed as the drill's draw gives the same story)."""
    check_alerts(scenario)
    refuse_new_drill_while_secret(lab.store())
    controller = lab.controller()
    controller.refuse_if_running()  # before the traffic starts
    ttl = min(ttl_s or scenario.duration_s, MAX_TTL_S)
    window_s = load(Drills).healthy_s
    warnings: list[str] = []
    traffic, ours = "", False
    if with_load:
        try:
            driver = lab.load()
            if driver.stats() is None:
                traffic = driver.start(scenario.load, started_by, run_time_s=ttl + window_s)
                ours = True
            else:
                warnings.append("load was already running: the drill uses it and leaves it running when it ends")
        except Refused as exc:
            warnings.append(f"could not start the drill's traffic: {exc}")
    healthy = None
    if window_s > 0 and (ours or not warnings):
        say(f"measuring the lab under the drill's traffic for {window_s:g} s before any fault goes in …")
        try:
            healthy = healthy_figures(lab, scenario, window_s)
        except Exception as exc:  # the drill starts anyway; verify then judges by the absolute SLO only
            warnings.append(f"the lab's healthy latency was not measured ({exc}); verify judges by the SLO alone")
    counters = counters_now(lab)
    told = mystery_story(scenario, seed) if mystery else scenario.story
    try:
        applied = controller.start(scenario, ttl, mystery=mystery, healthy=healthy, story=told if mystery else "")
    except Exception:
        if ours:
            lab.load().stop()
        raise
    if ours:
        controller.note_load_started()
    note = controller.current()
    record_baseline(lab.store(), note["run"], counters)
    return Started(scenario, note["run"], applied[0].fault.ttl_s, len(applied), told, traffic, healthy, warnings)


def stop(lab) -> tuple[dict, str | None]:
    """End the last drill and the traffic it started; returns (its note, a warning or None)."""
    running = lab.controller().stop()
    return running, _stop_traffic(lab, running)


def extend(lab, by_s: float, started_by: str) -> tuple[dict, list[str]]:
    """Give the running drill ``by_s`` more seconds (chaos.controller.Controller.extend) and its traffic a
    leash that long. Returns (the drill's note, warnings)."""
    return _longer(lab, lab.controller().extend(by_s), started_by)


def pause(lab, for_s: float, started_by: str) -> tuple[dict, list[str]]:
    """A break of ``for_s`` seconds (chaos.controller.Controller.pause): the drill's clock stands still,
    its faults and its traffic live as much longer. Returns (the drill's note, warnings)."""
    return _longer(lab, lab.controller().pause(for_s), started_by)


def _longer(lab, note: dict, started_by: str) -> tuple[dict, list[str]]:
    """The drill's traffic on a leash as long as its new time limit (``note``'s): Locust cannot move its
    own, so the traffic restarts with the time now left."""
    warnings = [f"not reached, its fault ends at the old time: {where}" for where in note.pop("unreached")]
    if note.get("load_started"):
        try:
            traffic = lab.load()
            if traffic.stats() is not None:
                traffic.stop()
                traffic.start(get(note["id"]).load, started_by, run_time_s=note["expires_at"] - time.time())
        except Refused as exc:
            warnings.append(f"the drill's traffic keeps its old time limit: {exc}")
    return note, warnings


def reset(lab):
    """``lab.reset()`` (every fault and deploy gone, the drill ended), and the traffic the drill started
    stopped too: a drill's traffic left running would be silently taken over by the next drill.
    Returns (the chaoslab.backend.ResetReport, a warning or None)."""
    try:
        note = json.loads(lab.store().read(SCENARIO) or "null")
    except (ChaoslabError, ValueError):
        note = None
    report = lab.reset()
    return report, _stop_traffic(lab, note) if report.running and note else None


def _stop_traffic(lab, note: dict) -> str | None:
    """Stop the traffic the drill of ``note`` started, if it did; a warning when that failed."""
    if not note.get("load_started"):
        return None
    try:
        lab.load().stop()
    except Refused as exc:
        return f"could not stop the drill's traffic: {exc}"
    return None
