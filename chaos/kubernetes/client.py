"""A Kubernetes API client from a kubeconfig (a laptop) or the pod's service account (in-cluster)."""

from __future__ import annotations

import json
import os

import urllib3
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from chaoslab.errors import Refused


class KubernetesError(Refused):
    """The Kubernetes API refused or could not be reached; the message says what to check."""


def api_client(context: str | None = None, kubeconfig: str | None = None):
    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not (context or kubeconfig):
            config.load_incluster_config()
        else:
            config.load_kube_config(config_file=kubeconfig, context=context)
    except (ConfigException, FileNotFoundError) as exc:
        raise KubernetesError(f"no usable kubeconfig ({exc}); set KUBECONFIG or pass --context") from None
    api = client.ApiClient()
    if not api.configuration.verify_ssl:
        # The kubeconfig asked for insecure-skip-tls-verify (a local test server): say nothing per request.
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return api


def raw_request(
    api,
    method: str,
    path: str,
    *,
    headers: dict | None = None,
    body=None,
    form: dict | None = None,
    timeout_s: float = 10,
) -> tuple[int, bytes]:
    """One request to the API server with the client's credentials, for the paths the typed client
    cannot make (the pod and service proxies): (status, body). Never raises for an HTTP status;
    raises KubernetesError when the API server cannot be reached at all."""
    headers = dict(headers or {})
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    method, url, headers, body, post_params = api.param_serialize(
        method,
        path,
        header_params=headers,
        body=body,
        post_params=list(form.items()) if form else None,
        auth_settings=["BearerToken"],
    )

    try:
        response = api.call_api(
            method, url, header_params=headers, body=body, post_params=post_params, _request_timeout=timeout_s
        )
        response.read()
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, TLS, timeouts: no API server
        raise explain(exc, f"{method} {path}") from None
    return response.status, response.data or b""


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
    try:
        return json.loads(exc.body).get("message", exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(getattr(exc, "reason", exc))
