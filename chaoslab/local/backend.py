"""The local lab as a backend (chaoslab.backend): processes on loopback under one state directory."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from chaoslab.backend import TOKEN_VARIABLE, Journals, ResetReport
from chaoslab.chaos.controller import AUDIT, CHANGES, SCENARIO, Controller
from chaoslab.chaos.journal import AuditLog, FileStore, Journal
from chaoslab.diagnose.rank import Diagnosis
from chaoslab.errors import BadInput, Refused
from chaoslab.local.agents import LocalAgents, forget_saved_faults
from chaoslab.local.client import LabClient, LabError
from chaoslab.local.load import LocalLoad
from chaoslab.local.probe import LocalProbe
from chaoslab.local.statedir import StateDir
from chaoslab.topology import FRONT_DOOR, SERVICE_NAMES


class LocalBackend:
    target = "local"

    def __init__(self, state_dir: Path, actor: str):
        self.state = StateDir.at(state_dir)
        self.actor = actor
        self.where = f"the lab in {self.state.root}"

    def controller(self):
        return Controller(LocalAgents(self.state), FileStore(self.state.root), self.actor)

    def journals(self) -> Journals:
        """Through the controller while the lab runs (settling folds in what the agents recorded
        themselves), straight from the files when it does not."""
        try:
            controller = self.controller()
            return Journals(controller.audit, controller.changes)
        except LabError:
            store = self.store()
            return Journals(AuditLog(store, AUDIT), Journal(store, CHANGES))

    def store(self):
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
            removed, unreachable = controller.reset()
            return ResetReport(removed, unreachable)

        cleared = sum(forget_saved_faults(self.state, service) for service in SERVICE_NAMES)
        FileStore(self.state.root).delete(SCENARIO)
        return ResetReport(0, cleared=cleared, running=False)

    def load(self) -> LocalLoad:
        return LocalLoad(self.state)

    def probe(self):
        return LocalProbe(self.state)

    def front_door(self) -> str:
        return LabClient(self.state).url(FRONT_DOOR)

    def diagnose(self, since_s: float):
        """The lab daemon's diagnosis (it records the spans and scrapes the metrics it judges)."""
        return Diagnosis.from_json(LabClient(self.state).diagnosis(since_s))

    def instructor(self) -> None:
        """The lab's token in ``CHAOSLAB_TOKEN``: a trainee on the same Unix account can read the token file,
        so this makes a peek deliberate and audited rather than impossible (the README says so)."""
        supplied = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not supplied or not hmac.compare_digest(supplied.encode(), self.state.token().encode()):
            raise Refused(
                f"instructors only: set {TOKEN_VARIABLE} to the lab's token "
                f"(`export {TOKEN_VARIABLE}=$(cat {self.state.token_file})`)"
            )

    def pager(self, alertmanager_url: str, interval_s: float, paging=None):
        raise BadInput(
            "the pager receives Alertmanager's notifications on --target kubernetes: the local lab daemon "
            "evaluates the alerts and pages itself"
        )

    def reap(self) -> list[str]:
        raise BadInput(
            "reap reverts Kubernetes-level faults: use --target kubernetes (local faults expire inside "
            "their agents by themselves)"
        )
