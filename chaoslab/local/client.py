"""The CLI's side of a local lab: find it, ask its daemon, start it, stop it without leftovers."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

from chaoslab import PROG_ENV, command, invocation
from chaoslab.errors import Refused
from chaoslab.local.registry import kill, mark, marked
from chaoslab.local.statedir import StateDir


class LabError(Refused):
    """Something the user must act on; the message says what and how."""


def lock_is_held(state: StateDir) -> bool:
    if not state.lock.exists():
        return False
    with open(state.lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def lab_processes(state: StateDir) -> list[psutil.Process]:
    """Every live process of a lab: its daemon's process group, every recorded pid, and every process
    that carries the lab's mark (chaoslab.local.registry), whoever started it."""
    info = state.read_info() or {}
    found: dict[int, psutil.Process] = {proc.pid: proc for proc in marked(state)}
    pgid = info.get("pgid")
    if pgid:
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                    found[proc.pid] = proc
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
    for pid in [info.get("pid"), *info.get("pids", {}).values()]:
        if pid and pid not in found and _alive(pid):
            found[pid] = psutil.Process(pid)
    return list(found.values())


class LabClient:
    def __init__(self, state: StateDir):
        self.state = state

    def info(self) -> dict:
        """lab.json of the running lab; LabError when its daemon does not run."""
        info = self.state.read_info()
        if info is not None and lock_is_held(self.state):
            return info
        orphans = [pid for name, pid in (info or {}).get("pids", {}).items() if _alive(pid)]
        if orphans:
            raise LabError(
                f"the lab daemon of {self.state.root} is not running, but {len(orphans)} of its processes still "
                f"are: faults and reset still reach them; `{command('down')}` stops them all, then "
                f"`{command('up')}` starts a fresh lab"
            )
        raise LabError(
            f"no lab is running in {self.state.root}; start one with `{command('up')}` (or point "
            "--state-dir / CHAOSLAB_STATE_DIR at the directory where it runs)"
        )

    def services(self) -> dict:
        """lab.json of a lab whose services run, whether or not its daemon does (a daemon killed on
        its own leaves the services serving, faults and all); LabError when none runs."""
        info = self.state.read_info()
        if info is not None and (lock_is_held(self.state) or any(_alive(pid) for pid in info.get("pids", {}).values())):
            return info
        return self.info()

    def _request(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> dict:
        info = self.info()
        request = urllib.request.Request(
            info["api"] + path, method=method, data=json.dumps(body).encode() if body is not None else None
        )
        request.add_header("Authorization", f"Bearer {self.state.token()}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", exc.reason)
            except ValueError:
                message = exc.reason
            raise LabError(message) from None
        except (urllib.error.URLError, OSError) as exc:
            raise LabError(
                f"the lab daemon at {info['api']} does not answer ({exc}); `{command('down')}` cleans up a broken lab"
            ) from None

    def status(self) -> dict:
        return self._request("GET", "/api/status", timeout=5)

    def diagnosis(self, since_s: float) -> dict:
        """The daemon's diagnosis of the last ``since_s`` seconds (chaoslab/local/diagnosis.py)."""
        return self._request("GET", f"/api/diagnose?since={since_s:g}", timeout=60)

    def url(self, name: str, status: dict | None = None) -> str:
        """The URL of process ``name`` (a service's HTTP base URL, a datastore's connection URL)."""
        return url_of(status or self.status(), name)

    def traces(self, last: int, service: str | None = None, trace_id: str | None = None) -> list[list[dict]]:
        query = (
            f"?last={last}" + (f"&service={service}" if service else "") + (f"&trace_id={trace_id}" if trace_id else "")
        )
        return self._request("GET", "/api/traces" + query, timeout=10)["traces"]

    def config(self) -> dict[str, str]:
        """The settings the lab's processes were started with, by environment variable."""
        return self._request("GET", "/api/config", timeout=5)["variables"]

    def wait_ready(self, name: str, timeout_s: float) -> dict:
        """Poll until process ``name`` is ready; raises LabError with its state and reason otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            proc = next(p for p in self.status()["processes"] if p["name"] == name)
            if proc["state"] == "ready":
                return proc
            if proc["state"] in ("crash-loop", "stopped") or time.monotonic() > deadline:
                raise LabError(
                    f"{name} is {proc['state']} ({proc['reason']}) after {timeout_s:g}s; "
                    f"its log: {self.state.log(name)}"
                    if proc["state"] != "crash-loop"
                    else f"{name} keeps crashing ({proc['reason']}); its log: {self.state.log(name)}"
                )
            time.sleep(0.2)

    def alerts(self, since: int | None = None) -> dict:
        """The daemon's alert state (chaoslab/alerts/api.py); with ``since``, also the transitions after it."""
        return self._request("GET", "/api/alerts" + (f"?since={since}" if since is not None else ""), timeout=10)

    def control(self, name: str, action: str) -> dict:
        return self._request("POST", f"/api/processes/{name}/{action}", body={}, timeout=60)


def url_of(status: dict, name: str) -> str:
    """Process ``name``'s URL in a status document (``chaoslab status --json``)."""
    for proc in status["processes"]:
        if proc["name"] == name:
            return proc["url"]
    raise LabError(f"the lab has no process {name!r}")


def start_daemon(state: StateDir) -> subprocess.Popen:
    """Launch the daemon in its own session, so the lab outlives the shell and dies as one group. It
    gets the hints' prefix of the command that starts it, so the hints it shows (the console's) name
    the same program and the same lab."""
    if lock_is_held(state):
        info = state.read_info() or {}
        raise LabError(
            f"a lab is already running in {state.root} (daemon pid {info.get('pid', '?')}); "
            f"`{command('status')}` shows it, `{command('down')}` stops it"
        )
    leftovers = lab_processes(state)
    if leftovers:
        raise LabError(
            f"processes of an earlier lab are still running (pids "
            f"{', '.join(str(p.pid) for p in leftovers)}); run `{command('down')}` first"
        )
    state.ensure()
    for old in state.logs.glob("*.log"):
        old.unlink()
    out = open(state.log("labd"), "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "chaoslab.local.daemon", "--state-dir", str(state.root)],
        env={**os.environ, PROG_ENV: invocation(), **mark(state, "labd")},
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )


def wait_until_ready(
    state: StateDir, daemon: subprocess.Popen, timeout_s: float, on_progress: Callable[[dict], None]
) -> dict:
    """Poll the daemon until every process is ready; raises LabError naming the one that is not."""
    client = LabClient(state)
    deadline = time.monotonic() + timeout_s
    status: dict = {}
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise LabError(f"the lab daemon exited with code {daemon.returncode}:\n" + tail(state.log("labd"), 15))
        info = state.read_info()
        if info and info.get("pid") == daemon.pid:
            try:
                status = client.status()
            except LabError:
                status = {}
            if status:
                on_progress(status)
                processes = status["processes"]
                looping = [p for p in processes if p["state"] == "crash-loop"]
                if looping:
                    p = looping[0]
                    raise LabError(
                        f"{p['name']} keeps crashing ({p['reason']}); its log ends with:\n"
                        + tail(state.log(p["name"]), 15)
                    )
                if status["lab"]["migrations"].startswith("failed"):
                    raise LabError(f"database migrations {status['lab']['migrations']}")
                if all(p["state"] == "ready" for p in processes):
                    return status
        time.sleep(0.2)
    waiting = [
        f"{p['name']} ({p['state']}: {p['reason']})" for p in status.get("processes", []) if p["state"] != "ready"
    ]
    raise LabError(
        f"the lab was not ready within {timeout_s:g}s; still waiting for: "
        f"{', '.join(waiting) or 'the lab daemon'}. Logs: {state.logs}"
    )


def stop_lab(state: StateDir, say: Callable[[str], None] = print, grace_s: float = 30) -> list[int]:
    """Stop the daemon and everything it started; returns pids that had to be killed.

    Works on a healthy lab, a lab whose daemon crashed, and a lab already stopped.
    """
    info = state.read_info() or {}
    daemon_pid = info.get("pid")
    if daemon_pid and _alive(daemon_pid):
        say(f"stopping the lab (daemon pid {daemon_pid}) …")
        os.kill(daemon_pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _alive(daemon_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    killed = kill(lab_processes(state), grace_s=2)
    state.info.unlink(missing_ok=True)
    if state.lock.exists() and not lock_is_held(state):
        state.lock.unlink(missing_ok=True)
    return killed


def tail(path: Path, lines: int) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join("    " + line for line in content[-lines:])
