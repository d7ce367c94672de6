"""The chaos controller's Kubernetes backend against a real kube-apiserver (with etcd), with the
team's objects installed by real helm from the chart. Nothing is scheduled here, so pods exist but
never run: agent calls through the pod proxy fail (and must fail cleanly); faults the Kubernetes API
does itself (scale to zero, NetworkPolicy partition, memory limits, pod kill) are real."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from kubernetes import client

from chaoslab.chaos.controller import Controller, ControllerError
from chaoslab.chaos.journal import AuditLog, FileStore
from chaoslab.chaos.kubernetes.agents import KubernetesAgents
from chaoslab.chaos.kubernetes.client import KubernetesError
from chaoslab.errors import Refused
from kubesupport import CHART, KUBE_VERSION
from support import poll_until

NAMESPACE = "chaoslab-red"


@pytest.fixture(scope="module")
def team(helm, api, apiserver):
    """Namespace chaoslab-red, labelled as a team's, with the team release installed by helm, and one
    pod per Deployment made from its pod template (no controllers run here to make them)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": NAMESPACE, "labels": {"chaoslab.io/team": "red"}}})
    result = subprocess.run(
        [
            helm,
            "install",
            "lab",
            str(CHART),
            "-n",
            NAMESPACE,
            "--kubeconfig",
            str(apiserver),
            "-f",
            str(CHART / "profiles" / "team.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for deployment in apps.list_namespaced_deployment(NAMESPACE).items:
        pod_from_template(api, deployment.metadata.name)
    return result.stdout


def pod_from_template(api, deployment: str) -> None:
    """What the ReplicaSet controller would do, were one running: a pod from the Deployment's template."""
    template = api.sanitize_for_serialization(
        client.AppsV1Api(api).read_namespaced_deployment(deployment, NAMESPACE).spec.template
    )
    template["metadata"]["name"] = f"{deployment}-0"
    client.CoreV1Api(api).create_namespaced_pod(NAMESPACE, {"apiVersion": "v1", "kind": "Pod", **template})


def controller(api, tmp_path) -> Controller:
    return Controller(KubernetesAgents(NAMESPACE, api=api), FileStore(tmp_path), "instructor")


def cli(apiserver, state, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "chaoslab",
            "--state-dir",
            str(state),
            "--target",
            "kubernetes",
            "--namespace",
            NAMESPACE,
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(apiserver)},
    )


def test_helm_installs_the_team_release_and_its_notes_say_how_to_reach_it(team, api):
    apps = client.AppsV1Api(api)
    assert {d.metadata.name for d in apps.list_namespaced_deployment(NAMESPACE).items} >= {
        "service-a",
        "service-b",
        "service-c",
        "payment",
        "gateway",
        "worker",
        "redis",
        "locust",
    }
    assert apps.read_namespaced_stateful_set("postgres", NAMESPACE).spec.volume_claim_templates
    assert "kubectl -n chaoslab-red port-forward svc/service-a 8080:8080" in team
    assert "helm test lab -n chaoslab-red" in team


def test_discovery_finds_every_agent_and_the_token(team, api):
    agents = KubernetesAgents(NAMESPACE, api=api)
    assert {i.service for i in agents.everything()} == {
        "service-a",
        "service-b",
        "service-c",
        "payment",
        "gateway",
        "worker",
    }
    instance = agents.instances("service-b")[0]
    assert instance.name == "service-b-0"
    assert instance.admin_url == f"/api/v1/namespaces/{NAMESPACE}/pods/service-b-0:9081/proxy"
    assert len(agents.token) == 32 and agents.team == "red"


def test_an_unlabelled_namespace_is_refused(api):
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "not-a-team"}})
    with pytest.raises(KubernetesError, match="not a chaoslab team namespace"):
        KubernetesAgents("not-a-team", api=api)


def test_an_agent_that_cannot_be_reached_is_reported_and_nothing_changes(team, api, tmp_path):
    lab = controller(api, tmp_path)
    with pytest.raises(ControllerError, match="did not apply on service-b-0") as refused:
        lab.add({"kind": "latency", "service": "service-b", "peer": "service-c"})
    # The request went through the API server's pod proxy; its answer (no address for a pod that
    # never ran) is what comes back.
    assert (
        "agent unreachable at /api/v1/namespaces/chaoslab-red/pods/service-b-0:9081/proxy (the API server "
        "answered" in str(refused.value)
    )
    assert "TypeError" not in str(refused.value) and "unexpected keyword" not in str(refused.value)
    log = AuditLog(FileStore(tmp_path), "audit.jsonl")
    assert [(e["event"], e.get("reason")) for e in log.entries()] == [
        ("fault.requested", None),
        ("fault.reverted", "not applied"),
    ]
    assert log.open_faults() == {}


def test_scale_to_zero_and_back_on_stop(team, api, tmp_path):
    apps = client.AppsV1Api(api)
    lab = controller(api, tmp_path)
    applied = lab.add({"kind": "scale_to_zero", "service": "worker", "ttl_s": 300})
    deployment = apps.read_namespaced_deployment("worker", NAMESPACE)
    assert deployment.spec.replicas == 0
    assert deployment.metadata.annotations["chaoslab.io/fault-id"] == applied.fault.id
    listed, _ = lab.faults()
    assert [(f["id"], f["kind"], f["instance"]) for f in listed] == [(applied.fault.id, "scale_to_zero", "kubernetes")]
    lab.remove(applied.fault.id)
    deployment = apps.read_namespaced_deployment("worker", NAMESPACE)
    assert deployment.spec.replicas == 1 and "chaoslab.io/fault-id" not in (deployment.metadata.annotations or {})


def test_an_expired_cluster_fault_is_reaped_without_the_controller(team, api, apiserver, tmp_path):
    apps = client.AppsV1Api(api)
    added = cli(apiserver, tmp_path, "fault", "add", "scale_to_zero", "--service", "gateway", "--ttl", "1")
    assert added.returncode == 0, added.stderr
    assert apps.read_namespaced_deployment("gateway", NAMESPACE).spec.replicas == 0
    reap_until_the_gateway_is_back(apps, apiserver, tmp_path, "the reaper to restore the gateway once the TTL passed")


def test_the_reaper_reaps_with_its_own_service_accounts_token(team, api, apiserver, tmp_path):
    """What the chaos-reaper CronJob runs, with the token of the ServiceAccount its pods run as: its
    Role must allow everything `chaoslab reap` does."""
    apps = client.AppsV1Api(api)
    added = cli(apiserver, tmp_path, "fault", "add", "scale_to_zero", "--service", "gateway", "--ttl", "1")
    assert added.returncode == 0, added.stderr
    reaper = service_account_kubeconfig(api, apiserver, tmp_path, "chaos-reaper")
    reap_until_the_gateway_is_back(apps, reaper, tmp_path, "the reaper's own identity to restore the gateway")


def reap_until_the_gateway_is_back(apps, kubeconfig, tmp_path, description: str) -> None:
    """`chaoslab reap` with ``kubeconfig``, again until it reports the scaled-down gateway restored."""

    def reaped():
        result = cli(kubeconfig, tmp_path, "reap")
        assert result.returncode == 0, result.stderr
        return "deployment/gateway" in result.stdout

    poll_until(reaped, description, timeout=15, interval=0.5)
    assert apps.read_namespaced_deployment("gateway", NAMESPACE).spec.replicas == 1


def test_a_cluster_fault_extended_is_reaped_at_its_new_time_not_its_first(team, api, apiserver, tmp_path):
    """A drill given more time moves the expiry marks the reaper reads, on a Deployment and a NetworkPolicy."""
    apps, net = client.AppsV1Api(api), client.NetworkingV1Api(api)
    agents = KubernetesAgents(NAMESPACE, api=api)
    lab = Controller(agents, FileStore(tmp_path), "instructor")
    scaled = lab.add({"kind": "scale_to_zero", "service": "gateway", "ttl_s": 1}).fault
    cut = lab.add({"kind": "network_partition", "service": "service-b", "peer": "service-c", "ttl_s": 1}).fault
    try:
        later = scaled.created_at + 600
        assert agents.extend_kubernetes_fault(scaled.id, later) == ["deployment/gateway"]
        assert agents.extend_kubernetes_fault(cut.id, later) == [f"networkpolicy/chaoslab-partition-{cut.id}"]
        poll_until(lambda: time.time() > scaled.expires_at + 1, "the faults' first expiry to pass", timeout=10)
        reaped = cli(apiserver, tmp_path, "reap")
        assert reaped.returncode == 0 and "gateway" not in reaped.stdout and cut.id not in reaped.stdout, reaped.stdout
        assert apps.read_namespaced_deployment("gateway", NAMESPACE).spec.replicas == 0
        assert (
            net.read_namespaced_network_policy(f"chaoslab-partition-{cut.id}", NAMESPACE).metadata.annotations[
                "chaoslab.io/expires-at"
            ]
            == f"{later:.0f}"
        )
    finally:
        lab.reset()
    assert apps.read_namespaced_deployment("gateway", NAMESPACE).spec.replicas == 1


def service_account_kubeconfig(api, apiserver, tmp_path, account: str):
    """A kubeconfig with the token of a ServiceAccount of the release (what its pods run as)."""
    import yaml

    token = (
        client.CoreV1Api(api)
        .create_namespaced_service_account_token(account, NAMESPACE, {"spec": {"expirationSeconds": 600}})
        .status.token
    )
    kubeconfig = yaml.safe_load(apiserver.read_text())
    kubeconfig["users"][0]["user"]["token"] = token
    path = tmp_path / f"{account}-kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    return path


def test_the_pager_pages_onto_the_teams_board_and_may_not_touch_the_answer_key(team, api, apiserver, tmp_path):
    """What the team's pager does with the alerts it reads from Alertmanager (tests/kubernetes/test_paging.py
    runs it against a real Alertmanager): its Role lets it find its team and write the board's incidents,
    and nothing of the journal."""
    from kubernetes import config

    from chaoslab.incident.pager import fold
    from chaoslab.incident.record import IncidentLog
    from chaoslab.kubernetes.backend import KubernetesBackend
    from chaoslab.kubernetes.store import ConfigMapStore

    account = config.new_client_from_config(
        config_file=str(service_account_kubeconfig(api, apiserver, tmp_path, "pager"))
    )
    pager = KubernetesBackend(NAMESPACE, api=account).pager("http://127.0.0.1:1", 10)
    assert pager.team == "red", "the pager reads its team from its namespace's label"
    page = {
        "labels": {"alertname": "CheckoutAvailabilityFastBurn", "severity": "P1", "team": "red", "owner": "orders"},
        "annotations": {"summary": "checkouts fail"},
        "startsAt": "2026-11-27T10:00:15.123456789Z",
    }
    (fired,) = fold(pager.store, pager.team, [page])
    incident = IncidentLog(ConfigMapStore(api, NAMESPACE)).get()
    assert incident.severity == "P1" and "CheckoutAvailabilityFastBurn" in incident.firing and fired.pages
    assert incident.declared_at == pytest.approx(1795773615.123456)
    with pytest.raises(KubernetesError, match=r"(?i)forbidden"):
        ConfigMapStore(account, NAMESPACE).append("audit.jsonl", "{}")


def test_a_partition_is_a_networkpolicy_until_reset(team, api, tmp_path):
    net = client.NetworkingV1Api(api)
    lab = controller(api, tmp_path)
    applied = lab.add({"kind": "network_partition", "service": "service-b", "peer": "service-c"})
    policy = net.read_namespaced_network_policy(f"chaoslab-partition-{applied.fault.id}", NAMESPACE)
    assert policy.spec.pod_selector.match_labels == {"app.kubernetes.io/name": "service-b"}
    assert policy.spec.policy_types == ["Egress"]
    blocked = policy.spec.egress[0].to[0].pod_selector.match_expressions[0]
    assert (blocked.key, blocked.operator, blocked.values) == ("app.kubernetes.io/name", "NotIn", ["service-c"])
    # Other namespaces stay reachable, but not this one: an empty namespaceSelector would select it
    # too and let service-c through (tests/e2e shows the CNI enforcing it).
    elsewhere = policy.spec.egress[1].to[0].namespace_selector.match_expressions[0]
    assert (elsewhere.key, elsewhere.operator, elsewhere.values) == (
        "kubernetes.io/metadata.name",
        "NotIn",
        [NAMESPACE],
    )
    lab.reset()
    assert [
        p.metadata.name
        for p in net.list_namespaced_network_policy(NAMESPACE).items
        if p.metadata.name.startswith("chaoslab-partition-")
    ] == []


def test_oom_kill_squeezes_the_memory_limit_and_restores_it(team, api, tmp_path):
    apps = client.AppsV1Api(api)
    lab = controller(api, tmp_path)
    before = apps.read_namespaced_deployment("service-b", NAMESPACE).spec
    applied = lab.add({"kind": "oom_kill", "service": "service-b", "params": {"limit_mi": 32}})
    squeezed = apps.read_namespaced_deployment("service-b", NAMESPACE).spec
    assert squeezed.template.spec.containers[0].resources.limits["memory"] == "32Mi"
    # With one replica, a rolling update would keep the old pod serving beside the crash loop: the
    # old pod goes first, so the fault reaches users.
    rolling = squeezed.strategy.rolling_update
    assert squeezed.strategy.type == "RollingUpdate" and (rolling.max_surge, rolling.max_unavailable) == (0, "100%")
    lab.remove(applied.fault.id)
    after = apps.read_namespaced_deployment("service-b", NAMESPACE).spec
    assert after.template.spec.containers[0].resources == before.template.spec.containers[0].resources
    assert after.strategy == before.strategy


def test_pod_kill_deletes_a_pod(team, api, tmp_path):
    core = client.CoreV1Api(api)
    if "payment-0" not in {p.metadata.name for p in core.list_namespaced_pod(NAMESPACE).items}:
        pod_from_template(api, "payment")  # a reset in an earlier test deleted the unreachable pods
    lab = controller(api, tmp_path)
    applied = lab.add({"kind": "pod_kill", "service": "payment"})
    assert [o.instance.name for o in applied.outcomes] == ["pod/payment-0"]
    poll_until(
        lambda: "payment-0" not in {p.metadata.name for p in core.list_namespaced_pod(NAMESPACE).items},
        "the payment pod to be gone",
    )
    with pytest.raises(Refused, match="no pod of payment to kill"):
        lab.add({"kind": "pod_kill", "service": "payment"})


def test_reset_deletes_pods_whose_agent_cannot_be_told(team, api, tmp_path):
    """A crash-looping pod keeps its saved faults in an emptyDir: reset replaces the pod."""
    core = client.CoreV1Api(api)
    if "worker-0" not in {p.metadata.name for p in core.list_namespaced_pod(NAMESPACE).items}:
        pod_from_template(api, "worker")
    _, unreachable = controller(api, tmp_path).reset()
    assert any("worker (worker-0)" in line for line in unreachable)
    poll_until(
        lambda: "worker-0" not in {p.metadata.name for p in core.list_namespaced_pod(NAMESPACE).items},
        "reset to delete the unreachable worker pod",
    )


def test_the_partition_policy_validates_against_the_schema():
    import kubernetes_validate

    from chaoslab.chaos.faults import validate
    from chaoslab.chaos.kubernetes.actions import partition_policy

    fault = validate({"kind": "network_partition", "service": "service-a", "peer": "payment"})
    kubernetes_validate.validate(
        partition_policy("chaoslab-partition-x", fault, "chaoslab-red"), KUBE_VERSION, strict=True
    )


def test_the_namespaces_locust_is_driven_through_the_service_proxy(team, apiserver, tmp_path):
    """No pod runs here, so the API server has no endpoints for svc/locust (it answers 404 for them):
    the request is made through the proxy, and the failure comes back as one line, not a traceback."""
    started = cli(apiserver, tmp_path, "load", "start", "-u", "5")
    assert started.returncode == 1
    assert started.stderr.startswith('chaoslab: talking to Locust in chaoslab-red: HTTP 404 (services "locust"')
    assert len(started.stderr.strip().splitlines()) == 1


def test_an_unreachable_cluster_is_one_line_and_exit_1(tmp_path):
    from chaoslab.local.ports import free_port

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'https://127.0.0.1:{free_port()}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: gone, context: {cluster: gone, user: u}}]\n"
    )
    result = cli(kubeconfig, tmp_path, "fault", "list")
    assert result.returncode == 1
    assert result.stderr.startswith("chaoslab: asking the API server who we are: the Kubernetes API did not answer")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_scenario_note_is_swapped_in_the_configmap_never_overwritten(team, api):
    """The compare-and-swap that keeps two commands at once from undoing each other (chaos.journal.
    change_note), on the real API server: the resourceVersion makes the read and the write one."""
    from chaoslab.chaos.journal import SCENARIO, change_note
    from chaoslab.kubernetes.store import ConfigMapStore

    alice, bob = ConfigMapStore(api, NAMESPACE), ConfigMapStore(api, NAMESPACE)
    alice.delete(SCENARIO)
    assert alice.swap(SCENARIO, "", '{"run": "run-1", "expires_at": 100}')
    assert not bob.swap(SCENARIO, "", '{"run": "run-2"}'), "a second start claimed a note that exists"

    def later_while_bob_stops(note: dict) -> None:
        bob.delete(SCENARIO)  # bob's stop lands between alice's read and her write
        note["expires_at"] += 60

    assert change_note(alice, SCENARIO, later_while_bob_stops) is None
    assert alice.read(SCENARIO) == ""
