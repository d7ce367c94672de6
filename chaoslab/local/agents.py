"""The fault agents of the local lab in a state directory: one instance per service, ports from lab.json.

A local agent outlives its process: the faults it saved come back when the process starts again, until
their TTL. So while the process is down (a crash loop keeps it down most of the time, the crash fault
itself the reason) the agent is its saved faults, and ``LocalAgents.call`` answers the fault list,
removal and reset from them instead of reporting an agent that cannot be reached: a crash-looping
service's fault is listed as active, and a reset counts it.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import psutil

from chaoslab.chaos.agent import SavedFaults, listed
from chaoslab.chaos.agents import Instance, http_call
from chaoslab.chaos.faults import FAULT_ID, TTL, Fault, FaultSpecError
from chaoslab.local.client import LabClient
from chaoslab.local.statedir import StateDir
from chaoslab.topology import SERVICE_NAMES

DOWN = "down"
"""``agent`` of a fault listed from the saved faults of an agent whose process is not running."""


class LocalAgents:
    def __init__(self, state: StateDir):
        info = LabClient(state).services()  # raises LabError when no lab runs there
        self.state = state
        self.token = state.token()
        self._instances = {
            name: [Instance(name, "local", f"http://127.0.0.1:{info['ports'][f'{name}.admin']}")]
            for name in SERVICE_NAMES
            if f"{name}.admin" in info["ports"]
        }

    def instances(self, service: str) -> list[Instance]:
        return list(self._instances.get(service, []))

    def everything(self) -> list[Instance]:
        return [i for name in SERVICE_NAMES for i in self._instances.get(name, [])]

    def forget(self, instance: Instance, fault_id: str | None) -> None:
        """Edit the agent's saved faults, which it reads when it next starts (a crash-looping service
        is rarely up long enough to be told)."""
        forget_saved_faults(self.state, instance.service, fault_id)

    def call(self, instance: Instance, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        """The agent's answer over HTTP; when its process is not running, the answer its saved faults
        give (``answer_while_down``) for the calls they can answer."""
        status, answer = http_call(instance.admin_url + path, method, body, headers)
        if status == 0:
            return answer_while_down(self.state, instance.service, method, path, body) or (status, answer)
        return status, answer

    def apply_kubernetes_fault(self, fault: Fault) -> list[str]:
        raise FaultSpecError(f"{fault.kind} is done by the Kubernetes API: use --target kubernetes")

    def revert_kubernetes_fault(self, fault_id: str) -> list[str]:
        return []

    def extend_kubernetes_fault(self, fault_id: str, expires_at: float) -> list[str]:
        return []

    def revert_all_kubernetes_faults(self) -> list[str]:
        return []


def answer_while_down(
    state: StateDir, service: str, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes] | None:
    """What ``service``'s agent answers, as its admin API would (chaos/agent_api.py), while its process is
    not running: ``GET /faults`` lists its saved faults (each marked ``agent: down``), ``DELETE
    /faults/ID`` and ``POST /faults/reset`` remove them so the process starts without them, ``PATCH
    /faults/ID`` extends one (``saved_extended``). None for any other call, and when the process runs
    (an agent that is up but does not answer is unreachable, not down: its faults are in its memory, out
    of reach). Decided under the saved faults' lock, which the agent takes to restore them, so a process
    starting meanwhile sees the edit."""
    route = urllib.parse.urlsplit(path).path
    saved = SavedFaults(state.agents, service)
    with saved.locked():
        if _running(state, service):
            return None
        active = saved.active()
        if method == "GET" and route == "/faults":
            now = time.time()
            return _ok({"service": service, "faults": [dict(listed(f, now), agent=DOWN) for f in active]})
        if method == "POST" and route == "/faults/reset":
            saved.drop()
            return _ok({"service": service, "removed": len(active), "deploys_removed": 0, "version_changed": False})
        fault_id = route.removeprefix("/faults/")
        if method == "PATCH" and route.startswith("/faults/") and FAULT_ID.fullmatch(fault_id) and body:
            return saved_extended(saved, active, fault_id, body)
        if method == "DELETE" and route.startswith("/faults/") and FAULT_ID.fullmatch(fault_id):
            if not any(f.id == fault_id for f in active):
                saved.drop(fault_id)  # an expired or unreadable record: gone either way, nothing removed
                return 404, json.dumps({"error": "not_found", "message": f"no active fault {fault_id}"}).encode()
            saved.drop(fault_id)
            return _ok({"removed": fault_id})
    return None


def saved_extended(saved: SavedFaults, active: list[Fault], fault_id: str, body: bytes) -> tuple[int, bytes] | None:
    """``PATCH /faults/ID`` answered from the saved faults as the agent would answer it: the record's
    ``ttl_s`` (from which the agent computes the expiry when it restores the fault) made longer. None for
    a body that is not the one field: the caller then hears that the agent is down."""
    try:
        payload = json.loads(body)
        ttl = float(TTL.parse(payload["ttl_s"], "ttl_s")) if set(payload) == {"ttl_s"} else None
    except (TypeError, KeyError, ValueError, FaultSpecError):
        return None
    fault = next((f for f in active if f.id == fault_id), None)
    if ttl is None or fault is None:
        return (
            None
            if ttl is None
            else (404, json.dumps({"error": "not_found", "message": f"no active fault {fault_id}"}).encode())
        )
    if ttl < fault.ttl_s:
        message = f"ttl_s={ttl:g}: {fault_id} has {fault.ttl_s:g} already; a fault is only extended"
        return 400, json.dumps({"error": "invalid_fault", "message": message}).encode()
    fault.ttl_s, fault.expires_at = ttl, fault.created_at + ttl
    saved.write([fault.to_dict() if isinstance(r, dict) and r.get("id") == fault_id else r for r in saved.records()])
    return _ok(dict(listed(fault, time.time()), agent=DOWN))


def _ok(document: dict) -> tuple[int, bytes]:
    return 200, json.dumps(document).encode()


def _running(state: StateDir, service: str) -> bool:
    """Whether ``service``'s process is alive, by the pid lab.json records for it (none while the
    supervisor waits to restart it)."""
    pid = ((state.read_info() or {}).get("pids") or {}).get(service)
    try:
        return bool(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def forget_saved_faults(state: StateDir, service: str, fault_id: str | None = None) -> int:
    """Drop one saved fault (or all) of ``service``'s agent, so it starts without them; returns how
    many were dropped. Works whether or not the lab runs."""
    saved = SavedFaults(state.agents, service)
    if not saved.path.exists():
        return 0  # nothing saved: no lock file to leave in a state directory that may hold no lab
    with saved.locked():
        return len(saved.drop(fault_id))
