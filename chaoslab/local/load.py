"""The local lab's load: Locust in the background until stopped (``chaoslab load start|status|stop``),
or for a set time (``verify``).

The running Locust is described in ``load.json`` in the lab's state directory
(pid, web UI, plan, reports), written before Locust is spawned and completed
once its web UI answers. Locust carries the lab's mark (chaoslab.local.registry),
so even a start killed half-way leaves nothing that ``load stop`` and
``chaoslab down`` cannot find.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from chaoslab import command
from chaoslab.backend import LoadProfile, TimedRun
from chaoslab.loadtest.runner import LoadError, LoadPlan, LocustRun, run_for, stop_locust
from chaoslab.local.client import LabClient
from chaoslab.local.ports import free_port
from chaoslab.local.registry import kill, mark, marked
from chaoslab.local.statedir import StateDir
from chaoslab.timefmt import duration
from chaoslab.topology import FRONT_DOOR

ROLE = "load"


def state_file(state: StateDir) -> Path:
    return state.root / "load.json"


def reports_dir(state: StateDir, label: str) -> Path:
    return state.root / "reports" / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"


def current(state: StateDir) -> dict | None:
    """The background load that runs, or None (a description whose Locust is gone is removed)."""
    try:
        info = json.loads(state_file(state).read_text())
    except (FileNotFoundError, ValueError):
        info = None
    running = marked(state, ROLE)
    if not running:
        state_file(state).unlink(missing_ok=True)
        return None
    if info is None or not info.get("pid"):  # spawned by a start that did not live to write its pid
        return _describe(running[0], info or {})
    return info


def _describe(locust, registered: dict) -> dict:
    """What can be known of a Locust that a start killed half-way left behind: its web UI and host
    from its command line (the start chose them before spawning it)."""
    try:
        args = locust.cmdline()
        web_url = f"http://127.0.0.1:{args[args.index('--web-port') + 1]}"
        host = args[args.index("--host") + 1]
    except (ValueError, IndexError, OSError):
        web_url, host = registered.get("web_url", ""), ""
    return {
        "pid": locust.pid,
        "web_url": web_url,
        "plan": {"host": host},
        "started_at": locust.create_time(),
        "started_by": "a start that was interrupted",
        "report_dir": registered.get("report_dir", ""),
    }


def start(state: StateDir, plan: LoadPlan, started_by: str) -> dict:
    if current(state) is not None:
        raise LoadError(
            f"load is already running; `{command('load status')}` shows it, `{command('load stop')}` stops it"
        )
    plan.report_dir = plan.report_dir or reports_dir(state, "load")
    state.logs.mkdir(parents=True, exist_ok=True)
    run = LocustRun(plan, free_port(), log_path=state.log("locust"), env=mark(state, ROLE))
    info = {
        "pid": None,
        "web_url": run.url,
        "plan": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()},
        "started_at": time.time(),
        "started_by": started_by,
        "report_dir": str(plan.report_dir),
    }
    state_file(state).write_text(json.dumps(info))  # before the spawn: nothing unregistered ever runs
    run.start()
    info["pid"] = run.process.pid
    state_file(state).write_text(json.dumps(info))
    return info


def attach(info: dict) -> LocustRun:
    """A handle on the running Locust (stats, reset) from its description."""
    if not info.get("web_url"):
        raise LoadError("the background load was started by a command that was interrupted; stop it and start again")
    return LocustRun(LoadPlan(host=info["plan"].get("host", "")), int(info["web_url"].rsplit(":", 1)[1]))


def stop(state: StateDir, grace_s: float = 15.0) -> dict | None:
    """Stop the background load, reports written; nothing of Locust is left running."""
    info = current(state)
    if info is not None and info.get("web_url"):
        stop_locust(info["pid"], info["web_url"], grace_s)
    kill(marked(state, ROLE))
    state_file(state).unlink(missing_ok=True)
    return info


class LocalLoad:
    """Locust as a background process of the lab (``load.json`` in the state directory), or for a set
    time: the local lab's chaoslab.backend.LoadDriver."""

    def __init__(self, state: StateDir):
        self.state = state

    def front_door(self) -> str:
        """service-a's URL in the running lab (asked when needed: stopping load needs no lab)."""
        return LabClient(self.state).url(FRONT_DOOR)

    def start(
        self, profile: LoadProfile, started_by: str, host: str | None = None, run_time_s: float | None = None
    ) -> str:
        info = start(
            self.state, LoadPlan(host=host or self.front_door(), profile=profile, run_time_s=run_time_s), started_by
        )
        return f"web UI {info['web_url']}, reports in {info['report_dir']} (written when it stops)"

    def stats(self) -> dict | None:
        info = current(self.state)
        return None if info is None else attach(info).stats()

    def stop(self) -> str | None:
        info = stop(self.state)
        if info is None:
            return None
        return f"load stopped after {duration(time.time() - info['started_at'])}; reports in {info['report_dir']}"

    def run(
        self, profile: LoadProfile, duration_s: float, label: str, on_progress: Callable[[float, dict], None]
    ) -> TimedRun:
        plan = LoadPlan(
            host=self.front_door(), profile=profile, run_time_s=duration_s, report_dir=reports_dir(self.state, label)
        )
        return run_for(plan, free_port(), self.state.log("verify-locust"), on_progress, env=mark(self.state, "verify"))

    def stats_source(self):
        info = current(self.state)
        if info is None:
            raise LoadError(f"no load is running; start it with `{command('load start')}`")
        return attach(info)
