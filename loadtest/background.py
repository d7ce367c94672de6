"""Load that runs in the background of a lab until stopped: ``chaoslab load start|status|stop``.

The running Locust is described in ``load.json`` in the lab's state directory
(pid, web UI, plan, reports), written before Locust is spawned and completed
once its web UI answers. Locust carries the lab's mark (chaoslab.local.registry),
so even a start killed half-way leaves nothing that ``load stop`` and
``chaoslab down`` cannot find.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from chaoslab import command
from chaoslab.loadtest.runner import LoadError, LoadPlan, LocustRun, stop_locust
from chaoslab.local.registry import kill, mark, marked
from chaoslab.local.statedir import StateDir

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
    run = LocustRun(plan, log_path=state.log("locust"), env=mark(state, ROLE))
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
    return LocustRun(LoadPlan(host=info["plan"].get("host", "")), web_port=int(info["web_url"].rsplit(":", 1)[1]))


def stop(state: StateDir, grace_s: float = 15.0) -> dict | None:
    """Stop the background load, reports written; nothing of Locust is left running."""
    info = current(state)
    if info is not None and info.get("web_url"):
        stop_locust(info["pid"], info["web_url"], grace_s)
    kill(marked(state, ROLE))
    state_file(state).unlink(missing_ok=True)
    return info
