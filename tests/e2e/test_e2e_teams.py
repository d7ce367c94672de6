"""A cohort on real pods (`make platform`, `make teams`, `make team-kubeconfig`): two teams fenced off
from each other by RBAC and by the network, the instructor seeing both and running a GameDay for both,
each team's memory measured under the default load and held by its quota."""

from __future__ import annotations

import json
import os
import re
import time
import zipfile

import pytest
import requests
import yaml
from kubernetes import client

from chaoslab.incident.mystery import draw
from clusterkit import REPORTS, ROOT, available, chaoslab, connects, kubectl, make, pod_names, published, run
from support import poll_until

pytestmark = pytest.mark.timeout(1200)
TEAMS = ("red", "blue")
PLATFORM = "chaoslab-platform"
BUDGET_MIB = 500  # one team's requests


@pytest.fixture(scope="module")
def cohort(api):
    make("platform", TEAMS=" ".join(TEAMS))
    make("teams", TEAMS=" ".join(TEAMS))
    for team in TEAMS:
        poll_until(lambda t=team: available(api, f"chaoslab-{t}"), f"team {team} Available", timeout=300, interval=2)
    yield
    for team in TEAMS:
        make("team-down", TEAM=team)


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


def workload_requests(api, namespace: str, resource: str = "memory") -> dict[str, float]:
    """What each long-running workload (Deployments and StatefulSets) requests: MiB of memory, or
    millicores of CPU."""
    apps = client.AppsV1Api(api)
    workloads = [*apps.list_namespaced_deployment(namespace).items, *apps.list_namespaced_stateful_set(namespace).items]
    amount = mebibytes if resource == "memory" else millicores
    return {
        w.metadata.name: sum(
            amount(c.resources.requests[resource]) * w.spec.replicas for c in w.spec.template.spec.containers
        )
        for w in workloads
    }


def millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def summary(node: str) -> dict:
    """The kubelet's summary of ``node`` (its pods' working sets), through the API server."""
    return json.loads(kubectl("get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary").stdout)


def test_memory_and_cpu_per_pod_under_the_default_load_fit_the_requests_and_the_budget(cohort, api):
    """Working sets and CPU from the kubelet's summary API (through the API server) while each team's
    Locust runs the default load; the requests in values.yaml were set from these figures. It runs
    first in this module, before any drill: a drill leaves its mark on a working set (the latency
    drill's waiting threads grew service-b by 10 MiB), and a request is for a team at its start.
    PostgreSQL's working set is mostly the page cache of the data it wrote, which differs from team to
    team under the same load (68 and 97 MiB in one run) and which the kernel reclaims before it would
    kill: its request is held between its own memory (rss, the same in every team) and its working set."""
    for team in TEAMS:
        chaoslab(f"chaoslab-{team}", "load", "start")
    try:
        time.sleep(120)  # the measurement's warm-up: working sets grow for the first minutes of load
        nodes = [n.metadata.name for n in client.CoreV1Api(api).list_node().items]
        samples = []
        for _ in range(4):
            samples.append([summary(node) for node in nodes])
            time.sleep(15)
    finally:
        for team in TEAMS:
            chaoslab(f"chaoslab-{team}", "load", "stop", check=False)

    peak: dict[tuple[str, str], float] = {}
    rss: dict[tuple[str, str], float] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for sample in samples:
        for pod in (pod for node in sample for pod in node["pods"]):
            name = pod["podRef"]["name"]
            workload = "postgres" if name == "postgres-0" else name.rsplit("-", 2)[0]
            key = (pod["podRef"]["namespace"], workload)
            working_set = sum(c["memory"].get("workingSetBytes", 0) for c in pod.get("containers", [])) / 2**20
            peak[key] = max(peak.get(key, 0.0), working_set)
            own = sum(c["memory"].get("rssBytes", 0) for c in pod.get("containers", [])) / 2**20
            rss[key] = max(rss.get(key, 0.0), own)
            used = sum(c.get("cpu", {}).get("usageNanoCores", 0) for c in pod.get("containers", [])) / 1e6
            cpu.setdefault(key, []).append(used)
    in_use = max(sum(node["node"]["memory"]["workingSetBytes"] for node in sample) for sample in samples)
    report = {"nodes": nodes, "nodes_working_set_mib": in_use / 2**20, "teams": {}}
    for namespace in [f"chaoslab-{t}" for t in TEAMS] + [PLATFORM]:
        requested = workload_requests(api, namespace)
        requested_cpu = workload_requests(api, namespace, "cpu")
        report["teams"][namespace] = {
            w: {
                "working_set_mib": round(peak.get((namespace, w), 0.0), 1),
                "rss_mib": round(rss.get((namespace, w), 0.0), 1),
                "request_mib": r,
                "cpu_millicores": round(sum(cpu.get((namespace, w), [0])) / len(cpu.get((namespace, w), [0])), 1),
                "request_millicores": requested_cpu[w],
            }
            for w, r in requested.items()
        }
    (REPORTS / "memory.json").write_text(json.dumps(report, indent=2))
    for namespace, pods in report["teams"].items():  # the cost per team, as a cohort runs it
        mib = sum(p["working_set_mib"] for p in pods.values())
        millicores = sum(p["cpu_millicores"] for p in pods.values())
        print(f"{namespace}: {millicores:.0f} m of CPU, {mib:.0f} MiB of working set: {json.dumps(pods)}")

    for team in TEAMS:
        total = sum(p["request_mib"] for p in report["teams"][f"chaoslab-{team}"].values())
        assert total <= BUDGET_MIB, f"team {team} requests {total} MiB"
    # Requests are what a team's pod uses under the default load, give or take: a request far below it
    # lets the node overcommit, far above it wastes the cohort's room. One request serves every team, so
    # it is held against the cohort's mean.
    for workload in report["teams"][f"chaoslab-{TEAMS[0]}"]:
        seen = [report["teams"][f"chaoslab-{team}"][workload] for team in TEAMS]
        request_mib, request_m = seen[0]["request_mib"], seen[0]["request_millicores"]
        mib = sum(f["working_set_mib"] for f in seen) / len(seen)
        if workload == "postgres":  # its own memory under the request, its page cache above it
            own = sum(f["rss_mib"] for f in seen) / len(seen)
            assert 0 < own <= request_mib <= 1.2 * mib, f"{workload}: {own:.1f} MiB own, {mib:.1f} in all, {seen}"
        else:
            assert abs(mib - request_mib) <= max(0.2 * request_mib, 4), f"{workload}: {mib:.1f} MiB, {seen}"  # 4: Redis
        # The same for CPU, the resource a cohort's node runs out of first (3 m: the prober's 1 m).
        millicores = sum(f["cpu_millicores"] for f in seen) / len(seen)
        assert abs(millicores - request_m) <= max(0.2 * request_m, 3), f"{workload}: {millicores:.1f} m, {seen}"


def test_a_trainee_is_refused_by_rbac_in_the_other_teams_namespace(cohort, api):
    make("team-kubeconfig", TEAM="red")
    kubeconfig = ROOT / "kubeconfig-red.yaml"
    try:
        own = run("kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-o", "name")
        assert "pod/service-a-" in own.stdout
        other = run("kubectl", "--kubeconfig", str(kubeconfig), "-n", "chaoslab-blue", "get", "pods", check=False)
        assert other.returncode != 0 and "Forbidden" in other.stderr, other.stderr
        refused = chaoslab("chaoslab-blue", "fault", "list", check=False, kubeconfig=str(kubeconfig))
        assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
        assert chaoslab("chaoslab-red", "fault", "list", kubeconfig=str(kubeconfig)).returncode == 0
    finally:
        kubeconfig.unlink(missing_ok=True)


def test_a_pod_of_one_team_cannot_connect_to_the_other_teams_services(cohort, api):
    for team, other in (("red", "blue"), ("blue", "red")):
        pod = pod_names(f"chaoslab-{team}", "service-a")[0]
        assert connects(f"chaoslab-{team}", pod, "payment", 8083) == "ok", "its own namespace"
        assert connects(f"chaoslab-{team}", pod, f"payment.chaoslab-{other}.svc.cluster.local", 8083) != "ok", (
            f"{team} reached {other}'s payment"
        )


def test_the_instructor_sees_both_teams_and_their_traces(cohort, api, tmp_path):
    token = (
        client.CoreV1Api(api)
        .create_namespaced_service_account_token("instructor", PLATFORM, {"spec": {"expirationSeconds": 600}})
        .status.token
    )
    document = yaml.safe_load(open(os.environ["KUBECONFIG"]))  # kind's admin kubeconfig: its cluster entry
    document["users"] = [{"name": "instructor", "user": {"token": token}}]
    for context in document["contexts"]:
        context["context"]["user"] = "instructor"
    kubeconfig = tmp_path / "instructor.yaml"
    kubeconfig.write_text(yaml.safe_dump(document))
    listed = chaoslab("chaoslab-red", "teams", "--no-slo", kubeconfig=str(kubeconfig)).stdout
    assert {line.split()[0] for line in listed.splitlines()[1:]} >= set(TEAMS), listed
    for team in TEAMS:
        assert chaoslab(f"chaoslab-{team}", "fault", "list", kubeconfig=str(kubeconfig)).returncode == 0

    # Both teams' spans reach the platform's collector: its service graph has each team's ring.
    prometheus = published(30090)
    for team in TEAMS:
        kubectl(
            "-n",
            f"chaoslab-{team}",
            "exec",
            "deploy/service-a",
            "--",
            "chaoslab",
            "smoke",
            "--url",
            "http://service-a:8080",
            "--timeout",
            "60",
        )

    def teams_in_the_graph():
        result = requests.get(
            f"{prometheus}/api/v1/query",
            params={"query": 'traces_service_graph_request_total{client="service-a",server="service-b"}'},
            timeout=5,
        ).json()["data"]["result"]
        teams = {r["metric"].get("client_chaoslab_team") for r in result}
        return teams if set(TEAMS) <= teams else None

    poll_until(teams_in_the_graph, "both teams' edges in the platform's service graph", timeout=120, interval=2)


def smoke(team: str) -> None:
    """One checkout through the team's front door, from inside its namespace."""
    kubectl(
        "-n", f"chaoslab-{team}", "exec", "deploy/service-a", "--",
        "chaoslab", "smoke", "--url", "http://service-a:8080", "--timeout", "60",
    )  # fmt: skip


def cohort_board(token: str | None) -> str:
    """The platform console's cohort board, fetched from inside its own pod (the API server's proxy would
    not pass the instructor's Authorization header on)."""
    return platform_console("/cohort/board", token)


def platform_console(path: str, token: str | None = None) -> str:
    """A page of the platform console, fetched from inside its pod (``token``: as an instructor)."""
    header = "{'Authorization': 'Bearer ' + os.environ['CHAOSLAB_CONSOLE_TOKEN']}" if token else "{}"
    code = (
        "import os, urllib.error, urllib.request\n"
        f"request = urllib.request.Request('http://127.0.0.1:8090{path}', headers={header})\n"
        "try:\n    print(urllib.request.urlopen(request, timeout=30).read().decode())\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)"
    )
    return kubectl("-n", PLATFORM, "exec", "deploy/console", "--", "python3", "-c", code, timeout=60).stdout


def test_the_platform_console_shows_every_teams_graph_side_by_side(cohort, api):
    """`make platform` runs the console: its cohort page has a card per team, each drawn from
    the platform's Jaeger with the team's own calls, and it stays shut without the instructors' token."""
    assert cohort_board(token=None).strip() == "401"

    def both_rings():
        for team in TEAMS:
            smoke(team)
        html = cohort_board(token="yes")
        cards = {team: html.partition(f'<section class="panel card" data-team="{team}"')[2] for team in TEAMS}
        busy = re.compile(r'<g class="edge h-(?:healthy|degraded|failed)[^"]*" data-source="service-a" data-target')
        drawn = {t: len(busy.findall(card.split("</section>")[0])) for t, card in cards.items()}
        return drawn if all(drawn.values()) and "Scoreboard" in html else None

    drawn = poll_until(both_rings, "each team's calls on its card of the cohort page", timeout=180, interval=5)
    print(f"edges drawn per team on the cohort page: {drawn}")


def test_the_platform_console_records_a_teams_drill_for_the_debrief(cohort, api):
    """A drill in team red is recorded by the platform console while it runs: listed under the team's
    recordings and replayed there at the recording's clock; team blue, which ran none, has none."""
    recorded = re.compile(r'href="([0-9]{8}-[0-9]{6}-red[^"/]*)/console/"')
    chaoslab("chaoslab-red", "scenario", "start", "latency-500ms", "--no-load", "--ttl", "90")
    try:
        names = poll_until(
            lambda: recorded.findall(platform_console("/teams/red/replay/")),
            "team red's drill among its recordings",
            timeout=120,
            interval=5,
        )
    finally:
        chaoslab("chaoslab-red", "scenario", "stop", check=False)
    replay = platform_console(f"/teams/red/replay/{names[0]}/console/")
    assert 'id="replay"' in replay and "replay: team red" in replay, replay[:500]
    assert "No drill recorded yet" in platform_console("/teams/blue/replay/")


def test_a_gameday_starts_one_mystery_for_both_teams_and_ends_with_the_rooms_archive(cohort, api, tmp_path):
    """`gameday start --teams red,blue` draws one seeded mystery for both teams; the platform's Prometheus
    pages both (through its Alertmanager, to each team's pager); the room gets five more minutes and a break;
    red names the root cause and resolves; `gameday end` names the drill in each team, ranks red first and writes
    the archive."""
    drawn = draw(None, 1)  # latency-500ms: it pages within a minute or two
    room = ("--teams", ",".join(TEAMS))
    started = chaoslab("chaoslab-red", "gameday", "start", *room, "--mystery", "--seed", "1", "--ttl", "400")
    assert all(f"[{team}] drill started (a mystery)" in started.stdout for team in TEAMS), started.stdout
    assert drawn.id not in started.stdout
    try:
        for team in TEAMS:
            poll_until(
                lambda t=team: paged(f"chaoslab-{t}", drawn.alert),
                f"team {team} paged by {drawn.alert}",
                timeout=240,
                interval=5,
            )
        status = chaoslab("chaoslab-red", "gameday", "status", *room).stdout
        assert all(re.search(rf"{team} +\d+m\d+s left +INC-\d+", status) for team in TEAMS), status
        # every agent of both teams, through the API server's pod proxy
        more = chaoslab("chaoslab-red", "gameday", "extend", *room, "--by", "5m").stdout
        assert all(f"[{team}] drill extended by 5m00s" in more for team in TEAMS) and "warning" not in more, more
        red = "chaoslab-red"
        # a break for the room: the clocks stand still and red's moves wait; resumed, they count again
        paused = chaoslab(red, "gameday", "pause", *room, "--for", "10m").stdout
        assert all(f"[{team}] on a break until" in paused for team in TEAMS) and "warning" not in paused, paused
        waiting = chaoslab(red, "incident", "ack", check=False)
        assert waiting.returncode != 0 and "on a break" in waiting.stderr, waiting.stdout + waiting.stderr
        resumed = chaoslab(red, "gameday", "resume", *room).stdout
        assert all(f"[{team}] the break is over" in resumed for team in TEAMS), resumed
        chaoslab(red, "incident", "ack")
        cause = drawn.root_cause
        chaoslab(red, "incident", "rootcause", "--service", cause["service"], "--kind", cause["kind"])
        chaoslab(red, "incident", "resolve", "--unverified")
    finally:
        archive = tmp_path / "day.zip"
        ended = chaoslab("chaoslab-red", "gameday", "end", *room, "-o", str(archive), check=False)
    assert ended.returncode == 0, ended.stdout + ended.stderr
    assert all(f"[{team}] drill {drawn.id} stopped" in ended.stdout for team in TEAMS), ended.stdout
    with zipfile.ZipFile(archive) as day:
        board = json.loads(day.read("scoreboard.json"))
        assert [s["team"] for s in board][:1] == ["red"] and {s["team"] for s in board} == set(TEAMS), board
        assert board[0]["stage"] == "root cause" and all(s["scenario"] == drawn.id for s in board), board
        assert all(s["paused_s"] > 0 for s in board), board  # the break, left out of every time
        assert any(n.startswith("blue/INC-") for n in day.namelist()), day.namelist()
        assert "/teams/red/replay/" in day.read("README.md").decode()


def test_the_cohorts_pods_carry_the_spread_and_are_shared_out_over_the_nodes(cohort, api):
    """Every running pod of each team carries the chart's soft spread over the nodes (scheduling.spread),
    and with several nodes (`make e2e` runs a control plane and two workers, as `make cluster WORKERS=2`)
    each team's pods run on more than one; on one node (`E2E_WORKERS=0`) the spread schedules them all there."""
    core = client.CoreV1Api(api)
    nodes = [n.metadata.name for n in core.list_node().items]
    for team in TEAMS:
        pods = [p for p in core.list_namespaced_pod(f"chaoslab-{team}").items if p.status.phase == "Running"]
        assert len(pods) >= 8, f"team {team}: {len(pods)} pods running"
        for pod in pods:
            spread = pod.spec.topology_spread_constraints or []
            assert [(c.topology_key, c.when_unsatisfiable) for c in spread] == [
                ("kubernetes.io/hostname", "ScheduleAnyway")
            ], pod.metadata.name
        placed = {p.spec.node_name for p in pods}
        print(f"team {team}'s pods run on {sorted(placed)} of {len(nodes)} node(s)")
        assert len(placed) >= min(2, len(nodes)), f"team {team}'s pods all run on {placed} of {nodes}"


def paged(namespace: str, alert: str) -> bool:
    """Whether an incident opened by the alerts has ``alert`` firing (the team's pager puts it there)."""
    found = json.loads(chaoslab(namespace, "incident", "list", "--json").stdout)
    return any(i["detected_by"] == "alerting" and alert in i["firing"] for i in found)


def test_the_quota_holds(cohort, api):
    namespace = "chaoslab-red"
    quota = client.CoreV1Api(api).read_namespaced_resource_quota("chaoslab-team", namespace)
    assert mebibytes(quota.status.used["requests.memory"]) <= mebibytes(quota.status.hard["requests.memory"])
    apps = client.AppsV1Api(api)
    apps.patch_namespaced_deployment_scale("service-b", namespace, {"spec": {"replicas": 12}})
    try:

        def refused():
            for rs in apps.list_namespaced_replica_set(
                namespace, label_selector="app.kubernetes.io/name=service-b"
            ).items:
                for condition in rs.status.conditions or []:
                    if condition.type == "ReplicaFailure" and "exceeded quota" in (condition.message or ""):
                        return condition.message
            return None

        message = poll_until(refused, "the quota to refuse service-b's extra pods", timeout=60, interval=1)
        assert "requests.memory" in message or "pods" in message, message
        assert len(pod_names(namespace, "service-b")) < 12
    finally:
        apps.patch_namespaced_deployment_scale("service-b", namespace, {"spec": {"replicas": 1}})
    poll_until(lambda: available(api, namespace), "team red Available again", timeout=180, interval=2)
