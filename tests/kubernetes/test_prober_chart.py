"""The synthetic prober in the chart, rendered by real helm: a small pod of the lab's own image in each team's
namespace, wired to the front door from the topology, scraped by Prometheus, inside the team's quota and
reachable through its NetworkPolicy; and the switch that runs the real blackbox exporter in its place, with
Prometheus probing through it for the same journeys and labels."""

from __future__ import annotations

import dataclasses

import yaml

from chaoslab.alerts.synthetic import JOURNEYS, chart_document
from chaoslab.settings import Prober, env_name, load
from chaoslab.topology import FRONT_DOOR, PROBER, component, peer_address
from kubesupport import CHART, render

TEAM = ["-f", str(CHART / "profiles" / "team.yaml"), "--set", "team=red"]
BLACKBOX = ["--set", "prober.blackboxExporter.enabled=true"]


def deployment(docs: list[dict], name: str) -> dict | None:
    return next((d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name), None)


def scrape_jobs(docs: list[dict]) -> dict[str, dict]:
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prometheus"]
    return {job["job_name"]: job for job in yaml.safe_load(config["data"]["prometheus.yml"])["scrape_configs"]}


def test_each_team_runs_the_prober_from_the_labs_image_wired_to_its_front_door(helm):
    docs = render(helm, *TEAM, namespace="chaoslab-red")
    prober = deployment(docs, PROBER.name)
    assert prober is not None and prober["spec"]["replicas"] == 1, "one shopper, one order per probe"
    pod = prober["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"].startswith("chaoslab:") and container["args"] == ["serve", PROBER.name]
    assert [p["containerPort"] for p in container["ports"]] == [PROBER.port]
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(PROBER.port)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    env = {e["name"]: e["value"] for e in container["env"]}
    front_door = peer_address("http", FRONT_DOOR, component(FRONT_DOOR).http_port)
    assert env[env_name(Prober, "front_door_url")] == front_door
    assert env[env_name(Prober, "http_port")] == str(PROBER.port)
    defaults = load(Prober, {})
    assert float(env[env_name(Prober, "interval_s")]) == defaults.interval_s
    assert float(env[env_name(Prober, "timeout_s")]) == defaults.timeout_s
    documented = {env_name(Prober, f.name) for f in dataclasses.fields(Prober)}
    assert set(env) <= documented, "the chart sets only the prober's documented settings"
    assert deployment(render(helm, "--set", "prober.enabled=false"), PROBER.name) is None
    platform = render(helm, "-f", str(CHART / "profiles" / "platform.yaml"), namespace="chaoslab-platform")
    assert deployment(platform, PROBER.name) is None, "the platform has no front door of its own to probe"


def test_the_prober_fits_the_teams_quota_with_its_jobs_running(helm):
    """Every long-running pod of a team plus the three Jobs that can run beside them (migrations, the
    reaper, helm test) within the ResourceQuota's requests and pods."""
    docs = render(helm, *TEAM, namespace="chaoslab-red")
    (quota,) = [d for d in docs if d["kind"] == "ResourceQuota"]
    requested, pods = 0, 0
    for doc in docs:
        spec = {
            "Deployment": lambda d: d["spec"]["template"]["spec"],
            "StatefulSet": lambda d: d["spec"]["template"]["spec"],
            "Job": lambda d: d["spec"]["template"]["spec"],
            "CronJob": lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            "Pod": lambda d: d["spec"],
        }.get(doc["kind"])
        if spec is None:
            continue
        replicas = doc["spec"].get("replicas", 1) if doc["kind"] in ("Deployment", "StatefulSet") else 1
        pods += replicas
        for container in spec(doc)["containers"]:
            requested += replicas * int(container["resources"]["requests"]["memory"].removesuffix("Mi"))
    assert deployment(docs, PROBER.name) is not None
    assert requested <= int(quota["spec"]["hard"]["requests.memory"].removesuffix("Mi")), requested
    assert pods <= int(quota["spec"]["hard"]["pods"])


def test_the_team_fence_lets_the_prober_reach_service_a_and_the_platform_scrape_it(helm):
    """The isolation policy selects every pod of the namespace and admits, on any port, pods of the same
    namespace (the prober calling service-a) and the platform's namespace (its Prometheus scraping the
    prober's port); nothing else is needed, and other teams stay out."""
    docs = render(helm, *TEAM, namespace="chaoslab-red")
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"] == {} and policy["spec"]["policyTypes"] == ["Ingress"]
    open_to_all_ports = [rule["from"] for rule in policy["spec"]["ingress"] if "ports" not in rule]
    (peers,) = open_to_all_ports
    platform = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "chaoslab-platform"}}}
    assert {"podSelector": {}} in peers, "the namespace's own pods: the prober reaches service-a"
    assert platform in peers, "the platform's Prometheus scrapes the prober's port"
    assert len(peers) == 2, "and no one else: other teams stay out"


def test_the_platforms_prometheus_scrapes_every_teams_prober(helm):
    """The prober is a pod annotated for the `chaoslab` job, in a namespace the platform's Prometheus
    watches: its up and its probe_* samples get the service, team and namespace the rules group by."""
    platform = render(helm, "-f", str(CHART / "profiles" / "platform.yaml"), namespace="chaoslab-platform")
    job = scrape_jobs(platform)["chaoslab"]
    assert "chaoslab-red" in job["kubernetes_sd_configs"][0]["namespaces"]["names"]
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    assert {"service", "team", "namespace"} <= targets


def test_the_blackbox_exporter_can_run_in_the_probers_place_with_the_same_journeys(helm):
    docs = render(helm, *BLACKBOX, "--set-json", "prober.timeoutSeconds=2.5")
    prober = deployment(docs, PROBER.name)
    pod = prober["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"].startswith("prom/blackbox-exporter:v") and ":latest" not in container["image"]
    assert f"--web.listen-address=:{PROBER.port}" in container["args"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["chaoslab.io/prober"] == "blackbox"
    assert annotations["chaoslab.io/probe-target"] == peer_address("http", FRONT_DOOR, component(FRONT_DOOR).http_port)
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prober"]
    modules = yaml.safe_load(config["data"]["blackbox.yml"])["modules"]
    expected = chart_document()["blackbox"]["modules"]
    assert set(modules) == {j.name for j in JOURNEYS}
    for name, module in modules.items():
        assert module["timeout"] == "2500ms", "the prober's timeout, in a unit the exporter parses"
        assert {k: v for k, v in module.items() if k != "timeout"} == expected[name]


def test_prometheus_probes_through_the_blackbox_exporter_one_job_per_journey(helm):
    """Each journey is a job of its own: /probe with the journey's module, the front door's URL plus the
    journey's path as the target, and the labels the rules read (journey, service="prober", team)."""
    jobs = scrape_jobs(render(helm, *BLACKBOX))
    for journey in JOURNEYS:
        job = jobs[f"synthetic-{journey.name}"]
        assert job["metrics_path"] == "/probe" and job["params"] == {"module": [journey.name]}
        rules = job["relabel_configs"]
        keep = rules[0]
        assert keep["action"] == "keep" and keep["regex"] == "blackbox"
        assert keep["source_labels"] == ["__meta_kubernetes_pod_annotation_chaoslab_io_prober"]
        target = next(r for r in rules if r.get("target_label") == "__param_target")
        assert target["source_labels"] == ["__meta_kubernetes_pod_annotation_chaoslab_io_probe_target"]
        assert target["replacement"] == "${1}" + journey.path
        assert next(r for r in rules if r.get("target_label") == "journey")["replacement"] == journey.name
        assert {"service", "team", "namespace", "pod"} <= {r.get("target_label") for r in rules}
    chaoslab = jobs["chaoslab"]["relabel_configs"]
    assert chaoslab[0]["regex"] == "true", "the exporter's own /metrics (its up) is still scraped by annotation"


def test_the_schema_keeps_the_timeout_below_the_scrape(helm):
    import subprocess

    from kubesupport import KUBE_VERSION

    for setting in ("prober.timeoutSeconds=5", "prober.blackboxExporter.image=prom/blackbox-exporter:latest"):
        result = subprocess.run(
            [helm, "template", "x", str(CHART), "--kube-version", KUBE_VERSION, "--set", setting],
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0 and "at '/prober" in result.stderr, setting
