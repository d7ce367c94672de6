"""Drill runs written into a journal store as the controller writes them, for tests that read grades
back without a lab: the board's drill journal, the audit log and the scenario note."""

from __future__ import annotations

import json

from chaoslab.chaos.drill import DrillJournal, new_run_id
from chaoslab.chaos.journal import AUDIT, SCENARIO, AuditLog
from chaoslab.chaos.scenarios import get


def play(store, scenario_id: str, started_at: float, ttl_s: float, mystery: bool = False) -> str:
    """What ``Controller.start`` writes for a run of ``scenario_id``: one fault per catalogue fault,
    started a second in. Returns the run's id."""
    run = new_run_id()
    audit = AuditLog(store, AUDIT)
    ids = []
    for n, spec in enumerate(get(scenario_id).faults):
        fault_id = f"f-{run}-{n}"
        ids.append(fault_id)
        audit.append("fault.started", ts=started_at + 1, fault_id=fault_id, expires_at=started_at + ttl_s, **spec)
    audit.append("scenario.started", ts=started_at + 1, scenario=scenario_id, run=run, fault_ids=ids, mystery=mystery)
    DrillJournal(store).started(run, started_at, started_at + ttl_s, mystery, None)
    note = {"id": scenario_id, "run": run, "started_at": started_at, "expires_at": started_at + ttl_s}
    store.write(SCENARIO, json.dumps(note | {"mystery": mystery, "fault_ids": ids}))
    return run


def stop(store, run: str, scenario_id: str) -> None:
    """What ``Controller.stop`` writes once the faults are gone."""
    AuditLog(store, AUDIT).append("scenario.stopped", scenario=scenario_id, run=run, reason="stop")
    DrillJournal(store).ended(run, "stop")
    store.delete(SCENARIO)
