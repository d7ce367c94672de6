"""Read-only looks at a team's namespace for checks (chaos/checks.py): metrics through the pod proxy,
readiness and restarts from pod status. Data checks need the database, which is not reachable from
here: they report n/a."""

from __future__ import annotations

from kubernetes import client

from chaoslab.chaos.checks import CheckError
from chaoslab.chaos.kubernetes.client import raw_request


class KubernetesProbe:
    sources = frozenset({"load", "metrics", "lab"})

    def __init__(self, api, namespace: str):
        self.api = api
        self.namespace = namespace
        self.core = client.CoreV1Api(api)

    def _pods(self, service: str):
        return self.core.list_namespaced_pod(self.namespace, label_selector=f"app.kubernetes.io/name={service}").items

    def scrape(self, service: str) -> str:
        texts = []
        for pod in self._pods(service):
            port = (pod.metadata.annotations or {}).get("prometheus.io/port")
            status, data = raw_request(
                self.api,
                "GET",
                f"/api/v1/namespaces/{self.namespace}/pods/{pod.metadata.name}:{port}/proxy/metrics",
                timeout_s=5,
            )
            if status != 200:
                raise CheckError(f"scraping {pod.metadata.name}: HTTP {status}")
            texts.append(data.decode())
        return "\n".join(texts)

    def ready(self, service: str) -> bool:
        pods = self._pods(service)
        return bool(pods) and all(
            any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or [])) for p in pods
        )

    def restarts(self, service: str) -> int:
        return sum(s.restart_count for p in self._pods(service) for s in (p.status.container_statuses or []))

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise CheckError("data checks need the team's database; run `chaoslab verify` against a local lab")
