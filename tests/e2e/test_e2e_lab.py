"""One team's lab as `make deploy` installs it, on real pods: probes, a checkout as one trace across
every pod, the service graph in Prometheus, paging through Alertmanager, the drills, and the faults
Kubernetes itself performs."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import yaml
from kubernetes import client

from chaoslab.chaos import checks, scenarios
from chaoslab.chaos.kubernetes.probes import KubernetesProbe
from chaoslab.kubernetes.load import KubernetesLoadStats
from chaoslab.topology import COMPONENTS
from clusterkit import chaoslab, checkout, connects, kubectl, make, pod_names, published, run
from support import poll_until

pytestmark = pytest.mark.timeout(900)
SERVICES = {c.name for c in COMPONENTS}


def test_every_deployment_is_available_with_its_probes_as_written_and_nothing_restarted(api, lab):
    manifest = run("helm", "get", "manifest", "lab", "-n", lab).stdout
    rendered = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(manifest)
        if d and d["kind"] in ("Deployment", "StatefulSet")
    }
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    live = {d.metadata.name: d for d in apps.list_namespaced_deployment(lab).items}
    live.update({s.metadata.name: s for s in apps.list_namespaced_stateful_set(lab).items})
    assert set(live) == set(rendered)
    for name, workload in live.items():
        assert (workload.status.ready_replicas or 0) == workload.spec.replicas, f"{name} is not ready"
        written = rendered[name]["spec"]["template"]["spec"]["containers"][0]
        running = api.sanitize_for_serialization(workload.spec.template.spec.containers[0])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in written:  # as written: every field the chart set, unchanged (the API adds defaults)
                assert within(written[probe], running[probe]), f"{name} {probe}: {written[probe]} vs {running[probe]}"
    for pod in core.list_namespaced_pod(lab).items:
        if pod.metadata.labels.get("app.kubernetes.io/name") in ("migrate", "chaos-reaper", "test-checkout"):
            continue
        restarts = {s.name: s.restart_count for s in pod.status.container_statuses or []}
        assert set(restarts.values()) == {0}, f"{pod.metadata.name} restarted on a fresh install: {restarts}"
    jobs = client.BatchV1Api(api).list_namespaced_job(lab, label_selector="app.kubernetes.io/name=migrate").items
    assert jobs and all(j.status.succeeded == 1 for j in jobs)


def test_the_single_team_lab_hands_its_trainees_a_kubeconfig(api, lab):
    """`make deploy` then `make team-kubeconfig` (the trainee ServiceAccount was once missing)."""
    from clusterkit import ROOT

    make("team-kubeconfig", TEAM="lab")
    kubeconfig = ROOT / "kubeconfig-lab.yaml"
    try:
        assert "pod/service-a-" in run("kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-o", "name").stdout
        assert chaoslab(lab, "fault", "list", kubeconfig=str(kubeconfig)).returncode == 0
    finally:
        kubeconfig.unlink(missing_ok=True)


def within(written, running) -> bool:
    """Every field written is there with the same value; the API server may have added defaults."""
    if isinstance(written, dict):
        return isinstance(running, dict) and all(k in running and within(v, running[k]) for k, v in written.items())
    return written == running


def test_a_checkout_through_the_front_door_is_one_trace_across_every_pod(api, lab):
    response = checkout(published(30080), f"e2e-trace-{uuid.uuid4()}")
    assert response.status_code == 201, response.text
    trace_id = response.headers["X-Trace-Id"]
    jaeger = published(30686)

    def every_service_in_the_trace():
        import requests

        data = requests.get(f"{jaeger}/api/traces/{trace_id}", timeout=5).json()["data"][0]
        pods: dict[str, set[str]] = {}
        for span in data["spans"]:
            process = data["processes"][span["processID"]]
            tags = {t["key"]: t["value"] for t in process["tags"]}
            pods.setdefault(process["serviceName"], set()).add(tags.get("k8s.pod.name"))
        return pods if set(pods) >= SERVICES else None

    pods = poll_until(every_service_in_the_trace, "the checkout's trace to hold a span of every service", timeout=90)
    for service in SERVICES:
        assert pods[service] == set(pod_names(lab, service)), f"{service}: spans from {pods[service]}"


def test_prometheus_scrapes_every_target_loads_the_rules_and_shows_the_rings_edges(api, lab):
    import requests

    prometheus = published(30090)
    url = published(30080)
    for n in range(5):
        assert checkout(url, f"e2e-graph-{uuid.uuid4()}-{n}").status_code == 201

    def targets_up():
        active = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        services = {t["labels"].get("service") for t in active if t["health"] == "up"}
        return services if SERVICES | {"otel-collector"} <= services else None

    poll_until(targets_up, "Prometheus to scrape the six services and the collector", timeout=120, interval=2)
    rules = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = [r for g in rules for r in g["rules"]]
    written = yaml.safe_load(open("charts/chaoslab/files/alerts.yaml"))
    assert len(loaded) == sum(len(g["rules"]) for g in written["groups"]) and all(r["health"] == "ok" for r in loaded)
    poll_until(
        lambda: requests.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()["data"]["activeAlertmanagers"],
        "Prometheus to find its Alertmanager",
        timeout=60,
        interval=2,
    )

    def every_edge():
        """A checkout each look: the collector pairs a client span with its server span within its
        store's 10 s, and an edge whose pair missed that needs another call. Five checkouts up front,
        and nothing after, once left the ring short of an edge for the whole two minutes."""
        assert checkout(url, f"e2e-graph-{uuid.uuid4()}").status_code == 201
        edges = graph_edges(prometheus)
        assert edges >= RING, f"missing so far: {sorted(RING - edges)}"  # poll_until reports the last one
        return edges

    seen = poll_until(
        every_edge,
        f"the service graph's edges {sorted(RING)} in Prometheus",
        timeout=120,
        interval=2,
    )
    assert ("service-c", "service-a") not in seen  # no cycle until the deadlock drill


DATASTORES = {"postgres": "postgresql", "redis": "redis"}  # the servicegraph's names for them (db.system)
RING = (
    {(c.name, peer) for c in COMPONENTS for peer, _ in c.peers.values() if peer not in c.dormant}
    | {(c.name, DATASTORES[d]) for c in COMPONENTS for d in c.uses}
    | {("user", "service-a"), ("service-a", "worker")}  # the front door; the outbox's events through Redis
)
"""The edges a checkout draws in the service graph: every peer call but the dormant ones."""


def graph_edges(prometheus: str) -> set[tuple[str, str]]:
    import requests

    result = requests.get(
        f"{prometheus}/api/v1/query", params={"query": "traces_service_graph_request_total"}, timeout=5
    ).json()["data"]["result"]
    return {(r["metric"]["client"], r["metric"]["server"]) for r in result}


class Unmet(list):
    """The checks' results when one of them failed: false for poll_until, and shown when it gives up."""

    def __bool__(self) -> bool:
        return False


def holding(api, namespace: str, wanted) -> list:
    results = checks.observe(list(wanted), KubernetesProbe(api, namespace), KubernetesLoadStats(api, namespace))
    return results if all(r.ok for r in results) else Unmet(results)


def test_latency_drill_shows_its_symptom_and_recovers(api, lab, settled):
    drill = scenarios.get("latency-500ms")
    make("scenario-latency-500ms", TARGET="kubernetes", STATE_DIR=str(run_state()))
    try:
        poll_until(lambda: holding(api, lab, drill.symptom), "the latency drill's symptom", timeout=120, interval=0)
        reaches_the_board(lab, drill.alert)
    finally:
        chaoslab(lab, "scenario", "stop")
    chaoslab(lab, "load", "start", "-u", "10", "-r", "10", "--think-time", "0.5")
    try:
        poll_until(lambda: holding(api, lab, drill.slo), "the SLO after stop", timeout=180, interval=0)
    finally:
        chaoslab(lab, "load", "stop")


def paged(namespace: str, alert: str) -> bool:
    """Whether an incident opened by the alerts has ``alert`` firing (the team's pager puts it there)."""
    found = json.loads(chaoslab(namespace, "incident", "list", "--json").stdout)
    return any(i["detected_by"] == "alerting" and alert in i["firing"] for i in found)


def alertmanager(namespace: str, path: str):
    """Alertmanager's API (version 2) in the namespace, through the API server's service proxy."""
    proxy = f"/api/v1/namespaces/{namespace}/services/alertmanager:9093/proxy/api/v2/{path}"
    return json.loads(kubectl("get", "--raw", proxy).stdout)


def alert_states(namespace: str) -> dict[str, dict]:
    """The status (state, silencedBy, inhibitedBy) of each alert Alertmanager holds, by name."""
    return {a["labels"]["alertname"]: a["status"] for a in alertmanager(namespace, "alerts")}


def reaches_the_board(namespace: str, alert: str) -> None:
    """Prometheus sends ``alert`` to Alertmanager, and from there it is on the team's incident record
    within 30 s (Alertmanager's group wait, its notification, the pager's look)."""
    poll_until(
        lambda: alert in alert_states(namespace),
        f"Prometheus to send {alert} to Alertmanager",
        timeout=240,
        interval=1,
    )
    held = time.monotonic()
    poll_until(lambda: paged(namespace, alert), f"{alert} on the team's board within 30 s", timeout=30, interval=1)
    print(f"{alert} reached the board {time.monotonic() - held:.0f} s after Alertmanager had it")


def test_alertmanager_pages_the_board_holds_a_teams_silence_and_inhibits_a_symptom(api, lab, settled):
    """The Redis outage (Redis stopped for service-a and the worker): the outbox backlog pages, and once
    Redis's own errors fire, Alertmanager inhibits the backlog as a symptom of them. The team silenced
    the Redis errors beforehand (it knew): Alertmanager holds them back, and the silence ends with
    `alerts unsilence`."""
    drill = scenarios.get("redis-outage")
    said = chaoslab(
        lab, "alerts", "silence", "alertname=RedisErrors", "--for", "20m", "--reason", "Redis maintenance"
    ).stdout
    silence_id = said.split(":")[0]
    try:
        (mirrored,) = poll_until(
            lambda: [s for s in alertmanager(lab, "silences") if s["status"]["state"] == "active"],
            "the team's silence in Alertmanager",
            timeout=30,
            interval=1,
        )
        assert mirrored["comment"].startswith(silence_id)
        make("scenario-redis-outage", TARGET="kubernetes", STATE_DIR=str(run_state()))
        try:
            reaches_the_board(lab, drill.alert)
            states = poll_until(
                lambda: (s := alert_states(lab)).get("RedisErrors", {}).get("silencedBy") and s,
                "Alertmanager to hold RedisErrors back by the team's silence",
                timeout=180,
                interval=2,
            )
            assert states["RedisErrors"]["silencedBy"] == [mirrored["id"]]
            poll_until(
                lambda: alert_states(lab)[drill.alert]["inhibitedBy"],
                f"{drill.alert} inhibited while RedisErrors fires",
                timeout=60,
                interval=2,
            )
        finally:
            chaoslab(lab, "scenario", "stop")
    finally:
        chaoslab(lab, "alerts", "unsilence", silence_id)
        chaoslab(lab, "reset")
    poll_until(
        lambda: not [s for s in alertmanager(lab, "silences") if s["status"]["state"] == "active"],
        "the silence expired in Alertmanager after unsilence",
        timeout=30,
        interval=1,
    )


def test_deadlock_collapses_checkout_and_the_fix_restores_it(api, lab, settled):
    drill = scenarios.get("deadlock")
    make("scenario-deadlock", TARGET="kubernetes", STATE_DIR=str(run_state()))
    try:
        poll_until(lambda: holding(api, lab, drill.symptom), "checkout throughput to collapse", timeout=120, interval=0)
        poll_until(
            lambda: ("service-c", "service-a") in graph_edges(published(30090)),
            "the cycle's edge service-c → service-a in the service graph",
            timeout=120,
            interval=2,
        )
        chaoslab(lab, "scenario", "fix", "async-lookup")
        poll_until(lambda: holding(api, lab, drill.slo), "the SLO with the fix in", timeout=240, interval=0)
        status = chaoslab(lab, "scenario", "status").stdout
        assert "1/1 faults active" in status, status
    finally:
        chaoslab(lab, "scenario", "stop")
        chaoslab(lab, "reset")


def run_state():
    from clusterkit import REPORTS

    return REPORTS / "state"


def test_pod_kill_replaces_the_pod(api, lab, settled):
    before = set(pod_names(lab, "payment"))
    chaoslab(lab, "fault", "add", "pod_kill", "--service", "payment")
    poll_until(
        lambda: (now := set(pod_names(lab, "payment"))) and not now & before,
        "a new payment pod in place of the killed one",
        timeout=60,
    )


def test_scale_to_zero_takes_the_worker_away_until_the_fault_goes(api, lab, settled):
    apps = client.AppsV1Api(api)
    chaoslab(lab, "fault", "add", "scale_to_zero", "--service", "worker", "--ttl", "300")
    poll_until(lambda: not pod_names(lab, "worker"), "the worker's pods to be gone", timeout=60)
    assert apps.read_namespaced_deployment("worker", lab).spec.replicas == 0
    faults = json.loads(chaoslab(lab, "fault", "list", "--json").stdout)["faults"]
    (fault,) = [f for f in faults if f["kind"] == "scale_to_zero"]
    chaoslab(lab, "fault", "rm", fault["id"])
    poll_until(
        lambda: (apps.read_namespaced_deployment("worker", lab).status.ready_replicas or 0) == 1,
        "the worker back",
        timeout=120,
    )


def test_oom_kill_reaches_users_with_one_replica_and_is_undone(api, lab, settled):
    core = client.CoreV1Api(api)
    url = published(30080)
    chaoslab(lab, "fault", "add", "oom_kill", "limit_mi=40", "--service", "service-a", "--ttl", "300")
    try:

        def oom_killed():
            for pod in core.list_namespaced_pod(lab, label_selector="app.kubernetes.io/name=service-a").items:
                for status in pod.status.container_statuses or []:
                    for state in (status.state, status.last_state):
                        if state and state.terminated and state.terminated.reason == "OOMKilled":
                            return pod.metadata.name
            return None

        poll_until(oom_killed, "service-a's container to be OOMKilled", timeout=180, interval=1)

        def refused():
            try:
                return checkout(url, f"e2e-oom-{uuid.uuid4()}", timeout=5).status_code >= 500
            except OSError:
                return True  # no pod behind the front door: connection reset or refused

        poll_until(refused, "checkouts to fail while service-a crash-loops", timeout=120, interval=1)
    finally:
        chaoslab(lab, "fault", "reset")
    poll_until(
        lambda: checkout(url, f"e2e-oom-after-{uuid.uuid4()}", timeout=5).status_code == 201,
        "checkout to work again once the limit is restored",
        timeout=180,
        interval=2,
    )


def test_a_partition_is_enforced_by_the_cni_and_lifted_with_the_fault(api, lab, settled):
    pod = pod_names(lab, "service-a")[0]
    assert connects(lab, pod, "payment", 8083) == "ok"
    chaoslab(lab, "fault", "add", "network_partition", "--service", "service-a", "--peer", "payment", "--ttl", "300")
    try:
        poll_until(
            lambda: connects(lab, pod, "payment", 8083) != "ok",
            "the NetworkPolicy to refuse service-a's connections to payment",
            timeout=60,
            interval=1,
        )
        assert connects(lab, pod, "service-b", 50051) == "ok", "only the peer is cut off"
    finally:
        chaoslab(lab, "fault", "reset")
    poll_until(lambda: connects(lab, pod, "payment", 8083) == "ok", "the connection to work again", timeout=60)
    assert kubectl("-n", lab, "get", "networkpolicies", "-o", "name").stdout.strip() == ""
