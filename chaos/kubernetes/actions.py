"""Faults the Kubernetes API performs: pod kill, scale to zero, a NetworkPolicy partition, a memory
limit squeezed until the kernel OOM-kills the container.

Each change that lasts carries its own undo: annotations (or labels, on the
NetworkPolicy) hold the fault id, its expiry and what to restore. So ``revert``
needs nothing but the cluster itself: the controller uses it on stop and reset,
and the reaper CronJob uses it when a TTL has passed; ``extend`` moves the expiry.
"""

from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaoslab.chaos.faults import Fault
from chaoslab.chaos.kubernetes.client import KubernetesError, explain

FAULT = "chaoslab.io/fault-id"
EXPIRES = "chaoslab.io/expires-at"
RESTORE = "chaoslab.io/restore"
SELECTOR = "app.kubernetes.io/name"
NAMESPACE_NAME = "kubernetes.io/metadata.name"  # the label Kubernetes puts on every namespace


def apply(api, namespace: str, fault: Fault) -> list[str]:
    """Raises KubernetesError (one line) when the API refuses."""
    apps, core, net = client.AppsV1Api(api), client.CoreV1Api(api), client.NetworkingV1Api(api)
    marks = {FAULT: fault.id, EXPIRES: f"{fault.expires_at:.0f}"}
    try:
        if fault.kind == "pod_kill":
            pods = core.list_namespaced_pod(namespace, label_selector=f"{SELECTOR}={fault.service}").items
            running = [p for p in pods if not p.metadata.deletion_timestamp][: fault.params["count"]]
            if not running:
                raise KubernetesError(f"no pod of {fault.service} to kill in {namespace}")
            for pod in running:
                core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
            return [f"pod/{p.metadata.name}" for p in running]
        if fault.kind == "scale_to_zero":
            deployment = apps.read_namespaced_deployment(fault.service, namespace)
            restore = json.dumps({"replicas": deployment.spec.replicas})
            apps.patch_namespaced_deployment(
                fault.service,
                namespace,
                {"metadata": {"annotations": {**marks, RESTORE: restore}}, "spec": {"replicas": 0}},
            )
            return [f"deployment/{fault.service}"]
        if fault.kind == "oom_kill":
            deployment = apps.read_namespaced_deployment(fault.service, namespace)
            container = deployment.spec.template.spec.containers[0]
            saved = {"container": container.name, "resources": api.sanitize_for_serialization(container.resources)}
            limits = {**(container.resources.limits or {}), "memory": f"{fault.params['limit_mi']}Mi"}
            requests = {**(container.resources.requests or {}), "memory": f"{fault.params['limit_mi']}Mi"}
            spec: dict = {
                "template": {
                    "spec": {
                        "containers": [{"name": container.name, "resources": {"limits": limits, "requests": requests}}]
                    }
                }
            }
            strategy = deployment.spec.strategy
            if strategy is not None and strategy.type == "RollingUpdate":
                # A rolling update would keep the healthy pods serving while the squeezed ones crash
                # loop beside them, and users would never notice: the old pods go first instead.
                saved["strategy"] = api.sanitize_for_serialization(strategy)
                spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "100%"}}
            apps.patch_namespaced_deployment(
                fault.service,
                namespace,
                {"metadata": {"annotations": {**marks, RESTORE: json.dumps(saved)}}, "spec": spec},
            )
            return [f"deployment/{fault.service}"]
        if fault.kind == "network_partition":
            name = f"chaoslab-partition-{fault.id}"
            net.create_namespaced_network_policy(namespace, partition_policy(name, fault, namespace))
            return [f"networkpolicy/{name}"]
    except ApiException as exc:
        raise explain(exc, f"{fault.kind} on {fault.service} in {namespace}") from None
    raise ValueError(f"{fault.kind} is not a Kubernetes fault")


def partition_policy(name: str, fault: Fault, namespace: str) -> dict:
    """Egress from the service's pods to anything but the peer's pods (DNS and other namespaces stay
    reachable). Egress on the caller, because ingress policies only ever add allowances. "Other
    namespaces" names its own namespace as the exception: an empty namespaceSelector selects every
    namespace, this one too, and would let the peer through."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "labels": {FAULT: fault.id, "app.kubernetes.io/part-of": "chaoslab"},
            "annotations": {EXPIRES: f"{fault.expires_at:.0f}"},
        },
        "spec": {
            "podSelector": {"matchLabels": {SELECTOR: fault.service}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "podSelector": {
                                "matchExpressions": [{"key": SELECTOR, "operator": "NotIn", "values": [fault.peer]}]
                            }
                        }
                    ]
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": NAMESPACE_NAME, "operator": "NotIn", "values": [namespace]}
                                ]
                            }
                        }
                    ]
                },
            ],
        },
    }


def revert(api, namespace: str, fault_id: str | None = None, expired_before: float | None = None) -> list[str]:
    """Undo lasting Kubernetes faults: one (fault_id), the expired ones (expired_before), or all."""
    apps, net = client.AppsV1Api(api), client.NetworkingV1Api(api)

    def wanted(marks: dict) -> bool:
        if FAULT not in marks:
            return False
        if fault_id is not None and marks[FAULT] != fault_id:
            return False
        return expired_before is None or float(marks.get(EXPIRES, 0)) <= expired_before

    reverted = []
    try:
        for deployment in apps.list_namespaced_deployment(namespace).items:
            marks = deployment.metadata.annotations or {}
            if not wanted(marks):
                continue
            restore = json.loads(marks.get(RESTORE, "{}"))
            patch: dict = {"metadata": {"annotations": {FAULT: None, EXPIRES: None, RESTORE: None}}}
            if "replicas" in restore:
                patch["spec"] = {"replicas": restore["replicas"]}
            if "resources" in restore:
                patch["spec"] = {
                    "template": {
                        "spec": {"containers": [{"name": restore["container"], "resources": restore["resources"]}]}
                    }
                }
            if "strategy" in restore:
                patch["spec"]["strategy"] = restore["strategy"]
            apps.patch_namespaced_deployment(deployment.metadata.name, namespace, patch)
            reverted.append(f"deployment/{deployment.metadata.name}")
        for policy in net.list_namespaced_network_policy(namespace).items:
            marks = {**(policy.metadata.labels or {}), **(policy.metadata.annotations or {})}
            if wanted(marks):
                net.delete_namespaced_network_policy(policy.metadata.name, namespace)
                reverted.append(f"networkpolicy/{policy.metadata.name}")
    except ApiException as exc:
        raise explain(exc, f"reverting chaos in {namespace}") from None
    return reverted


def extend(api, namespace: str, fault_id: str, expires_at: float) -> list[str]:
    """Move the expiry mark of one lasting Kubernetes fault (the reaper reverts it once that has passed);
    returns the objects marked anew."""
    apps, net = client.AppsV1Api(api), client.NetworkingV1Api(api)
    patch = {"metadata": {"annotations": {EXPIRES: f"{expires_at:.0f}"}}}
    marked = []
    try:
        for deployment in apps.list_namespaced_deployment(namespace).items:
            if (deployment.metadata.annotations or {}).get(FAULT) == fault_id:
                apps.patch_namespaced_deployment(deployment.metadata.name, namespace, patch)
                marked.append(f"deployment/{deployment.metadata.name}")
        for policy in net.list_namespaced_network_policy(namespace, label_selector=f"{FAULT}={fault_id}").items:
            net.patch_namespaced_network_policy(policy.metadata.name, namespace, patch)
            marked.append(f"networkpolicy/{policy.metadata.name}")
    except ApiException as exc:
        raise explain(exc, f"extending fault {fault_id} in {namespace}") from None
    return marked
