"""The platform's Grafana dashboards (chaoslab/dashboards.py, charts/chaoslab/files/dashboards/): in sync
with their generator, every query valid PromQL to promtool and naming only metrics that exist (the
services' own, as their modules register them, or the collector's servicegraph), and provisioned by
the chart as written."""

from __future__ import annotations

import importlib
import json
import re
import subprocess

import yaml
from prometheus_client import REGISTRY

from chaoslab import dashboards
from kubesupport import CHART, render

COLLECTOR = {"traces_service_graph_request_total", "traces_service_graph_request_failed_total"}
"""What the OpenTelemetry Collector's servicegraph connector exports (charts/chaoslab/templates/collector.yaml)."""
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",)}
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")


def exported() -> set[str]:
    """Every series name the services export: their modules register their metrics on import."""
    for service in ("service_a", "service_b", "service_c", "payment", "gateway", "worker"):
        importlib.import_module(f"chaoslab.services.{service}.app")
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
    return names


def queries() -> list[tuple[str, str]]:
    """(dashboard, PromQL) for every panel target, variable and annotation."""
    found = []
    for name in dashboards.DASHBOARDS:
        doc = json.loads((dashboards.FOLDER / name).read_text())
        found += [(name, t["expr"]) for p in doc["panels"] for t in p.get("targets", [])]
        found += [(name, a["expr"]) for a in doc["annotations"]["list"] if a.get("expr")]
    return found


def concrete(expr: str) -> str:
    """What Grafana sends Prometheus: its variables filled in."""
    return expr.replace("$__rate_interval", "1m").replace("$team", "red")


def test_the_dashboards_are_what_the_generator_writes():
    assert dashboards.main(["--check"]) == 0, "charts/chaoslab/files/dashboards/ is stale: make docs"


def test_every_query_is_valid_promql(promtool, tmp_path):
    rules = [{"record": f"dashboard:query{i}", "expr": concrete(expr)} for i, (_, expr) in enumerate(queries())]
    assert len(rules) >= 15
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_query_names_a_metric_that_exists():
    known = exported() | COLLECTOR
    found = queries()
    assert len(found) >= 15, "the dashboards' queries were not found"
    for name, expr in found:
        metrics = _SELECTOR.findall(expr)
        assert metrics, f"{name}: no metric selector found in {expr!r}, so nothing of it was checked"
        for metric in metrics:
            assert metric in known, f"{name}: {metric} is exported by no service (in {expr!r})"


def test_every_dashboard_has_the_team_variable_and_marks_deploys():
    for name in dashboards.DASHBOARDS:
        doc = json.loads((dashboards.FOLDER / name).read_text())
        assert [v["name"] for v in doc["templating"]["list"]] == ["team"], name
        (deploys,) = doc["annotations"]["list"]
        assert "chaoslab_build_info" in deploys["expr"] and deploys["name"] == "deploys"
        uids = {t["datasource"]["uid"] for p in doc["panels"] for t in p["targets"]}
        assert uids == {dashboards.PROMETHEUS}, name


def test_the_chart_provisions_the_dashboards_and_their_data_sources(helm):
    docs = render(helm, "-f", str(CHART / "ci" / "grafana-values.yaml"))
    maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    provided = maps["grafana-dashboards"]["data"]
    assert provided == {n: (dashboards.FOLDER / n).read_text() for n in dashboards.DASHBOARDS}
    sources = yaml.safe_load(maps["grafana-provisioning"]["data"]["datasources.yaml"])["datasources"]
    assert {s["uid"]: s["url"] for s in sources} == {
        dashboards.PROMETHEUS: "http://prometheus:9090",
        "jaeger": "http://jaeger:16686",
    }
    assert "grafana-dashboards" not in {d["metadata"]["name"] for d in render(helm)}, "off by default"
