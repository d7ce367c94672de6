"""The controller's side of the agents' admin API."""

from __future__ import annotations

import json

from chaoslab.chaos.agents import Agents, Instance
from chaoslab.errors import Refused


class AgentError(Refused):
    """An agent refused or could not be reached; ``status`` is the HTTP status (0 when unreachable)."""

    def __init__(self, instance: Instance, status: int, message: str):
        super().__init__(f"{instance.service} ({instance.name}): {message}")
        self.instance = instance
        self.status = status
        self.message = message


class AgentClient:
    """Speaks to agents through their transport (direct HTTP locally, the API server's pod
    proxy on Kubernetes), with the token and the actor on every call."""

    def __init__(self, agents: Agents, actor: str):
        self.agents = agents
        self.actor = actor

    def call(self, instance: Instance, method: str, path: str, body: dict | None = None) -> dict:
        headers = {
            "Authorization": f"Bearer {self.agents.token}",
            "X-Chaoslab-Token": self.agents.token,
            "Content-Type": "application/json",
            "X-Chaoslab-Actor": self.actor,
        }
        status, raw = self.agents.call(
            instance, method, path, json.dumps(body).encode() if body is not None else None, headers
        )
        if status == 0:
            raise AgentError(instance, 0, f"agent unreachable at {instance.admin_url} ({raw.decode(errors='replace')})")
        try:
            document = json.loads(raw or b"{}")
        except ValueError:
            document = {"message": raw.decode(errors="replace")[:200]}
        if not 200 <= status < 300:
            raise AgentError(instance, status, document.get("message", f"HTTP {status}"))
        return document

    def add(self, instance: Instance, fault: dict) -> dict:
        return self.call(instance, "POST", "/faults", fault)

    def remove(self, instance: Instance, fault_id: str, reason: str) -> bool:
        try:
            self.call(instance, "DELETE", f"/faults/{fault_id}?reason={reason}")
            return True
        except AgentError as exc:
            if exc.status == 404:
                return False
            raise

    def extend(self, instance: Instance, fault_id: str, ttl_s: float) -> bool:
        """Give a fault ``ttl_s`` from its creation on one instance; False where it is not active."""
        try:
            self.call(instance, "PATCH", f"/faults/{fault_id}", {"ttl_s": ttl_s})
            return True
        except AgentError as exc:
            if exc.status == 404:
                return False
            raise

    def faults(self, instance: Instance) -> list[dict]:
        return self.call(instance, "GET", "/faults")["faults"]

    def reset(self, instance: Instance, reason: str = "reset") -> dict:
        return self.call(instance, "POST", f"/faults/reset?reason={reason}")

    def records(self, instance: Instance) -> list[dict]:
        """The agent's own record of what happened to it (``GET /records``)."""
        return self.call(instance, "GET", "/records")["records"]

    def flags(self, instance: Instance) -> dict:
        return self.call(instance, "GET", "/flags")

    def deploy(self, instance: Instance, changes: dict, note: str) -> dict:
        return self.call(instance, "POST", "/deploys", {"changes": changes, "note": note})
