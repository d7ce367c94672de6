"""Load that runs in the background of a lab until stopped: ``chaoslab load start|status|stop``.

The running Locust is described in ``load.json`` in the lab's state
directory (pid, web UI, plan, reports); ``chaoslab down`` stops it with the lab.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import psutil

from chaoslab.loadtest.runner import LoadError, LoadPlan, LocustRun, stop_locust


def state_file(state) -> Path:
    return state.root / "load.json"


def reports_dir(state, label: str) -> Path:
    return state.root / "reports" / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"


def current(state) -> dict | None:
    """The running background load, or None (a stale file from a dead Locust is removed)."""
    try:
        info = json.loads(state_file(state).read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        if psutil.Process(info["pid"]).status() != psutil.STATUS_ZOMBIE:
            return info
    except psutil.NoSuchProcess:
        pass
    state_file(state).unlink(missing_ok=True)
    return None


def start(state, plan: LoadPlan, started_by: str) -> dict:
    if current(state) is not None:
        raise LoadError("load is already running; `chaoslab load status` shows it, `chaoslab load stop` stops it")
    plan.report_dir = plan.report_dir or reports_dir(state, "load")
    state.logs.mkdir(parents=True, exist_ok=True)
    run = LocustRun(plan, log_path=state.log("locust")).start()
    info = {
        "pid": run.process.pid,
        "web_url": run.url,
        "plan": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()},
        "started_at": time.time(),
        "started_by": started_by,
        "report_dir": str(plan.report_dir),
    }
    state_file(state).write_text(json.dumps(info))
    return info


def attach(info: dict) -> LocustRun:
    """A handle on the running Locust (stats, reset) from its description."""
    run = LocustRun(LoadPlan(host=info["plan"]["host"]))
    run.web_port = int(info["web_url"].rsplit(":", 1)[1])
    return run


def stop(state, grace_s: float = 15.0) -> dict | None:
    """Stop the background load, reports written; nothing of Locust is left running."""
    info = current(state)
    if info is None:
        state_file(state).unlink(missing_ok=True)
        return None
    stop_locust(info["pid"], info["web_url"], grace_s)
    state_file(state).unlink(missing_ok=True)
    return info
