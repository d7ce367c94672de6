"""The team's in-cluster Locust, driven through the API server's service proxy (its web UI's API)."""
from __future__ import annotations

import json

from chaoslab.chaos.kubernetes.client import explain

LOCUST = "locust:web"


def _call(api, namespace: str, method: str, path: str, form: dict | None = None) -> dict:
    from kubernetes.client.exceptions import ApiException

    try:
        response = api.call_api(f"/api/v1/namespaces/{namespace}/services/{LOCUST}/proxy{path}", method,
                                post_params=list((form or {}).items()) or None,
                                header_params={"Content-Type": "application/x-www-form-urlencoded"} if form else {},
                                auth_settings=["BearerToken"], _preload_content=False,
                                _return_http_data_only=True, _request_timeout=10)
    except ApiException as exc:
        raise explain(exc, f"talking to Locust in {namespace}") from None
    try:
        return json.loads(response.data or b"{}")
    except ValueError:
        return {}


def swarm(api, namespace: str, users: int, spawn_rate: float, think_time_s: float, journey: str) -> dict:
    return _call(api, namespace, "POST", "/swarm", {"user_count": users, "spawn_rate": spawn_rate,
                                                    "host": "http://service-a:8080", "think_time": think_time_s,
                                                    "journey": journey})


def stop(api, namespace: str) -> dict:
    return _call(api, namespace, "POST", "/stop")


def stats(api, namespace: str) -> dict:
    return _call(api, namespace, "GET", "/stats/requests")
