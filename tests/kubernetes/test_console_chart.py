"""The console's Deployment in the platform release (charts/chaoslab/templates/console.yaml)."""

from __future__ import annotations

import subprocess

import kubernetes_validate

from chaoslab.settings import Console, describe
from kubesupport import CHART, KUBE_VERSION, render

PLATFORM = ["-f", str(CHART / "profiles" / "platform.yaml"), "--set", "console.enabled=true"]


def test_the_console_renders_valid_objects_that_run_the_console_server(helm):
    docs = render(helm, *PLATFORM, "--set", "console.teams={red,blue}", namespace="chaoslab-platform")
    mine = [d for d in docs if d["metadata"]["name"] in ("console", "chaoslab-console", "chaoslab-platform-console")]
    assert {d["kind"] for d in mine} == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Secret",
        "Deployment",
        "Service",
    }
    for doc in mine:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    deployment = next(d for d in mine if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["console-server"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CHAOSLAB_CONSOLE_TEAMS"] == "red,blue"
    documented = {name for name, _, _ in describe(Console)}
    assert {name for name in env if name.startswith("CHAOSLAB_CONSOLE_")} == documented
    assert container["volumeMounts"] == [{"name": "recordings", "mountPath": env["CHAOSLAB_CONSOLE_RECORDINGS"]}], (
        "the drills are recorded on a volume: the root filesystem is read-only"
    )
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "recordings", "emptyDir": {"sizeLimit": "1Gi"}}]
    role = next(d for d in mine if d["kind"] == "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]


def test_the_console_is_off_by_default_and_needs_its_teams(helm):
    assert not [d for d in render(helm) if d["metadata"]["name"] == "console"]
    result = subprocess.run(
        [helm, "template", "x", str(CHART), "--kube-version", KUBE_VERSION, *PLATFORM],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "console.teams must name at least one team" in result.stderr
