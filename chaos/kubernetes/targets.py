"""The agents of one namespace, found through the Kubernetes API and reached through its pod proxy.

Going through the API server (``/api/v1/namespaces/NS/pods/POD:PORT/proxy/...``)
means the laptop needs no port-forward, and RBAC decides who may touch which
namespace: a team's credentials open its own pods' proxy and nothing else.
Who may touch which namespace is decided twice: by RBAC at the API server, and by
``identity.authorize`` here (only labelled team namespaces; a team only its own).
"""

from __future__ import annotations

import base64
import json
import time

from chaoslab.chaos.faults import Fault
from chaoslab.chaos.kubernetes import actions
from chaoslab.chaos.kubernetes.client import KubernetesError, api_client, explain, raw_request
from chaoslab.chaos.kubernetes.identity import authorize, whoami
from chaoslab.chaos.targets import Target
from chaoslab.topology import SERVICE_NAMES

AGENT_SELECTOR = "chaoslab.io/agent=true"


class KubernetesTargets:
    def __init__(self, namespace: str, context: str | None = None, api=None):
        import urllib3
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        self.namespace = namespace
        self.api = api or api_client(context)
        self.core = client.CoreV1Api(self.api)
        self.identity = whoami(self.api)
        try:
            labels = self.core.read_namespace(namespace).metadata.labels or {}
        except ApiException as exc:
            raise explain(exc, f"{self.identity.username} reading namespace {namespace}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, TLS, timeouts: no API server
            raise explain(exc, f"reading namespace {namespace}") from None
        self.team = authorize(self.identity, namespace, labels)
        self.token = self._token()
        self._targets = self._discover()

    def _token(self) -> str:
        from kubernetes.client.exceptions import ApiException

        try:
            secret = self.core.read_namespaced_secret("chaoslab-agent", self.namespace)
        except ApiException as exc:
            raise explain(exc, f"reading the agents' token (secret chaoslab-agent in {self.namespace})") from None
        return base64.b64decode(secret.data["token"]).decode()

    def _discover(self) -> dict[str, list[Target]]:
        from kubernetes.client.exceptions import ApiException

        try:
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=AGENT_SELECTOR).items
        except ApiException as exc:
            raise explain(exc, f"listing pods in {self.namespace}") from None
        found: dict[str, list[Target]] = {}
        for pod in pods:
            service = (pod.metadata.labels or {}).get("app.kubernetes.io/name")
            port = (pod.metadata.annotations or {}).get("chaoslab.io/admin-port")
            if service not in SERVICE_NAMES or not port or pod.metadata.deletion_timestamp:
                continue
            found.setdefault(service, []).append(
                Target(
                    service,
                    pod.metadata.name,
                    f"/api/v1/namespaces/{self.namespace}/pods/{pod.metadata.name}:{port}/proxy",
                )
            )
        return found

    def instances(self, service: str) -> list[Target]:
        return list(self._targets.get(service, []))

    def everything(self) -> list[Target]:
        return [t for name in SERVICE_NAMES for t in self._targets.get(name, [])]

    def call(self, target: Target, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        """Through the API server's pod proxy; the agent's token rides in X-Chaoslab-Token (the API
        server keeps the Authorization header for itself). When the answer is the API server's own
        (a Kubernetes Status: the pod has no address, the proxy failed, RBAC said no) rather than the
        agent's, the agent was not reached: status 0, with the API server's words."""
        forwarded = {k: v for k, v in headers.items() if k != "Authorization"}
        try:
            status, data = raw_request(
                self.api, method, target.admin_url + path, headers=forwarded, body=json.loads(body) if body else None
            )
        except KubernetesError as exc:
            return 0, str(exc).encode()
        message = _api_status_message(data)
        if message is not None:
            return 0, f"the API server answered {status}: {message}".encode()
        return status, data

    def forget(self, target: Target, fault_id: str | None) -> None:
        """An agent that cannot be told (a crash loop): delete its pod; the new pod starts clean."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespaced_pod(target.instance, self.namespace, grace_period_seconds=0)
        except ApiException:
            pass

    # ---- faults the Kubernetes API does itself --------------------------------------------------
    def apply_cluster_fault(self, fault: Fault) -> list[str]:
        """Apply a kubernetes_only fault; returns the objects it touched."""
        return actions.apply(self.api, self.namespace, fault)

    def revert_cluster_fault(self, fault_id: str) -> list[str]:
        return actions.revert(self.api, self.namespace, fault_id=fault_id)

    def revert_all_cluster_faults(self) -> list[str]:
        return actions.revert(self.api, self.namespace)

    def reap(self, now: float | None = None) -> list[str]:
        return actions.revert(self.api, self.namespace, expired_before=time.time() if now is None else now)


def _api_status_message(data: bytes) -> str | None:
    """The message of a Kubernetes Status document (the API server speaking), else None."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("kind") == "Status":
        return document.get("message") or document.get("reason") or "no message"
    return None
