"""The Helm chart, checked with real helm and the Kubernetes 1.34 schemas, and its house rules."""

from __future__ import annotations

import subprocess

import kubernetes_validate
import pytest

from chaoslab.topology import COMPONENTS, peer_address
from kubesupport import CHART, KUBE_VERSION, VALUES_FILES, render

VALUES = [str(p.relative_to(CHART)) for p in VALUES_FILES]
WORKLOADS = ("Deployment", "StatefulSet")


def pod_specs(docs):
    for doc in docs:
        if doc["kind"] in WORKLOADS + ("Job",):
            yield doc, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield doc, doc["spec"]


@pytest.mark.parametrize("values", [None, *VALUES])
def test_lint_strict(helm, values):
    extra = ["-f", str(CHART / values)] if values else []
    result = subprocess.run([helm, "lint", "--strict", str(CHART), *extra], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", VALUES)
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(helm, values):
    docs = render(helm, "-f", str(CHART / values))
    assert docs
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{values}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}") from None


@pytest.fixture(scope="module")
def default(helm):
    return render(helm)


def test_every_container_has_resources_and_a_locked_down_security_context(default):
    for doc, spec in pod_specs(default):
        pod_ctx = spec.get("securityContext", {})
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container.get("resources", {}).get(kind, {})), f"{where}: {kind}"
            ctx = container.get("securityContext", {})
            assert pod_ctx.get("runAsNonRoot") or ctx.get("runAsNonRoot"), f"{where}: runAsNonRoot"
            assert ctx.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities"


def test_every_long_running_container_has_liveness_and_readiness_probes(default):
    for doc, spec in pod_specs(default):
        if doc["kind"] not in WORKLOADS:
            continue
        for container in spec["containers"]:
            assert "livenessProbe" in container and "readinessProbe" in container, (
                f"{doc['metadata']['name']}/{container['name']}"
            )


def service_specs(docs) -> dict[str, dict]:
    """The pod spec of every workload labelled a service, by name."""
    return {
        doc["metadata"]["name"]: spec
        for doc, spec in pod_specs(d for d in docs if d["kind"] in WORKLOADS)
        if doc["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "service"
    }


SERVICES = {c.name for c in COMPONENTS}


def test_services_probe_their_health_endpoints(default):
    services = service_specs(default)
    assert set(services) == SERVICES, "the probes of every service, and only of the services, are checked"
    for spec in services.values():
        container = spec["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"


def test_no_image_is_latest_or_untagged(helm, default):
    for _doc, spec in pod_specs(default):
        for container in spec["containers"]:
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image
    result = subprocess.run(
        [helm, "template", "x", str(CHART), "--kube-version", KUBE_VERSION, "--set", "image.tag=latest"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "/image/tag" in result.stderr


def test_selectors_are_stable_across_upgrades(helm, default):
    upgraded = render(helm, "--set", "image.tag=9.9.9", "--set", "components.service-a.replicas=3", "--set", "team=lab")

    def selectors(docs):
        return {
            (d["kind"], d["metadata"]["name"]): d["spec"]["selector"]
            for d in docs
            if d["kind"] in WORKLOADS + ("Service",)
        }

    assert selectors(default) == selectors(upgraded)
    for doc in default:
        if doc["kind"] in WORKLOADS:
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items()
            assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}


def test_ports_and_peers_agree_with_the_topology(default):
    deployments = {d["metadata"]["name"]: d for d in default if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in default if d["kind"] == "Service"}
    for component in COMPONENTS:
        container = deployments[component.name]["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == component.ports, component.name
        env = {e["name"]: e.get("value") for e in container["env"]}
        for port_name, port in component.ports.items():
            assert env[f"{component.env_prefix}{port_name.upper()}_PORT"] == str(port)
        for setting, (peer, port_name) in component.peers.items():
            from chaoslab.topology import component as lookup

            assert env[component.env_prefix + setting.upper()] == peer_address(
                port_name, peer, lookup(peer).ports[port_name]
            ), f"{component.name}.{setting}"
        exposed = {p["name"]: p["port"] for p in services[component.name]["spec"]["ports"]}
        assert exposed == {k: v for k, v in component.ports.items() if k != "admin"}, component.name


def test_the_schema_refuses_bad_values(helm):
    for setting in ("components.service-a.replicas=-1", "team=Not_A_Label", "frontDoor.nodePort=80"):
        result = subprocess.run(
            [helm, "template", "x", str(CHART), "--kube-version", KUBE_VERSION, "--set", setting],
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0 and "at '/" in result.stderr, setting


def test_helm_test_hook_checks_a_checkout(default):
    hooks = [d for d in default if d["kind"] == "Pod" and d["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    assert len(hooks) == 1 and hooks[0]["spec"]["containers"][0]["args"][:3] == [
        "smoke",
        "--url",
        "http://service-a:8080",
    ]


def test_every_address_of_a_service_follows_its_port_setting(helm):
    """Peers, Locust, the prober and helm test address a service through its port in components."""
    docs = render(
        helm, "--set", "components.service-a.ports.http=8000", "--set", "components.service-c.ports.grpc=50099"
    )

    def env(name: str) -> dict[str, str]:
        (spec,) = [s for d, s in pod_specs(docs) if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
        return {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}

    assert env("service-c")["SERVICE_C_SERVICE_A_URL"] == "http://service-a:8000"
    assert env("service-b")["SERVICE_B_SERVICE_C_ADDR"] == "service-c:50099"
    assert env("locust")["LOCUST_HOST"] == env("prober")["PROBER_FRONT_DOOR_URL"] == "http://service-a:8000"
    (hook,) = [d for d in docs if d["kind"] == "Pod"]
    assert hook["spec"]["containers"][0]["args"][2] == "http://service-a:8000"


TEAM_BUDGET_MIB = 500
"""One team's stack in memory requests (platform counted separately): the working sets measured on kind, the
synthetic prober and the team's pager included (493 MiB), with a little room."""


def test_memory_requests_of_one_team_fit_the_budget(helm):
    team = render(helm, "-f", str(CHART / "profiles" / "team.yaml"))
    total = 0
    for _, spec in pod_specs([d for d in team if d["kind"] in WORKLOADS]):
        for container in spec["containers"]:
            total += _mebibytes(container["resources"]["requests"]["memory"])
    assert total <= TEAM_BUDGET_MIB, f"{total} MiB"


def _mebibytes(quantity: str) -> int:
    if quantity.endswith("Mi"):
        return int(quantity[:-2])
    if quantity.endswith("Gi"):
        return int(quantity[:-2]) * 1024
    raise ValueError(quantity)


def test_three_teams_render_valid_and_isolated(helm):
    """The cohort layout: one release per team namespace, each with its own fence."""
    for team in ("red", "blue", "green"):
        namespace = f"chaoslab-{team}"
        docs = render(helm, "-f", str(CHART / "profiles" / "team.yaml"), "--set", f"team={team}", namespace=namespace)
        for doc in docs:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
        binding = by_kind[("RoleBinding", "chaoslab-trainee")]
        assert {(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]} == {
            ("ServiceAccount", "trainee", namespace),
            ("Group", f"chaoslab:team:{team}", None),
        }
        assert by_kind[("ClusterRole", f"chaoslab-team-{team}-namespace")]["rules"][0]["resourceNames"] == [namespace]
        assert ("ResourceQuota", "chaoslab-team") in by_kind and ("LimitRange", "chaoslab-team") in by_kind
        policy = by_kind[("NetworkPolicy", "chaoslab-team-isolation")]["spec"]
        assert policy["podSelector"] == {} and policy["policyTypes"] == ["Ingress"]
        assert all(d["metadata"]["labels"]["chaoslab.io/team"] == team for d in docs)
        assert not any(d["kind"] == "Deployment" and d["metadata"]["name"] in ("jaeger", "prometheus") for d in docs)


def test_readiness_waits_longer_than_the_services_own_dependency_wait(default):
    """A readiness probe that times out before /health/ready answers hides the reason it would give:
    the handler waits up to the pool timeout for PostgreSQL, then the Redis timeout."""
    from chaoslab.settings import Common, load

    common = load(Common, {})
    longest_answer = common.db_pool_timeout_s + common.redis_timeout_s
    services = service_specs(default)
    assert set(services) == SERVICES, "the readiness probe of every service is checked"
    for name, spec in services.items():
        probe = spec["containers"][0]["readinessProbe"]
        assert probe["timeoutSeconds"] > longest_answer, name


def test_postgres_can_run_without_a_storage_provisioner(helm):
    docs = render(helm, "--set", "postgres.persistence.enabled=false")
    postgres = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "postgres")
    assert "volumeClaimTemplates" not in postgres["spec"]
    volumes = {v["name"]: v for v in postgres["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def test_datastores_run_as_the_user_of_their_image_and_say_how_they_are_configured(helm):
    docs = render(helm, "--set", "postgres.uid=999", "--set", "redis.uid=1001")
    by_name = {d["metadata"]["name"]: d for d in docs if d["kind"] in WORKLOADS}
    postgres = by_name["postgres"]["spec"]["template"]["spec"]
    assert postgres["securityContext"]["runAsUser"] == postgres["securityContext"]["fsGroup"] == 999
    env = {e["name"]: e.get("value") for e in postgres["containers"][0]["env"]}
    assert env["POSTGRES_INITDB_ARGS"] == "--encoding=UTF8 --locale=C"
    redis = by_name["redis"]["spec"]["template"]["spec"]
    assert redis["securityContext"]["runAsUser"] == redis["securityContext"]["fsGroup"] == 1001
    args = redis["containers"][0]["args"]
    assert args[args.index("--protected-mode") + 1] == "no"


@pytest.mark.parametrize(
    "part,deployment", [("collector", "otel-collector"), ("jaeger", "jaeger"), ("prometheus", "prometheus")]
)
def test_each_observability_part_can_be_switched_off_alone(helm, part, deployment):
    docs = render(helm, "--set", f"observability.{part}.enabled=false")
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert deployment not in deployments
    assert {"otel-collector", "jaeger", "prometheus"} - {deployment} <= deployments
    env = {
        e["name"]: e.get("value")
        for e in next(d for d in docs if d["metadata"]["name"] == "service-a" and d["kind"] == "Deployment")["spec"][
            "template"
        ]["spec"]["containers"][0]["env"]
    }
    if part == "collector":
        assert env["OTEL_TRACES_EXPORTER"] == "none"
    else:
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    if part == "jaeger":
        config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "otel-collector")
        assert "jaeger" not in config["data"]["config.yaml"]


def test_the_single_team_lab_has_a_trainee_to_hand_a_kubeconfig_to(default):
    """`make deploy` then `make team-kubeconfig`: the default release has the trainee to hand one to."""
    by_kind = {(d["kind"], d["metadata"]["name"]) for d in default}
    assert {("ServiceAccount", "trainee"), ("Role", "chaoslab-trainee"), ("RoleBinding", "chaoslab-trainee")} <= by_kind


def test_the_platforms_prometheus_scrapes_its_own_collector_too(helm):
    docs = render(helm, "-f", str(CHART / "profiles" / "platform.yaml"), namespace="chaoslab-platform")
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prometheus")
    import yaml

    scrape = yaml.safe_load(config["data"]["prometheus.yml"])["scrape_configs"][0]
    names = scrape["kubernetes_sd_configs"][0]["namespaces"]["names"]
    assert names[0] == "chaoslab-platform" and {"chaoslab-red", "chaoslab-blue", "chaoslab-green"} <= set(names)


def test_the_reaper_may_read_what_reap_reads(default):
    rules = next(d for d in default if d["kind"] == "Role" and d["metadata"]["name"] == "chaos-reaper")["rules"]
    granted = {(r, v) for rule in rules for r in rule["resources"] for v in rule["verbs"]}
    assert {("namespaces", "get"), ("secrets", "get"), ("pods", "list"), ("deployments", "patch")} <= granted


def alertmanager_config(docs) -> dict:
    import yaml

    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "alertmanager")
    return yaml.safe_load(config["data"]["alertmanager.yml"])


def test_the_platforms_alertmanager_notifies_each_teams_pager_and_amtool_accepts_it(helm, amtool, tmp_path):
    import yaml

    from chaoslab.alerts.definitions import INHIBITIONS

    docs = render(helm, "-f", str(CHART / "profiles" / "platform.yaml"), namespace="chaoslab-platform")
    config = alertmanager_config(docs)
    routes = {r["receiver"]: r["matchers"] for r in config["route"]["routes"]}
    teams = ("chaoslab-red", "chaoslab-blue", "chaoslab-green")
    assert routes == {ns: [f'namespace="{ns}"'] for ns in teams}, "the platform has no pager of its own"
    urls = {r["name"]: [w["url"] for w in r.get("webhook_configs", [])] for r in config["receivers"]}
    assert urls["chaoslab-red"] == ["http://pager.chaoslab-red.svc:9095/alerts"] and urls["cohort"] == []
    assert len(config["inhibit_rules"]) == len(INHIBITIONS)
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        [amtool, "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    prometheus = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prometheus")
    alerting = yaml.safe_load(prometheus["data"]["prometheus.yml"])["alerting"]
    assert alerting == {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]}

    hook = "observability.alertmanager.webhookUrl=https://chat.example/hook"
    hooked = alertmanager_config(render(helm, "--set", hook, namespace="chaoslab-red"))
    urls = {r["name"]: [w["url"] for w in r.get("webhook_configs", [])] for r in hooked["receivers"]}
    assert urls == {
        "cohort": ["https://chat.example/hook"],
        "chaoslab-red": ["http://pager.chaoslab-red.svc:9095/alerts", "https://chat.example/hook"],
    }


def pager_of(docs) -> dict | None:
    """The pager's container, if the release runs one."""
    found = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "pager"]
    return found[0]["spec"]["template"]["spec"]["containers"][0] if found else None


def test_the_pager_reads_the_alertmanager_there_is_and_the_reaper_never_writes_the_board(default, helm):
    env = {e["name"]: e["value"] for e in pager_of(default)["env"]}
    assert env == {"CHAOSLAB_ALERTS_ALERTMANAGER_URL": "http://alertmanager:9093"}
    team = render(helm, "-f", str(CHART / "profiles" / "team.yaml"))
    assert pager_of(team)["env"][0]["value"] == "http://alertmanager.chaoslab-platform.svc:9093"
    assert pager_of(render(helm, "--set", "observability.enabled=false")) is None, "no Alertmanager, no pager"
    rules = next(d for d in default if d["kind"] == "Role" and d["metadata"]["name"] == "chaos-reaper")["rules"]
    assert not any("configmaps" in r["resources"] for r in rules)
    pager_rules = next(d for d in default if d["kind"] == "Role" and d["metadata"]["name"] == "pager")["rules"]
    assert {(r, v) for rule in pager_rules for r in rule["resources"] for v in rule["verbs"]} == {
        ("namespaces", "get"),
        ("configmaps", "get"),
        ("configmaps", "update"),
        ("configmaps", "patch"),
        ("configmaps", "create"),
    }
