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

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaoslab.chaos.agents import Instance
from chaoslab.chaos.faults import Fault
from chaoslab.chaos.kubernetes import actions
from chaoslab.chaos.kubernetes.client import KubernetesError, api_client, explain, raw_request
from chaoslab.chaos.kubernetes.identity import authorize_namespace
from chaoslab.settings import Common, env_name
from chaoslab.topology import SERVICE_NAMES

AGENT_SELECTOR = "chaoslab.io/agent=true"


class KubernetesAgents:
    def __init__(self, namespace: str, context: str | None = None, api=None):
        self.namespace = namespace
        self.api = api or api_client(context)
        self.core = client.CoreV1Api(self.api)
        self.identity, self.team = authorize_namespace(self.api, namespace)
        pods = self._pods()
        self.token = self._token(pods)
        self._instances = self._discover(pods)

    def _pods(self) -> list:
        try:
            return self.core.list_namespaced_pod(self.namespace, label_selector=AGENT_SELECTOR).items
        except ApiException as exc:
            raise explain(exc, f"listing pods in {self.namespace}") from None

    def _token(self, pods: list) -> str:
        """The agents' token, from the Secret the pods themselves read it from (the chart's own, or the
        one named by agent.existingSecret)."""
        name, key = token_secret(pods)
        try:
            secret = self.core.read_namespaced_secret(name, self.namespace)
        except ApiException as exc:
            raise explain(exc, f"reading the agents' token (secret {name} in {self.namespace})") from None
        if key not in (secret.data or {}):
            raise KubernetesError(f"secret {name} in {self.namespace} has no key {key!r} (the agents' token)")
        return base64.b64decode(secret.data[key]).decode()

    def _discover(self, pods: list) -> dict[str, list[Instance]]:
        found: dict[str, list[Instance]] = {}
        for pod in pods:
            service = (pod.metadata.labels or {}).get("app.kubernetes.io/name")
            port = (pod.metadata.annotations or {}).get("chaoslab.io/admin-port")
            if service not in SERVICE_NAMES or not port or pod.metadata.deletion_timestamp:
                continue
            found.setdefault(service, []).append(
                Instance(
                    service,
                    pod.metadata.name,
                    f"/api/v1/namespaces/{self.namespace}/pods/{pod.metadata.name}:{port}/proxy",
                )
            )
        return found

    def instances(self, service: str) -> list[Instance]:
        return list(self._instances.get(service, []))

    def everything(self) -> list[Instance]:
        return [i for name in SERVICE_NAMES for i in self._instances.get(name, [])]

    def call(self, instance: Instance, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        """Through the API server's pod proxy; the agent's token rides in X-Chaoslab-Token (the API
        server keeps the Authorization header for itself). When the answer is the API server's own
        (a Kubernetes Status: the pod has no address, the proxy failed, RBAC said no) rather than the
        agent's, the agent was not reached: status 0, with the API server's words."""
        forwarded = {k: v for k, v in headers.items() if k != "Authorization"}
        try:
            status, data = raw_request(
                self.api, method, instance.admin_url + path, headers=forwarded, body=json.loads(body) if body else None
            )
        except KubernetesError as exc:
            return 0, str(exc).encode()
        message = _api_status_message(data)
        if message is not None:
            return 0, f"the API server answered {status}: {message}".encode()
        return status, data

    def forget(self, instance: Instance, fault_id: str | None) -> None:
        """An agent that cannot be told (a crash loop): delete its pod; the new pod starts clean."""
        try:
            self.core.delete_namespaced_pod(instance.name, self.namespace, grace_period_seconds=0)
        except ApiException:
            pass

    # ---- faults the Kubernetes API does itself --------------------------------------------------
    def apply_kubernetes_fault(self, fault: Fault) -> list[str]:
        """Apply a kubernetes_only fault; returns the objects it touched."""
        return actions.apply(self.api, self.namespace, fault)

    def revert_kubernetes_fault(self, fault_id: str) -> list[str]:
        return actions.revert(self.api, self.namespace, fault_id=fault_id)

    def extend_kubernetes_fault(self, fault_id: str, expires_at: float) -> list[str]:
        return actions.extend(self.api, self.namespace, fault_id, expires_at)

    def revert_all_kubernetes_faults(self) -> list[str]:
        return actions.revert(self.api, self.namespace)


def _api_status_message(data: bytes) -> str | None:
    """The message of a Kubernetes Status document (the API server speaking), else None."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("kind") == "Status":
        return document.get("message") or document.get("reason") or "no message"
    return None


def token_secret(pods: list) -> tuple[str, str]:
    """(secret name, key) that the agents' CHAOSLAB_AGENT_TOKEN comes from, read off a pod's spec;
    the chart's default when no agent pod runs yet."""
    variable = env_name(Common, "agent_token")
    for pod in pods:
        for container in pod.spec.containers or []:
            for env in container.env or []:
                ref = env.value_from.secret_key_ref if env.name == variable and env.value_from else None
                if ref is not None:
                    return ref.name, ref.key
    return "chaoslab-agent", "token"
