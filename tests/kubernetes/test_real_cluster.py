"""A cohort on a real cluster (docs/kubernetes.md): the real-cluster profile on top of the platform and team
profiles, installed by real helm into a real API server (every object admitted, as a server-side dry run
would), and the cluster `make cluster WORKERS=2` asks kind for."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from kubernetes import client

from kubesupport import CHART
from support import ROOT

PROFILES = CHART / "profiles"
REAL = yaml.safe_load((PROFILES / "real-cluster.yaml").read_text())
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")


@pytest.fixture(scope="module")
def installed(helm, api, apiserver):
    """The platform and team "amber" installed with the real-cluster profile, the way the guide says."""
    core = client.CoreV1Api(api)
    releases = {
        "chaoslab-rc-platform": [
            "-f", str(PROFILES / "platform.yaml"), "--set", "console.enabled=true", "--set", "console.teams={amber}",
            "--set", "instructors.enabled=false",  # one cluster, one instructor role: test_teams.py's platform has it
        ],
        "chaoslab-amber": ["-f", str(PROFILES / "team.yaml"), "--set", "team=amber"],
    }  # fmt: skip
    rendered: dict[str, list[dict]] = {}
    for namespace, values in releases.items():
        core.create_namespace({"metadata": {"name": namespace}})  # unlabelled: other tests list the team ones
        args = [*values, "-f", str(PROFILES / "real-cluster.yaml"), "-n", namespace, "--kubeconfig", str(apiserver)]
        result = subprocess.run([helm, "install", "rc", str(CHART), *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        manifest = subprocess.run(
            [helm, "get", "manifest", "rc", "-n", namespace, "--kubeconfig", str(apiserver)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rendered[namespace] = [doc for doc in yaml.safe_load_all(manifest) if doc]
    return rendered


def pod_spec(doc: dict) -> dict:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]["spec"]


def test_every_pod_pulls_from_the_registry_and_spreads_over_the_nodes(installed):
    secrets = [{"name": name} for name in REAL["image"]["pullSecrets"]]
    for namespace, docs in installed.items():
        workloads = [d for d in docs if d["kind"] in WORKLOADS]
        assert len(workloads) >= 3, namespace
        for doc in workloads:
            spec = pod_spec(doc)
            where = f"{namespace}/{doc['kind']}/{doc['metadata']['name']}"
            assert spec.get("imagePullSecrets") == secrets, where
            (spread,) = spec["topologySpreadConstraints"]
            assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["whenUnsatisfiable"] == "ScheduleAnyway"
            assert spread["labelSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "rc"}, where
    images = {
        c["image"] for d in installed["chaoslab-amber"] if d["kind"] in WORKLOADS for c in pod_spec(d)["containers"]
    }
    assert any(i.startswith(REAL["image"]["repository"] + ":") for i in images), images


def test_the_platform_console_has_an_ingress_and_postgres_the_clusters_storage_class(installed, api):
    ingress = client.NetworkingV1Api(api).read_namespaced_ingress("console", "chaoslab-rc-platform")
    assert ingress.spec.rules[0].host == REAL["console"]["ingress"]["host"]
    assert ingress.spec.ingress_class_name == REAL["console"]["ingress"]["className"]
    assert ingress.spec.rules[0].http.paths[0].backend.service.name == "console"
    postgres = client.AppsV1Api(api).read_namespaced_stateful_set("postgres", "chaoslab-amber")
    (claim,) = postgres.spec.volume_claim_templates
    assert claim.spec.storage_class_name == REAL["postgres"]["persistence"]["storageClassName"]
    teams = [d for d in installed["chaoslab-amber"] if d["kind"] == "Ingress"]
    assert teams == []  # a team's release has no console of its own to expose
    published = [
        (d["metadata"]["name"], p) for docs in installed.values() for d in docs if d["kind"] == "Service"
        for p in d["spec"]["ports"] if d["spec"].get("type") == "NodePort" or "nodePort" in p
    ]  # fmt: skip
    assert published == []  # a NodePort on a real cluster is open on every node's address


def test_an_ingress_without_a_host_is_refused_with_a_reason(helm):
    result = subprocess.run(
        [helm, "template", "rc", str(CHART), "--kube-version", "1.34.0", "-f", str(PROFILES / "platform.yaml")]
        + ["--set", "console.enabled=true", "--set", "console.teams={amber}", "--set", "console.ingress.enabled=true"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "console.ingress.host" in result.stderr


def test_make_cluster_asks_kind_for_workers_on_the_control_planes_node_image():
    printed = subprocess.run(
        ["make", "-s", "--no-print-directory", "kind-config", "WORKERS=2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    nodes = yaml.safe_load(printed)["nodes"]
    assert [n["role"] for n in nodes] == ["control-plane", "worker", "worker"]
    assert len({n["image"] for n in nodes}) == 1
    assert all("extraPortMappings" not in n for n in nodes[1:])  # the front doors stay on the control plane
    one = yaml.safe_load(subprocess.run(["make", "-s", "kind-config"], cwd=ROOT, capture_output=True, text=True).stdout)
    assert [n["role"] for n in one["nodes"]] == ["control-plane"]
