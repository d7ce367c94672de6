"""A cohort cluster: the platform release and two team releases installed by real helm into a real
API server; isolation checked by RBAC itself (SelfSubjectAccessReview and real requests) and by the
controller's own rule on top."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from chaoslab.chaos.kubernetes.agents import KubernetesAgents
from chaoslab.chaos.kubernetes.client import KubernetesError
from chaoslab.chaos.kubernetes.identity import NotAllowed
from kubesupport import CHART

TEAMS = ("blue", "green")
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="module")
def cohort(helm, api, apiserver):
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "chaoslab-platform"}})

    def run(*args):
        return subprocess.run([helm, *args, "--kubeconfig", str(apiserver)], capture_output=True, text=True)

    result = run(
        "install", "platform", str(CHART), "-n", "chaoslab-platform", "-f", str(CHART / "profiles" / "platform.yaml")
    )
    assert result.returncode == 0, result.stderr
    for team in TEAMS:
        namespace = f"chaoslab-{team}"
        core.create_namespace({"metadata": {"name": namespace, "labels": {"chaoslab.io/team": team}}})
        result = run(
            "install",
            team,
            str(CHART),
            "-n",
            namespace,
            "-f",
            str(CHART / "profiles" / "team.yaml"),
            "--set",
            f"team={team}",
        )
        assert result.returncode == 0, result.stderr
        for deployment in client.AppsV1Api(api).list_namespaced_deployment(namespace).items:
            template = api.sanitize_for_serialization(deployment.spec.template)
            template["metadata"]["name"] = f"{deployment.metadata.name}-0"
            core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", **template})
    core.create_namespace({"metadata": {"name": "unlabelled"}})
    return apiserver


def as_user(apiserver, token: str):
    """An API client with the admin kubeconfig's server but someone else's bearer token."""
    document = yaml.safe_load(apiserver.read_text())
    document["users"][0]["user"]["token"] = token
    path = apiserver.with_name(f"kubeconfig-{token[:8]}")
    path.write_text(yaml.safe_dump(document))
    return config.new_client_from_config(config_file=str(path))


def cli(kubeconfig, tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chaoslab", "--state-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
    )


@pytest.fixture(scope="module")
def blue_trainee(cohort, tmp_path_factory):
    """The kubeconfig `make team-kubeconfig TEAM=blue` hands to team blue, and a client from it."""
    out = tmp_path_factory.mktemp("blue") / "kubeconfig-blue.yaml"
    result = cli(cohort, out.parent, "team-kubeconfig", "--team", "blue", "-o", str(out), "--duration", "1h")
    assert result.returncode == 0, result.stderr
    return out, config.new_client_from_config(config_file=str(out))


def test_every_team_has_its_isolation_objects_with_the_right_subjects(cohort, api):
    rbac, core = client.RbacAuthorizationV1Api(api), client.CoreV1Api(api)
    for team in TEAMS:
        namespace = f"chaoslab-{team}"
        binding = rbac.read_namespaced_role_binding("chaoslab-trainee", namespace)
        assert {(s.kind, s.name, s.namespace) for s in binding.subjects} == {
            ("ServiceAccount", "trainee", namespace),
            ("Group", f"chaoslab:team:{team}", None),
        }
        assert binding.role_ref.name == "chaoslab-trainee"
        namespace_role = rbac.read_cluster_role(f"chaoslab-team-{team}-namespace")
        assert namespace_role.rules[0].resource_names == [namespace]
        quota = core.read_namespaced_resource_quota("chaoslab-team", namespace)
        assert quota.spec.hard["requests.memory"] == VALUES["isolation"]["quota"]["requests.memory"]
        assert core.read_namespaced_pod("prober-0", namespace).spec.containers[0].args == ["serve", "prober"]
        assert core.read_namespaced_limit_range("chaoslab-team", namespace).spec.limits[0].max["memory"] == "1Gi"
        policy = client.NetworkingV1Api(api).read_namespaced_network_policy("chaoslab-team-isolation", namespace)
        peers = policy.spec.ingress[0]._from
        assert peers[1].namespace_selector.match_labels == {"kubernetes.io/metadata.name": "chaoslab-platform"}
    instructor = rbac.read_cluster_role_binding("chaoslab-instructor")
    assert {(s.kind, s.name) for s in instructor.subjects} == {
        ("Group", "chaoslab:instructors"),
        ("ServiceAccount", "instructor"),
    }


def test_rbac_itself_denies_a_team_the_other_teams_namespace(blue_trainee):
    _, blue = blue_trainee
    auth = client.AuthorizationV1Api(blue)

    def can(verb, resource, namespace=None, subresource=None):
        review = auth.create_self_subject_access_review(
            {
                "spec": {
                    "resourceAttributes": {
                        "verb": verb,
                        "resource": resource,
                        "namespace": namespace,
                        "subresource": subresource,
                    }
                }
            }
        )
        return review.status.allowed

    assert can("list", "pods", "chaoslab-blue") and can("create", "pods", "chaoslab-blue", "proxy")
    assert not can("list", "pods", "chaoslab-green") and not can("create", "pods", "chaoslab-green", "proxy")
    assert not can("list", "namespaces")
    core = client.CoreV1Api(blue)
    assert {p.metadata.name for p in core.list_namespaced_pod("chaoslab-blue").items} >= {"service-a-0"}
    with pytest.raises(ApiException) as denied:
        core.list_namespaced_pod("chaoslab-green")
    assert denied.value.status == 403
    with pytest.raises(ApiException) as secret:
        core.read_namespaced_secret("postgres", "chaoslab-blue")
    assert secret.value.status == 403  # only the agents' token, nothing else


def test_the_controller_lets_a_team_act_only_in_its_own_namespace(blue_trainee, apiserver):
    _, blue = blue_trainee
    own = KubernetesAgents("chaoslab-blue", api=blue)
    assert own.team == "blue" and own.identity.username == "system:serviceaccount:chaoslab-blue:trainee"
    with pytest.raises(KubernetesError, match="forbidden by RBAC"):
        KubernetesAgents("chaoslab-green", api=blue)
    alice = as_user(apiserver, "alice-token")  # a person in group chaoslab:team:green
    assert KubernetesAgents("chaoslab-green", api=alice).team == "green"
    with pytest.raises(KubernetesError, match="forbidden by RBAC"):
        KubernetesAgents("chaoslab-blue", api=alice)


def test_a_team_uses_the_controller_on_its_own_lab(blue_trainee, tmp_path):
    kubeconfig, blue = blue_trainee
    added = cli(
        kubeconfig,
        tmp_path,
        "--target",
        "kubernetes",
        "-n",
        "chaoslab-blue",
        "fault",
        "add",
        "scale_to_zero",
        "--service",
        "worker",
        "--ttl",
        "60",
    )
    assert added.returncode == 0, added.stderr
    assert client.AppsV1Api(blue).read_namespaced_deployment("worker", "chaoslab-blue").spec.replicas == 0
    refused = cli(kubeconfig, tmp_path, "--target", "kubernetes", "-n", "chaoslab-green", "reset")
    assert refused.returncode == 1 and "forbidden by RBAC" in refused.stderr
    reset = cli(kubeconfig, tmp_path, "--target", "kubernetes", "-n", "chaoslab-blue", "reset")
    assert reset.returncode == 0, reset.stderr
    assert client.AppsV1Api(blue).read_namespaced_deployment("worker", "chaoslab-blue").spec.replicas == 1
    audit = cli(kubeconfig, tmp_path, "--target", "kubernetes", "-n", "chaoslab-blue", "audit").stdout
    assert "system:serviceaccount:chaoslab-blue:trainee" in audit and "scale_to_zero" in audit


def test_an_unlabelled_namespace_is_refused_even_to_an_instructor(cohort, apiserver):
    ingrid = as_user(apiserver, "ingrid-token")
    with pytest.raises(NotAllowed, match="not a chaoslab team namespace"):
        KubernetesAgents("unlabelled", api=ingrid)


def test_instructors_span_every_team(cohort, apiserver, tmp_path):
    ingrid = apiserver.with_name("kubeconfig-ingrid")
    ingrid.write_text(apiserver.read_text().replace("admin-token", "ingrid-token"))
    for team in TEAMS:
        assert KubernetesAgents(f"chaoslab-{team}", api=config.new_client_from_config(str(ingrid))).team == team
        extend = {"verb": "patch", "resource": "pods", "subresource": "proxy", "namespace": f"chaoslab-{team}"}
        review = client.AuthorizationV1Api(
            config.new_client_from_config(str(ingrid))
        ).create_self_subject_access_review({"spec": {"resourceAttributes": extend}})
        assert review.status.allowed  # `gameday extend` reaches each agent so
    listing = cli(ingrid, tmp_path, "teams", "--no-slo")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert {"blue", "green"} <= set(rows) and all(" - " in rows[t] for t in TEAMS)
    start = cli(ingrid, tmp_path, "scenario", "start", "latency-500ms", "--team", "green", "--no-load")
    assert start.returncode == 1 and "did not apply on service-b-0" in start.stderr  # pods never run here
    reset = cli(ingrid, tmp_path, "reset", "--all-teams")
    assert reset.returncode == 0, reset.stderr
    assert "chaoslab-blue: removed" in reset.stdout and "chaoslab-green: removed" in reset.stdout


def test_the_team_kubeconfig_is_private_and_points_at_the_namespace(blue_trainee):
    path, _ = blue_trainee
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = yaml.safe_load(path.read_text())
    assert document["contexts"][0]["context"]["namespace"] == "chaoslab-blue"
