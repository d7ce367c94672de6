"""What really happened in a drill: read from the instructor's journals, never from the team's board.

The audit log says which scenario ran, when its faults went in and out, whether it was a mystery,
which change in the feed set it off and which hints were given; the catalogue says the root cause
and its owner; ``drill-baseline.json`` holds the services' counters as the faults went in (the start
of the impact window). Together they are the answer key that triage, root-cause answers,
scores and the review's "what was true" column are graded against.

On Kubernetes a team in a graded cohort may not read these journals (RBAC, see docs/scoring.md): then
``read`` returns an ``Unreadable`` saying why, answers are recorded ungraded, and the instructor's
``chaoslab score`` grades them later from the same entries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from chaoslab.chaos.journal import Store
from chaoslab.errors import ChaoslabError

AUDIT = "audit.jsonl"
SCENARIO = "scenario.json"
BASELINE = "drill-baseline.json"
"""The services' counters as a drill's faults went in (instructor's side: the impact window's start)."""
ROOT_CAUSE_BAR_S = 40 * 60
"""The seeds' bar: the root cause within 40 minutes."""


@dataclass
class Unreadable:
    """The answer key exists but this caller may not read it."""

    reason: str


@dataclass
class Truth:
    scenario: object
    """The chaos.scenarios.Scenario that ran."""
    started_at: float
    """When its first fault went in: the impact started then."""
    ends_at: float
    """When it was stopped, or when its faults expire."""
    mystery: bool
    trigger_change: str | None
    """The feed id of the change that set it off (RECENT CHANGE's answer); None: no change did."""
    hints: list[dict] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    """fault.started and fault.reverted entries of its faults, in order."""
    stopped_at: float | None = None
    revealed_at: float | None = None
    baseline: dict | None = None

    @property
    def running(self) -> bool:
        return self.stopped_at is None and self.ends_at > time.time()

    @property
    def hidden(self) -> bool:
        """A mystery still being played: trainee views must not show any of this."""
        return self.mystery and self.running and self.revealed_at is None

    @property
    def root_service(self) -> str:
        return self.scenario.root_cause["service"]

    @property
    def root_kind(self) -> str:
        return self.scenario.root_cause["kind"]

    @property
    def owner(self) -> str:
        from chaoslab.topology import owner

        return owner(self.root_service)

    def is_root_cause(self, service: str, kind: str) -> bool:
        """Right when it names the scenario's root cause, or another of its real faults (a drill with
        several causes accepts each; a red herring never counts)."""
        causes = {(self.root_service, self.root_kind)}
        causes |= {(spec["service"], spec["kind"]) for spec in self.scenario.faults}
        return (service, kind) in causes

    @property
    def alert(self) -> str | None:
        """The drill's primary alert (each catalogue file names the alert it fires within 90 s)."""
        return self.scenario.alert


def read(store: Store, start: float, end: float | None = None) -> Truth | Unreadable | None:
    """The drill that overlaps [start, end] (the latest one if several), None when none ran then, or
    Unreadable when this caller may not read the instructor's journals."""
    from chaoslab.chaos.scenarios import ScenarioError, get

    end = time.time() if end is None else end
    try:
        lines = store.read(AUDIT).splitlines()
        baseline_text = store.read(BASELINE)
    except ChaoslabError as exc:
        return Unreadable(str(exc))
    audit = []
    for line in lines:
        try:
            audit.append(json.loads(line))
        except ValueError:
            continue
    runs: list[dict] = []
    for item in audit:
        event = item.get("event")
        if event == "scenario.started":
            ttl = float(item.get("ttl_s") or 0)
            runs.append(dict(item, ends_at=item["ts"] + ttl, stopped_at=None, revealed_at=None))
        elif (
            event in ("scenario.stopped", "scenario.revealed") and runs and runs[-1]["scenario"] == item.get("scenario")
        ):
            key = "stopped_at" if event == "scenario.stopped" else "revealed_at"
            if runs[-1][key] is None:
                runs[-1][key] = item["ts"]
                if event == "scenario.stopped":
                    runs[-1]["ends_at"] = min(runs[-1]["ends_at"], item["ts"])
    overlapping = [r for r in runs if r["ts"] - 60 <= end and r["ends_at"] >= start]
    if not overlapping:
        return None
    run = overlapping[-1]
    try:
        scenario = get(run["scenario"])
    except ScenarioError:
        return None
    ids = set(run.get("fault_ids") or [])
    faults = [i for i in audit if i.get("event") in ("fault.started", "fault.reverted") and i.get("fault_id") in ids]
    started = [i["ts"] for i in faults if i["event"] == "fault.started"]
    hints = [
        i
        for i in audit
        if i.get("event") == "scenario.hint"
        and i.get("scenario") == run["scenario"]
        and run["ts"] - 1 <= i["ts"]
        and i["ts"] <= run["ends_at"]
    ]
    baseline = None
    try:
        doc = json.loads(baseline_text or "null")
        if isinstance(doc, dict) and abs(float(doc.get("ts", 0)) - run["ts"]) < 600:
            baseline = doc
    except (TypeError, ValueError):
        baseline = None
    return Truth(
        scenario=scenario,
        started_at=min(started) if started else run["ts"],
        ends_at=run["ends_at"],
        mystery=bool(run.get("mystery")),
        trigger_change=run.get("trigger_change"),
        hints=hints,
        faults=faults,
        stopped_at=run["stopped_at"],
        revealed_at=run["revealed_at"],
        baseline=baseline,
    )


def record_baseline(lab) -> dict | None:
    """Write the services' counters now as the running drill's baseline (right after its faults went in,
    so that a stuck service cannot delay them); returns them, or None when the lab's metrics do not
    answer (SCOPE is then graded in words only)."""
    from chaoslab.incident.impact import snapshot

    try:
        counters = snapshot(lab.probe())
    except Exception:  # best effort on any target (a lab not answering, an API error): the drill starts anyway
        return None
    lab.store().write(BASELINE, json.dumps(counters))
    return counters


def running_mystery(store: Store) -> bool:
    """Whether a mystery drill is being played now (trainee views then hide what would name it).
    A caller who may not read the scenario note is a trainee in a graded cohort: treated as yes."""
    try:
        note = json.loads(store.read(SCENARIO) or "null")
    except ChaoslabError:
        return True
    except ValueError:
        return False
    return bool(note and note.get("mystery") and note.get("expires_at", 0) > time.time() and not note.get("revealed"))
