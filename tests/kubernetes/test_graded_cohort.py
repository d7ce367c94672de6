"""A graded cohort on a real kube-apiserver: a team release installed by real helm with
``trainee.chaos=false``. RBAC itself keeps the answer key (the journal ConfigMap), the agents'
token and every other ConfigMap from the trainees; they still work their incident on the board, their
answers are recorded ungraded, and the instructor's scoreboard grades them from the journal. Pods
never run here, so the drill's start is written into the journal as the controller writes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml
from drillkit import play
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from chaoslab.kubernetes.store import ConfigMapStore
from kubesupport import CHART

TEAM = "gold"
NAMESPACE = f"chaoslab-{TEAM}"


@pytest.fixture(scope="module")
def graded(helm, api, apiserver, tmp_path_factory):
    """The team's release, and a kubeconfig with its trainee's token (what `chaoslab team-kubeconfig` writes)."""
    client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE, "labels": {"chaoslab.io/team": TEAM}}})
    result = subprocess.run(
        [
            *(helm, "install", TEAM, str(CHART), "-n", NAMESPACE, "--kubeconfig", str(apiserver)),
            *("-f", str(CHART / "profiles" / "team.yaml"), "--set", f"team={TEAM}"),
            *("--set", "trainee.chaos=false"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    token = (
        client.CoreV1Api(api)
        .create_namespaced_service_account_token("trainee", NAMESPACE, {"spec": {"expirationSeconds": 3600}})
        .status.token
    )
    document = yaml.safe_load(apiserver.read_text())
    document["users"][0]["user"]["token"] = token
    trainee = tmp_path_factory.mktemp("gold") / "kubeconfig-gold.yaml"
    trainee.write_text(yaml.safe_dump(document))
    return trainee


def cli(kubeconfig, tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "chaoslab",
            "--state-dir",
            str(tmp_path),
            "--target",
            "kubernetes",
            "-n",
            NAMESPACE,
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
    )


def test_rbac_keeps_the_answer_key_and_the_agents_token_from_a_graded_team(graded):
    trainee = config.new_client_from_config(config_file=str(graded))

    def can(verb, resource, name=None, subresource=None, group=""):
        attributes = {
            "group": group,
            "verb": verb,
            "resource": resource,
            "namespace": NAMESPACE,
            "name": name,
            "subresource": subresource,
        }
        review = client.AuthorizationV1Api(trainee).create_self_subject_access_review(
            {"spec": {"resourceAttributes": attributes}}
        )
        return review.status.allowed

    assert not can("get", "secrets", "chaoslab-agent")
    assert not can("get", "configmaps", "chaoslab-journal") and not can("list", "configmaps")
    assert can("get", "configmaps", "chaoslab-board") and can("update", "configmaps", "chaoslab-board")
    assert can("create", "pods", subresource="proxy") and can(
        "patch", "deployments", group="apps"
    )  # metrics, a rollout
    assert not can("create", "networkpolicies", group="networking.k8s.io")
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(trainee).read_namespaced_secret("chaoslab-agent", NAMESPACE)
    assert denied.value.status == 403


def test_a_graded_team_works_its_incident_and_the_instructor_grades_it(graded, apiserver, api, tmp_path):
    journal = ConfigMapStore(api, NAMESPACE)  # the instructor's side: what `scenario start --mystery` writes
    play(journal, "deadlock", time.time(), 900, mystery=True)

    opened = cli(graded, tmp_path, "incident", "open", "checkout freezes", "--severity", "P1")
    assert opened.returncode == 0, opened.stderr
    assert cli(graded, tmp_path, "incident", "ack").returncode == 0
    answer = cli(graded, tmp_path, "incident", "rootcause", "--service", "service-c", "--kind", "deadlock")
    assert answer.returncode == 0 and "recorded, not graded" in answer.stdout and "forbidden by RBAC" in answer.stdout
    triage = cli(graded, tmp_path, "triage", "--owner", "pricing", "--when", "2m ago")
    assert triage.returncode == 0 and "not graded" in triage.stdout, triage.stderr
    assert cli(graded, tmp_path, "changes").returncode == 0  # the board
    audit = cli(graded, tmp_path, "audit", "--reveal")  # an instructor's view: RBAC says no
    assert audit.returncode == 1 and "forbidden by RBAC" in audit.stderr
    board = client.CoreV1Api(api).read_namespaced_config_map("chaoslab-board", NAMESPACE).data
    assert "root cause: deadlock on service-c" in board["incidents.jsonl"]

    mine = json.loads(cli(graded, tmp_path, "score", "--json").stdout)[0]
    assert not mine["graded"] and mine["scenario"] is None  # the trainee cannot see the key
    instructor = subprocess.run(
        [sys.executable, "-m", "chaoslab", "--state-dir", str(tmp_path), "score", "--all-teams", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(apiserver)},
    )
    assert instructor.returncode == 0, instructor.stderr
    row = next(s for s in json.loads(instructor.stdout) if s["team"] == TEAM)
    assert row["graded"] and row["scenario"] == "deadlock" and row["ttrc_s"] is not None
    assert row["triage"]["owner"] == "right" and row["triage"]["when"] == "right" and row["stage"] == "root cause"
