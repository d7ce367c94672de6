"""The team's in-cluster Locust, driven through the API server's service proxy (its web UI's API)."""

from __future__ import annotations

import json

from chaoslab.backend import LoadProfile
from chaoslab.chaos.kubernetes.client import KubernetesError, raw_request
from chaoslab.topology import FRONT_DOOR, component

LOCUST = "locust:web"


def _call(api, namespace: str, method: str, path: str, form: dict | None = None) -> dict:
    status, data = raw_request(api, method, f"/api/v1/namespaces/{namespace}/services/{LOCUST}/proxy{path}", form=form)
    if not 200 <= status < 300:
        raise KubernetesError(f"talking to Locust in {namespace}: HTTP {status} ({_message(data)})")
    try:
        return json.loads(data or b"{}")
    except ValueError:
        return {}


def _message(data: bytes) -> str:
    try:
        return json.loads(data).get("message", "") or data.decode(errors="replace")[:200]
    except ValueError:
        return data.decode(errors="replace")[:200]


def swarm(api, namespace: str, profile: LoadProfile, host: str | None = None, run_time_s: float | None = None) -> dict:
    """Start the namespace's Locust with ``profile`` against ``host`` (service-a by default), until
    stopped or for ``run_time_s``."""
    form = {
        "user_count": profile.users,
        "spawn_rate": profile.spawn_rate,
        "host": host or f"http://{FRONT_DOOR}:{component(FRONT_DOOR).http_port}",
        "think_time": profile.think_time_s,
        "journey": profile.journey,
        "retries": profile.retries,
    }
    if run_time_s:
        form["run_time"] = f"{max(1, int(run_time_s))}s"
    return _call(api, namespace, "POST", "/swarm", form)


def reset(api, namespace: str) -> dict:
    """Zero Locust's statistics (a measurement window starts now)."""
    return _call(api, namespace, "POST", "/stats/reset")


def stop(api, namespace: str) -> dict:
    return _call(api, namespace, "POST", "/stop")


def stats(api, namespace: str) -> dict:
    return _call(api, namespace, "GET", "/stats/requests")


class KubernetesLoadStats:
    """The team's in-cluster Locust as a load source for checks."""

    def __init__(self, api, namespace: str):
        self.api = api
        self.namespace = namespace

    def reset(self) -> None:
        reset(self.api, self.namespace)

    def stats(self) -> dict:
        return stats(self.api, self.namespace)
