"""The local lab as a backend (chaoslab.backend): processes on loopback under one state directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from chaoslab import command
from chaoslab.backend import Journals, LoadProfile, ResetReport, TimedRun
from chaoslab.errors import BadInput
from chaoslab.local.client import LabClient, LabError
from chaoslab.local.registry import mark
from chaoslab.local.statedir import StateDir
from chaoslab.topology import FRONT_DOOR, SERVICE_NAMES


class LocalBackend:
    target = "local"

    def __init__(self, state_dir: Path, actor: str):
        self.state = StateDir.at(state_dir)
        self.actor = actor
        self.where = f"the lab in {self.state.root}"

    def controller(self):
        from chaoslab.chaos.controller import Controller
        from chaoslab.chaos.journal import FileStore
        from chaoslab.local.agents import LocalAgents

        return Controller(LocalAgents(self.state), FileStore(self.state.root), self.actor)

    def journals(self) -> Journals:
        """Through the controller while the lab runs (settling folds in what the agents recorded
        themselves), straight from the files when it does not."""
        from chaoslab.chaos.controller import AUDIT, CHANGES
        from chaoslab.chaos.journal import AuditLog, Journal

        try:
            controller = self.controller()
            return Journals(controller.audit, controller.changes)
        except LabError:
            store = self.store()
            return Journals(AuditLog(store, AUDIT), Journal(store, CHANGES))

    def store(self):
        from chaoslab.chaos.journal import FileStore

        return FileStore(self.state.root)

    def reset(self) -> ResetReport:
        """With the services running (even if their daemon is not), through every agent; without, by
        clearing the faults the agents saved (they would restore them on the next `up`) and the note
        of the running scenario."""
        try:
            controller = self.controller()  # the services answer, with or without their daemon
        except LabError:
            controller = None
        if controller is not None:
            controller.audit.settle()
            removed, unreachable = controller.reset()
            return ResetReport(removed, unreachable)
        from chaoslab.chaos.controller import SCENARIO
        from chaoslab.chaos.journal import FileStore
        from chaoslab.local.agents import forget_saved_faults

        cleared = sum(forget_saved_faults(self.state, service) for service in SERVICE_NAMES)
        FileStore(self.state.root).delete(SCENARIO)
        return ResetReport(0, cleared=cleared, running=False)

    def load(self) -> LocalLoad:
        return LocalLoad(self.state)

    def probe(self):
        from chaoslab.local.probe import LocalProbe

        return LocalProbe(self.state)

    def front_door(self) -> str:
        return LabClient(self.state).url(FRONT_DOOR)

    def diagnose(self, since_s: float):
        """The lab daemon's diagnosis (it records the spans and scrapes the metrics it judges)."""
        from chaoslab.diagnose.rank import Diagnosis

        return Diagnosis.from_json(LabClient(self.state).diagnosis(since_s))

    def instructor(self) -> None:
        """The lab's token in ``CHAOSLAB_TOKEN``: a trainee on the same Unix account can read the token file,
        so this makes a peek deliberate and audited rather than impossible (the README says so)."""
        import hmac
        import os

        from chaoslab.backend import TOKEN_VARIABLE
        from chaoslab.errors import Refused

        supplied = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not supplied or not hmac.compare_digest(supplied.encode(), self.state.token().encode()):
            raise Refused(
                f"instructors only: set {TOKEN_VARIABLE} to the lab's token "
                f"(`export {TOKEN_VARIABLE}=$(cat {self.state.token_file})`)"
            )

    def page(self, prometheus_url: str) -> list:
        raise BadInput(
            "paging from Prometheus is for --target kubernetes: the local lab daemon evaluates the alerts itself"
        )

    def reap(self) -> list[str]:
        raise BadInput(
            "reap reverts Kubernetes-level faults: use --target kubernetes (local faults expire inside "
            "their agents by themselves)"
        )


class LocalLoad:
    """Locust as a background process of the lab (``load.json`` in the state directory), or for a set time."""

    def __init__(self, state: StateDir):
        self.state = state

    def start(
        self, profile: LoadProfile, started_by: str, host: str | None = None, run_time_s: float | None = None
    ) -> str:
        from chaoslab.loadtest import background
        from chaoslab.loadtest.runner import LoadPlan

        plan = LoadPlan(host=host or LabClient(self.state).url(FRONT_DOOR), profile=profile, run_time_s=run_time_s)
        info = background.start(self.state, plan, started_by)
        return f"web UI {info['web_url']}, reports in {info['report_dir']} (written when it stops)"

    def stats(self) -> dict | None:
        from chaoslab.loadtest import background

        info = background.current(self.state)
        return None if info is None else background.attach(info).stats()

    def stop(self) -> str | None:
        from chaoslab.loadtest import background
        from chaoslab.timefmt import duration

        info = background.stop(self.state)
        if info is None:
            return None
        return f"load stopped after {duration(time.time() - info['started_at'])}; reports in {info['report_dir']}"

    def run(
        self, profile: LoadProfile, duration_s: float, label: str, on_progress: Callable[[float, dict], None]
    ) -> TimedRun:
        from chaoslab.loadtest import background
        from chaoslab.loadtest.runner import LoadPlan, run_for

        plan = LoadPlan(
            host=LabClient(self.state).url(FRONT_DOOR),
            profile=profile,
            run_time_s=duration_s,
            report_dir=background.reports_dir(self.state, label),
        )
        return run_for(plan, self.state.log("verify-locust"), on_progress, env=mark(self.state, "verify"))

    def stats_source(self):
        from chaoslab.loadtest import background
        from chaoslab.loadtest.runner import LoadError

        info = background.current(self.state)
        if info is None:
            raise LoadError(f"no load is running; start it with `{command('load start')}`")
        return background.attach(info)
