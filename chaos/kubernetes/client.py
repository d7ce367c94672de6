"""A Kubernetes API client from a kubeconfig (a laptop) or the pod's service account (in-cluster)."""
from __future__ import annotations

import os


class KubernetesError(RuntimeError):
    """The Kubernetes API refused or could not be reached; the message says what to check."""


def api_client(context: str | None = None, kubeconfig: str | None = None):
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not (context or kubeconfig):
            config.load_incluster_config()
        else:
            config.load_kube_config(config_file=kubeconfig, context=context)
    except (ConfigException, FileNotFoundError) as exc:
        raise KubernetesError(f"no usable kubeconfig ({exc}); set KUBECONFIG or pass --context") from None
    return client.ApiClient()


def explain(exc, doing: str) -> KubernetesError:
    """A one-line KubernetesError from an ApiException (or a connection error)."""
    status = getattr(exc, "status", None)
    if status == 403:
        return KubernetesError(f"{doing}: forbidden by RBAC ({_reason(exc)})")
    if status == 404:
        return KubernetesError(f"{doing}: not found ({_reason(exc)})")
    if status:
        return KubernetesError(f"{doing}: HTTP {status} ({_reason(exc)})")
    return KubernetesError(f"{doing}: the Kubernetes API did not answer ({exc})")


def _reason(exc) -> str:
    import json

    try:
        return json.loads(exc.body).get("message", exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(getattr(exc, "reason", exc))
