"""One backend per target: the local lab or a team's namespace, behind the same methods.

This module is the interface only: the protocols a target implements and the values they exchange.
A backend opens the chaos controller for its lab, reads its journals, drives its load, probes it
read-only for checks, names its front door and reaps what outlived its TTL. Each target is a wing
that implements it: ``chaoslab.local`` and ``chaoslab.kubernetes``. The CLI picks one once
(``chaoslab.cli.common.open_backend``) and never asks which target it has again; nothing below the
entry points imports a wing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from chaoslab.chaos.checks import LoadStats, Probe
    from chaoslab.chaos.controller import Controller
    from chaoslab.chaos.journal import AuditLog, Journal, Store
    from chaoslab.diagnose.rank import Diagnosis

Target = Literal["local", "kubernetes"]
TARGETS: tuple[str, ...] = ("local", "kubernetes")
TOKEN_VARIABLE = "CHAOSLAB_TOKEN"
"""Where an instructor's CLI holds the local lab's token for the views that show the answer key."""


@dataclass(frozen=True)
class Options:
    """What the CLI was pointed at, from its global options and their environment variables."""

    state_dir: Path
    """The local lab's state directory (--state-dir, CHAOSLAB_STATE_DIR)."""
    target: Target = "local"
    """Which lab the commands act on (--target, CHAOSLAB_TARGET)."""
    namespace: str = "chaoslab-lab"
    """The team namespace on Kubernetes (--namespace, CHAOSLAB_NAMESPACE)."""
    context: str | None = None
    """kubeconfig context on Kubernetes; None is the current one."""
    actor: str = ""
    """Who is acting, for the audit log locally (CHAOSLAB_ACTOR or the login name); on Kubernetes the
    API server's own idea of the caller wins."""

    def for_team(self, team: str | None) -> Options:
        """The same options pointed at team ``team``'s namespace (``--team``); unchanged for None."""
        return self if not team else replace(self, target="kubernetes", namespace=team_namespace(team))

    def for_namespace(self, namespace: str) -> Options:
        return replace(self, target="kubernetes", namespace=namespace)


def team_namespace(team: str) -> str:
    """Team T's lab lives in namespace chaoslab-T (the Makefile and the chart say the same)."""
    return f"chaoslab-{team}"


@dataclass
class Journals:
    """The audit log and the change feed of one lab."""

    audit: AuditLog
    changes: Journal


@dataclass
class ResetReport:
    removed: int
    """Faults removed from running agents and the platform."""
    unreachable: list[str] = field(default_factory=list)
    """Agents that did not answer (their saved faults were cleared, so they restart clean)."""
    cleared: int = 0
    """Saved faults cleared while no lab ran."""
    running: bool = True
    """Whether a lab was running to be reset."""


@dataclass(frozen=True)
class LoadProfile:
    """The traffic to run: how many users, how fast they arrive, what they do."""

    users: int = 10
    spawn_rate: float = 5.0
    think_time_s: float = 1.0
    journey: str = "shop"
    shape: str = "steady"
    retries: int = 0
    """Retries of a failed checkout with the same Idempotency-Key (loadtest/locustfile.py --retries)."""


@dataclass
class TimedRun:
    """What a load run for a set time left behind."""

    stats: dict
    """Locust's final per-request figures, shaped like its /stats/requests document."""
    report: str = ""
    """Where its reports are, if anywhere."""


class LoadDriver(Protocol):
    """The lab's load generator: background traffic until stopped, or a run for a set time."""

    def start(
        self, profile: LoadProfile, started_by: str, host: str | None = None, run_time_s: float | None = None
    ) -> str:
        """Start background traffic; returns lines saying where to watch it. Refused when some runs.
        ``run_time_s``: Locust stops by itself after that long, a leash for a caller that may be killed
        before it can stop it (the soak); None: until stopped."""

    def stats(self) -> dict | None:
        """Locust's live /stats/requests document, or None when no load runs."""

    def stop(self) -> str | None:
        """Stop background traffic; returns what was stopped (None when nothing ran)."""

    def run(
        self, profile: LoadProfile, duration_s: float, label: str, on_progress: Callable[[float, dict], None]
    ) -> TimedRun:
        """Traffic for ``duration_s`` seconds, progress reported as it goes; raises LoadError."""

    def stats_source(self) -> LoadStats:
        """The running load as a source of live stats for checks (chaos.checks.observe)."""


class Backend(Protocol):
    target: Target
    where: str
    """Which lab, for messages: "the lab in /path/.chaoslab" or "namespace chaoslab-red"."""

    def controller(self) -> Controller:
        """The chaos controller for this lab; raises Refused when the lab cannot be reached."""

    def journals(self) -> Journals:
        """The audit log and change feed, readable whether or not the lab runs."""

    def store(self) -> Store:
        """The lab's journal store (incidents live there too), readable whether or not the lab runs."""

    @property
    def actor(self) -> str:
        """Who is acting, as this lab knows them."""

    def reset(self) -> ResetReport:
        """Every fault and deploy gone, the scenario stopped; always safe, even with no lab running."""

    def load(self) -> LoadDriver: ...

    def probe(self) -> Probe:
        """Read-only access to the running lab for checks."""

    def front_door(self) -> str:
        """The base URL trainees and the load generator call (service-a)."""

    def reap(self) -> list[str]:
        """Revert platform faults whose TTL has passed; returns what was reverted."""

    def pager(self, alertmanager_url: str, interval_s: float, paging=None):
        """The team's pager (chaoslab/kubernetes/receiver.py): Alertmanager's webhook receiver that puts
        the team's alerts on its incident record. The local lab's daemon evaluates its alerts itself."""

    def diagnose(self, since_s: float) -> Diagnosis:
        """The shadow on-call's diagnosis of the last ``since_s`` seconds, from what a trainee may read
        (chaoslab/diagnose)."""

    def instructor(self) -> None:
        """Raise Refused unless the caller is an instructor of this lab (locally: ``CHAOSLAB_TOKEN`` holds
        the lab's token; on Kubernetes: the caller may read the instructors' journal)."""
