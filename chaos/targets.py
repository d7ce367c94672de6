"""Where the fault agents are: every instance of every service, with its admin URL and token.

``LocalTargets`` reads the running local lab; the Kubernetes backend finds
pods through the Kubernetes API. The controller only sees ``Target``s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chaoslab.topology import SERVICE_NAMES


@dataclass(frozen=True)
class Target:
    service: str
    instance: str
    admin_url: str


class Targets(Protocol):
    token: str

    def instances(self, service: str) -> list[Target]:
        """Every instance of ``service``; empty when none runs."""

    def everything(self) -> list[Target]:
        """Every instance of every service."""

    def forget(self, target: Target, fault_id: str | None) -> None:
        """Make sure an instance that cannot be reached comes back without the fault (or any, if None)."""

    def call(self, target: Target, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        """One request to an agent's admin API: (HTTP status, body); status 0 when it cannot be reached."""


def http_call(url: str, method: str, body: bytes | None, headers: dict, timeout_s: float = 5.0) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(getattr(exc, "reason", exc)).encode()


class LocalTargets:
    """The agents of the local lab in a state directory (ports from its lab.json)."""

    def __init__(self, state):
        from chaoslab.local.client import LabClient

        info = LabClient(state).info()  # raises LabError when no lab runs there
        self.state = state
        self.token = state.token()
        self._targets = {
            name: [Target(name, "local", f"http://127.0.0.1:{info['ports'][f'{name}.admin']}")]
            for name in SERVICE_NAMES
            if f"{name}.admin" in info["ports"]
        }

    def instances(self, service: str) -> list[Target]:
        return list(self._targets.get(service, []))

    def everything(self) -> list[Target]:
        return [t for name in SERVICE_NAMES for t in self._targets.get(name, [])]

    def forget(self, target: Target, fault_id: str | None) -> None:
        """Edit the agent's saved faults, which it reads when it next starts (a crash-looping service
        is rarely up long enough to be told)."""
        import json

        path = self.state.agents / f"{target.service}.faults.json"
        try:
            saved = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return
        kept = [] if fault_id is None else [f for f in saved if f.get("id") != fault_id]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(kept))
        tmp.replace(path)

    def call(self, target: Target, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        return http_call(target.admin_url + path, method, body, headers)
