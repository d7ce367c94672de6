"""What really happened in a drill: read from the instructor's journals, never from the team's board.

An incident is bound to the drill run being played when it was declared (``drill`` in its
``declared`` entry, chaoslab.incident.record); the answer key is that run and nothing else, so a
grade never changes when later drills start. The audit log says which scenario the run played, when
its faults went in and out, which change in the feed set it off, which hints were given and the
services' counters as its faults went in (``scenario.baseline``: the start of the impact window);
the board's drill journal (chaos.drill) says how and when the run ended and whether it was revealed;
the catalogue says the root cause and its owner. Together they are the answer key that triage,
root-cause answers, scores and the review's "what was true" column are graded against.

On Kubernetes a team in a graded cohort may not read the audit log (RBAC, see docs/scoring.md): then
``read`` returns an ``Unreadable`` saying why, answers are recorded ungraded, and the instructor's
``chaoslab score`` grades them later from the same entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chaoslab.chaos.drill import DrillJournal, Run
from chaoslab.chaos.journal import AUDIT, Journal, Store
from chaoslab.chaos.scenarios import ScenarioError, get
from chaoslab.errors import ChaoslabError
from chaoslab.incident.mystery import secret
from chaoslab.topology import owner

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
    run: Run
    """The run the incident is bound to, as the board knows it (how and when it ended)."""
    started_at: float
    """When its first fault went in: the impact started then."""
    trigger_change: str | None
    """The feed id of the change that set it off (RECENT CHANGE's answer); None: no change did."""
    hints: list[dict] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    """fault.started and fault.reverted entries of its faults, in order."""
    baseline: dict | None = None
    secret: bool = False
    """A mystery still being played for this incident: trainee views must not show any of this (see
    chaoslab.incident.mystery.secret)."""

    @property
    def ends_at(self) -> float:
        """When the drill ended (stopped, or its time limit), or will end."""
        return self.run.ended_at

    @property
    def in_force_until(self) -> float:
        """Until when every real fault of the drill was in force: the drill's end, or the first of them
        reverted before it (a ``fault rm``, a reset). A verify that passed after this proves nothing
        about the team's fix: the clock or a removal made it pass."""
        real = {f.get("fault_id") for f in self.faults if f["event"] == "fault.started" and not f.get("red_herring")}
        reverted = [f["ts"] for f in self.faults if f["event"] == "fault.reverted" and f.get("fault_id") in real]
        return min([self.ends_at, *reverted])

    def in_force(self, ts: float) -> bool:
        return self.started_at <= ts <= self.in_force_until

    @property
    def root_service(self) -> str:
        return self.scenario.root_cause["service"]

    @property
    def root_kind(self) -> str:
        return self.scenario.root_cause["kind"]

    @property
    def real_faults(self) -> list[dict]:
        """The scenario's faults (never its red herrings), as the catalogue gives them."""
        return list(self.scenario.faults)

    @property
    def owner(self) -> str:
        return owner(self.root_service)

    @property
    def owners(self) -> set[str]:
        """The teams owning the service of the root cause or of any real fault (OWNER accepts each)."""
        return {self.owner} | {owner(spec["service"]) for spec in self.real_faults}

    def is_root_cause(self, service: str, kind: str) -> bool:
        """Right when it names the scenario's root cause, or another of its real faults (a drill with
        several causes accepts each; a red herring never counts)."""
        causes = {(self.root_service, self.root_kind)}
        causes |= {(spec["service"], spec["kind"]) for spec in self.real_faults}
        return (service, kind) in causes

    @property
    def alert(self) -> str | None:
        """The drill's primary alert (each catalogue file names the alert it fires within 90 s)."""
        return self.scenario.alert


def is_graded(truth) -> bool:
    """Whether ``truth`` (what ``read`` returned) is an answer key to grade against."""
    return isinstance(truth, Truth)


def read(store: Store, incident) -> Truth | Unreadable | None:
    """The answer key of ``incident``: the drill run it was bound to when declared. None when no drill
    was running then (nothing to grade), Unreadable when this caller may not read the instructor's
    journals."""
    run = DrillJournal(store).get(incident.drill)
    if run is None:
        return None
    try:
        audit = Journal(store, AUDIT).entries()
    except ChaoslabError as exc:
        return Unreadable(str(exc))
    started = next((e for e in audit if e.get("event") == "scenario.started" and e.get("run") == run.id), None)
    if started is None:
        return None
    _authoritative(run, audit)
    try:
        scenario = get(started["scenario"])
    except ScenarioError:
        return None
    ids = set(started.get("fault_ids") or [])
    faults = [e for e in audit if e.get("event") in ("fault.started", "fault.reverted") and e.get("fault_id") in ids]
    hints = [e for e in audit if e.get("event") == "scenario.hint" and e.get("run") == run.id]
    baseline = next(
        (e.get("counters") for e in audit if e.get("event") == "scenario.baseline" and e.get("run") == run.id), None
    )
    first_fault = [e["ts"] for e in faults if e["event"] == "fault.started"]
    return Truth(
        scenario=scenario,
        run=run,
        started_at=min(first_fault) if first_fault else run.started_at,
        trigger_change=started.get("trigger_change"),
        hints=hints,
        faults=faults,
        baseline=baseline if isinstance(baseline, dict) else None,
        secret=secret(store, run),
    )


def _authoritative(run: Run, audit: list[dict]) -> None:
    """How the run ended and when it was revealed, as the audit log says (the board is the team's to
    write: grading trusts the instructor's journal)."""
    stopped = next((e for e in audit if e.get("event") == "scenario.stopped" and e.get("run") == run.id), None)
    revealed = next((e for e in audit if e.get("event") == "scenario.revealed" and e.get("run") == run.id), None)
    run.stopped_at, run.stop_reason = (stopped["ts"], stopped.get("reason", "stop")) if stopped else (None, None)
    run.revealed_at = revealed["ts"] if revealed else None


def record_baseline(store: Store, run: str, counters: dict | None) -> None:
    """Write the services' counters as run ``run``'s impact baseline (taken just before its faults went
    in: a deadlock's front door stops answering its own metrics a second after). None writes nothing:
    SCOPE and the review then count from the incident's declaration."""
    if counters:
        Journal(store, AUDIT).append("scenario.baseline", run=run, counters=counters)
