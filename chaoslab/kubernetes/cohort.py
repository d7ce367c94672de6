"""A cohort on a cluster, as the instructor's commands read and shape it: the team namespaces, and the
kubeconfig a team's trainees work with."""

from __future__ import annotations

import base64

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaoslab.backend import team_namespace
from chaoslab.chaos.kubernetes.client import api_client, explain
from chaoslab.chaos.kubernetes.identity import TEAM_LABEL

TRAINEE = "trainee"
"""The ServiceAccount of a team's trainees (the chart makes it in every team namespace)."""


def team_namespaces(context: str | None) -> list[str]:
    """Every namespace labelled as a chaoslab team's (needs the instructor role to list namespaces)."""
    try:
        found = client.CoreV1Api(api_client(context)).list_namespace(label_selector=TEAM_LABEL).items
    except ApiException as exc:
        raise explain(exc, "listing team namespaces (an instructor's command)") from None
    return sorted(ns.metadata.name for ns in found)


def trainee_kubeconfig(context: str | None, team: str, seconds: int) -> dict:
    """A kubeconfig bound to the team's trainee ServiceAccount for ``seconds``: its kubectl sees only the
    team's namespace."""
    namespace = team_namespace(team)
    api = api_client(context)
    try:
        token = (
            client.CoreV1Api(api)
            .create_namespaced_service_account_token(TRAINEE, namespace, {"spec": {"expirationSeconds": seconds}})
            .status.token
        )
    except ApiException as exc:
        raise explain(exc, f"asking for a token of {namespace}/{TRAINEE}") from None
    cluster = {"server": api.configuration.host}
    if api.configuration.ssl_ca_cert:
        with open(api.configuration.ssl_ca_cert, "rb") as handle:
            cluster["certificate-authority-data"] = base64.b64encode(handle.read()).decode()
    elif not api.configuration.verify_ssl:
        cluster["insecure-skip-tls-verify"] = True
    user = f"{team}-{TRAINEE}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": namespace,
        "clusters": [{"name": "chaoslab", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": namespace, "context": {"cluster": "chaoslab", "user": user, "namespace": namespace}}],
    }
