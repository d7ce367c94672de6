"""The controller's side of the agents' admin API."""

from __future__ import annotations

import json

from chaoslab.chaos.targets import Target, Targets


class AgentError(RuntimeError):
    """An agent refused or could not be reached; ``status`` is the HTTP status (0 when unreachable)."""

    def __init__(self, target: Target, status: int, message: str):
        super().__init__(f"{target.service} ({target.instance}): {message}")
        self.target = target
        self.status = status
        self.message = message


class AgentClient:
    """Speaks to agents through their targets' transport (direct HTTP locally, the API server's pod
    proxy on Kubernetes), with the token and the actor on every call."""

    def __init__(self, targets: Targets, actor: str):
        self.targets = targets
        self.actor = actor

    def call(self, target: Target, method: str, path: str, body: dict | None = None) -> dict:
        headers = {
            "Authorization": f"Bearer {self.targets.token}",
            "X-Chaoslab-Token": self.targets.token,
            "Content-Type": "application/json",
            "X-Chaoslab-Actor": self.actor,
        }
        status, raw = self.targets.call(
            target, method, path, json.dumps(body).encode() if body is not None else None, headers
        )
        if status == 0:
            raise AgentError(target, 0, f"agent unreachable at {target.admin_url} ({raw.decode(errors='replace')})")
        try:
            document = json.loads(raw or b"{}")
        except ValueError:
            document = {"message": raw.decode(errors="replace")[:200]}
        if not 200 <= status < 300:
            raise AgentError(target, status, document.get("message", f"HTTP {status}"))
        return document

    def add(self, target: Target, fault: dict) -> dict:
        return self.call(target, "POST", "/faults", fault)

    def remove(self, target: Target, fault_id: str, reason: str) -> bool:
        try:
            self.call(target, "DELETE", f"/faults/{fault_id}?reason={reason}")
            return True
        except AgentError as exc:
            if exc.status == 404:
                return False
            raise

    def faults(self, target: Target) -> list[dict]:
        return self.call(target, "GET", "/faults")["faults"]

    def reset(self, target: Target, reason: str = "reset") -> dict:
        return self.call(target, "POST", f"/faults/reset?reason={reason}")

    def records(self, target: Target) -> list[dict]:
        """The agent's own record of what happened to it (``GET /records``)."""
        return self.call(target, "GET", "/records")["records"]

    def flags(self, target: Target) -> dict:
        return self.call(target, "GET", "/flags")

    def deploy(self, target: Target, changes: dict, note: str) -> dict:
        return self.call(target, "POST", "/deploys", {"changes": changes, "note": note})
