"""The fault agents of the local lab in a state directory: one instance per service, ports from lab.json."""

from __future__ import annotations

import json

from chaoslab.chaos.agent import saved_faults
from chaoslab.chaos.agents import Instance, http_call
from chaoslab.chaos.faults import Fault, FaultSpecError
from chaoslab.local.client import LabClient
from chaoslab.local.statedir import StateDir
from chaoslab.topology import SERVICE_NAMES


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
        return http_call(instance.admin_url + path, method, body, headers)

    def apply_cluster_fault(self, fault: Fault) -> list[str]:
        raise FaultSpecError(f"{fault.kind} is done by the Kubernetes API: use --target kubernetes")

    def revert_cluster_fault(self, fault_id: str) -> list[str]:
        return []

    def revert_all_cluster_faults(self) -> list[str]:
        return []


def forget_saved_faults(state: StateDir, service: str, fault_id: str | None = None) -> int:
    """Drop one saved fault (or all) of ``service``'s agent, so it starts without them; returns how
    many were dropped. Works whether or not the lab runs."""
    path = saved_faults(state.agents, service)
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return 0
    kept = [] if fault_id is None else [f for f in saved if isinstance(f, dict) and f.get("id") != fault_id]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(kept))
    tmp.replace(path)
    return len(saved) - len(kept)
