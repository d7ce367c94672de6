"""Where the fault agents are: every instance of every service, with its admin URL and token.

The controller only sees ``Agents``: the local lab's (``chaoslab.local.agents``)
reads the running lab's ports; a namespace's (``chaos.kubernetes.agents``) finds
pods through the Kubernetes API and also performs the faults that only the
Kubernetes API can do (pod kill, scale to zero, NetworkPolicy partitions).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from chaoslab.chaos.faults import Fault


@dataclass(frozen=True)
class Instance:
    """One running copy of a service whose fault agent can be called."""

    service: str
    name: str
    """``local`` on the local lab, the pod's name on Kubernetes."""
    admin_url: str


class Agents(Protocol):
    token: str

    def instances(self, service: str) -> list[Instance]:
        """Every instance of ``service``; empty when none runs."""

    def everything(self) -> list[Instance]:
        """Every instance of every service."""

    def forget(self, instance: Instance, fault_id: str | None) -> None:
        """Make sure an instance that cannot be reached comes back without the fault (or any, if None)."""

    def call(self, instance: Instance, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        """One request to an agent's admin API: (HTTP status, body); status 0 when it cannot be reached."""

    def apply_kubernetes_fault(self, fault: Fault) -> list[str]:
        """Perform a fault the platform does rather than an agent; returns the objects it touched.
        Raises FaultSpecError where there is no such platform (the local lab)."""

    def revert_kubernetes_fault(self, fault_id: str) -> list[str]:
        """Undo one platform fault; returns the objects restored (none on the local lab)."""

    def extend_kubernetes_fault(self, fault_id: str, expires_at: float) -> list[str]:
        """Move one platform fault's expiry (what the reaper reads) later; returns the objects marked anew."""

    def revert_all_kubernetes_faults(self) -> list[str]:
        """Undo every platform fault; returns the objects restored."""


def http_call(url: str, method: str, body: bytes | None, headers: dict, timeout_s: float = 5.0) -> tuple[int, bytes]:
    """One HTTP request that never raises: (status, body), status 0 with the reason when unreachable."""
    request = urllib.request.Request(url, method=method, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(getattr(exc, "reason", exc)).encode()
