"""Every process a local lab starts is marked before it exists, so none can be orphaned.

The mark is two environment variables set in the child's environment at spawn
(``CHAOSLAB_LAB`` = the state directory, ``CHAOSLAB_ROLE`` = what it is): a
CLI killed between spawning Locust and writing down its pid, or a lab daemon
killed with its services running, still leaves processes that ``load stop`` and
``down`` find by their mark. Children inherit it (the daemon's services,
PostgreSQL's own workers).
"""

from __future__ import annotations

import psutil

from chaoslab.local.statedir import StateDir
from chaoslab.processes import running

LAB = "CHAOSLAB_LAB"
ROLE = "CHAOSLAB_ROLE"


def mark(state: StateDir, role: str) -> dict[str, str]:
    """The environment entries that make a process findable as ``role`` of the lab in ``state``."""
    return {LAB: str(state.root), ROLE: role}


def marked(state: StateDir, role: str | None = None) -> list[psutil.Process]:
    """Live processes marked as the lab's (as ``role``, when given), this process excepted."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == psutil.Process().pid:
            continue
        try:
            environ = proc.environ()
            if environ.get(LAB) != str(state.root) or (role is not None and environ.get(ROLE) != role):
                continue
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def kill(processes: list[psutil.Process], grace_s: float = 5.0) -> list[int]:
    """SIGTERM, a grace period, then SIGKILL; returns the pids that were running."""
    for proc in processes:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    for proc in running(processes, grace_s):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    running(processes, 15)  # SIGKILL is not instant on a busy machine
    return [proc.pid for proc in processes]
