"""Who is calling, and may they touch this namespace? The controller's authorisation on a cohort cluster.

RBAC already confines a team's credentials to its own namespace; this is the controller's own rule on
top, so a mistake in RBAC is not the only thing between team red and team blue:

* only namespaces labelled ``chaoslab.io/team`` are ever touched;
* instructors (group ``chaoslab:instructors``, a ServiceAccount of the platform namespace, or a cluster
  admin: ``system:masters``, or ``kubeadm:cluster-admins``, the group of the admin kubeconfig kubeadm,
  and so kind, writes since Kubernetes 1.29) may act on every team namespace;
* a team's ServiceAccount acts only in its own namespace, and a person in group ``chaoslab:team:T``
  only in the namespace labelled ``chaoslab.io/team=T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaoslab.chaos.kubernetes.client import KubernetesError, explain

TEAM_LABEL = "chaoslab.io/team"
INSTRUCTORS_GROUP = "chaoslab:instructors"
TEAM_GROUP_PREFIX = "chaoslab:team:"
PLATFORM_NAMESPACE = "chaoslab-platform"
CLUSTER_ADMIN_GROUPS = ("system:masters", "kubeadm:cluster-admins")


class NotAllowed(KubernetesError):
    """The caller may not act on that namespace; the message says who, where and why."""


@dataclass(frozen=True)
class Identity:
    username: str
    groups: tuple[str, ...] = ()

    @property
    def service_account_namespace(self) -> str | None:
        parts = self.username.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return parts[2]
        return None

    def is_instructor(self, platform_namespace: str = PLATFORM_NAMESPACE) -> bool:
        return (
            INSTRUCTORS_GROUP in self.groups
            or any(group in self.groups for group in CLUSTER_ADMIN_GROUPS)
            or self.service_account_namespace == platform_namespace
        )


def whoami(api) -> Identity:
    """The caller as the API server sees them (SelfSubjectReview)."""
    try:
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, _request_timeout=10
        )
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise explain(exc, "asking the API server who we are") from None
    user = review.status.user_info
    return Identity(user.username or "", tuple(user.groups or ()))


def authorize(
    identity: Identity, namespace: str, labels: dict[str, str], platform_namespace: str = PLATFORM_NAMESPACE
) -> str:
    """The team of ``namespace`` if ``identity`` may act on it; raises NotAllowed otherwise."""
    team = labels.get(TEAM_LABEL)
    if not team:
        raise NotAllowed(
            f"namespace {namespace} is not a chaoslab team namespace (no {TEAM_LABEL} label); "
            "chaos is only allowed in team namespaces"
        )
    if identity.is_instructor(platform_namespace):
        return team
    own_namespace = identity.service_account_namespace
    if own_namespace is not None:
        if own_namespace == namespace:
            return team
        raise NotAllowed(
            f"{identity.username} belongs to namespace {own_namespace} and may not touch {namespace} (team {team})"
        )
    teams = {g.removeprefix(TEAM_GROUP_PREFIX) for g in identity.groups if g.startswith(TEAM_GROUP_PREFIX)}
    if team in teams:
        return team
    raise NotAllowed(
        f"{identity.username} is not in team {team} and may not touch {namespace}"
        + (f" (member of {', '.join(sorted(teams))})" if teams else "; ask an instructor")
    )


def authorize_namespace(api, namespace: str) -> tuple[Identity, str]:
    """Who is calling and the team of ``namespace`` they may act on; raises NotAllowed or, when the
    namespace cannot be read, KubernetesError."""
    identity = whoami(api)
    try:
        labels = client.CoreV1Api(api).read_namespace(namespace).metadata.labels or {}
    except ApiException as exc:
        raise explain(exc, f"{identity.username} reading namespace {namespace}") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, TLS, timeouts: no API server
        raise explain(exc, f"reading namespace {namespace}") from None
    return identity, authorize(identity, namespace, labels)
