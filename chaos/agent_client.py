"""The controller's side of the agents' admin API."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from chaoslab.chaos.targets import Target


class AgentError(RuntimeError):
    """An agent refused or could not be reached; ``status`` is the HTTP status (0 when unreachable)."""

    def __init__(self, target: Target, status: int, message: str):
        super().__init__(f"{target.service} ({target.instance}): {message}")
        self.target = target
        self.status = status
        self.message = message


class AgentClient:
    def __init__(self, token: str, actor: str, timeout_s: float = 5.0):
        self.token = token
        self.actor = actor
        self.timeout_s = timeout_s

    def call(self, target: Target, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(target.admin_url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        request.add_header("X-Chaoslab-Actor", self.actor)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", exc.reason)
            except ValueError:
                message = str(exc.reason)
            raise AgentError(target, exc.code, message) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AgentError(target, 0, f"agent unreachable at {target.admin_url} ({reason})") from None

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

    def flags(self, target: Target) -> dict:
        return self.call(target, "GET", "/flags")

    def deploy(self, target: Target, changes: dict, note: str) -> dict:
        return self.call(target, "POST", "/deploys", {"changes": changes, "note": note})
