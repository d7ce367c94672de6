"""The Grafana dashboards of the platform namespace, built with Grafana's Foundation SDK and written to
charts/chaoslab/files/dashboards/ by `make docs` (the chart provisions them; tests/unit/test_dashboards.py
checks them against the metrics the services really export and with promtool).

Three dashboards, each with a ``team`` variable (every team's lab reports to the platform's Prometheus):

* **RED per service**: request rate, error share and p95 for each service, HTTP and gRPC alike;
* **Service graph**: the OpenTelemetry Collector's servicegraph metrics in a node graph panel (the same
  edges the console draws), and the edges' rates and failures over time;
* **Business**: checkouts by outcome, payment success, queue depth and outbox backlog, the ledger's
  drift, PostgreSQL statements per request (an N+1 shows there).

Deploys are annotations on every dashboard: a new ``version`` of ``chaoslab_build_info`` (each deploy,
a fix or a bad config change, bumps it, as the change feed records).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, nodegraph, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, DataTransformerConfig
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from chaoslab.telemetry import names

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "charts" / "chaoslab" / "files" / "dashboards"
PROMETHEUS = "prometheus"
"""The Prometheus data source's uid, as the chart provisions it (templates/grafana.yaml)."""
TEAM = 'team=~"$team"'
EDGE_TEAM = 'client_chaoslab_team=~"$team"'
"""The collector's servicegraph metrics carry the team as a dimension of each side (``chaoslab.team``)."""
WINDOW = "$__rate_interval"


def _ds():
    return DataSourceRef(type_val="prometheus", uid=PROMETHEUS)


def _query(expr: str, legend: str = "", ref: str = "A", table: bool = False):
    query = prometheus.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref).datasource(_ds())
    if table:
        query = query.format(PromQueryFormat.TABLE).instant()
    return query


def _timeseries(title: str, unit: str, *queries, description: str = "", width: int = 12):
    panel = timeseries.Panel().title(title).unit(unit).datasource(_ds()).span(width).height(8)
    if description:
        panel = panel.description(description)
    for query in queries:
        panel = panel.with_target(query)
    return panel


def _dashboard(uid: str, title: str, description: str):
    team = (
        dashboard.QueryVariable("team")
        .label("team")
        .query(f"label_values({names.BUILD_INFO}, team)")
        .datasource(_ds())
        .multi(True)
        .include_all(True)
    )
    deploys = (
        dashboard.AnnotationQuery()
        .name("deploys")
        .datasource(_ds())
        .enable(True)
        .icon_color("orange")
        .expr(
            f"count by (team, service, version) ({names.BUILD_INFO}{{{TEAM}}})\n"
            f"unless count by (team, service, version) ({names.BUILD_INFO}{{{TEAM}}} offset 1m)"
        )
    )
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["chaoslab"])
        .refresh("10s")
        .time("now-30m", "now")
        .readonly()
        .with_variable(team)
        .annotation(deploys)
    )


def red():
    per = "sum by (team, service)"
    return (
        _dashboard("chaoslab-red", "chaoslab · RED per service", "Rate, errors and duration of every service.")
        .with_panel(
            _timeseries(
                "Requests per second",
                "reqps",
                _query(f"{per} (rate({names.HTTP_REQUESTS_TOTAL}{{{TEAM}}}[{WINDOW}]))", "{{team}} {{service}} HTTP"),
                _query(
                    f"{per} (rate({names.RPC_REQUESTS_TOTAL}{{{TEAM}}}[{WINDOW}]))", "{{team}} {{service}} gRPC", "B"
                ),
            )
        )
        .with_panel(
            _timeseries(
                "Errors (share of requests)",
                "percentunit",
                _query(
                    f'{per} (rate({names.HTTP_REQUESTS_TOTAL}{{{TEAM}, status=~"5.."}}[{WINDOW}]))\n'
                    f"/ {per} (rate({names.HTTP_REQUESTS_TOTAL}{{{TEAM}}}[{WINDOW}]))",
                    "{{team}} {{service}} HTTP 5xx",
                ),
                _query(
                    f'{per} (rate({names.RPC_REQUESTS_TOTAL}{{{TEAM}, code!="OK"}}[{WINDOW}]))\n'
                    f"/ {per} (rate({names.RPC_REQUESTS_TOTAL}{{{TEAM}}}[{WINDOW}]))",
                    "{{team}} {{service}} gRPC not OK",
                    "B",
                ),
            )
        )
        .with_panel(
            _timeseries(
                "p95 latency",
                "s",
                _query(
                    "histogram_quantile(0.95, sum by (team, service, le) "
                    f"(rate({names.HTTP_DURATION}_bucket{{{TEAM}}}[{WINDOW}])))",
                    "{{team}} {{service}} HTTP",
                ),
                _query(
                    "histogram_quantile(0.95, sum by (team, service, le) "
                    f"(rate({names.RPC_DURATION}_bucket{{{TEAM}}}[{WINDOW}])))",
                    "{{team}} {{service}} gRPC",
                    "B",
                ),
            )
        )
        .with_panel(
            _timeseries(
                "Calls to peers: p95 by peer (the caller's side)",
                "s",
                _query(
                    "histogram_quantile(0.95, sum by (team, service, peer, le) "
                    f"(rate({names.OUTBOUND_DURATION}_bucket{{{TEAM}}}[{WINDOW}])))",
                    "{{team}} {{service}} → {{peer}}",
                ),
                description="A slow hop shows on its caller: the deadlock's service-c → service-a, a slow gateway.",
            )
        )
    )


def service_graph():
    calls = f"rate(traces_service_graph_request_total{{{EDGE_TEAM}}}[5m])"
    edges = f'label_join(sum by (client, server) ({calls}), "id", "→", "client", "server")'
    nodes = (  # every service seen on either side of a call, once
        f'sum by (id) (label_replace(sum by (client) ({calls}), "id", "$1", "client", "(.*)")\n'
        f'or label_replace(sum by (server) ({calls}), "id", "$1", "server", "(.*)"))'
    )
    graph = (
        nodegraph.Panel()
        .title("Service graph (last 5 minutes, from the collector's servicegraph connector)")
        .datasource(_ds())
        .span(24)
        .height(14)
        .with_target(_query(edges, ref="edges", table=True))
        .with_target(_query(nodes, ref="nodes", table=True))
        .with_transformation(
            DataTransformerConfig(
                id_val="organize",
                options={
                    "renameByName": {"client": "source", "server": "target", "Value #edges": "mainstat"},
                    "excludeByName": {"Time": True},
                },
            )
        )
        .with_transformation(
            DataTransformerConfig(
                id_val="organize",
                options={"renameByName": {"Value #nodes": "mainstat"}, "excludeByName": {"target": True}},
            )
        )
    )
    return (
        _dashboard(
            "chaoslab-service-graph",
            "chaoslab · Service graph",
            "Every team's call graph from its spans; an edge a healthy lab does not have (service-c → service-a) "
            "is the deadlock.",
        )
        .with_panel(graph)
        .with_panel(
            _timeseries(
                "Calls per edge",
                "reqps",
                _query(
                    "sum by (client_chaoslab_team, client, server) "
                    f"(rate(traces_service_graph_request_total{{{EDGE_TEAM}}}[{WINDOW}]))",
                    "{{client_chaoslab_team}} {{client}} → {{server}}",
                ),
            )
        )
        .with_panel(
            _timeseries(
                "Failed calls per edge",
                "reqps",
                _query(
                    "sum by (client_chaoslab_team, client, server) "
                    f"(rate(traces_service_graph_request_failed_total{{{EDGE_TEAM}}}[{WINDOW}]))",
                    "{{client_chaoslab_team}} {{client}} → {{server}}",
                ),
            )
        )
    )


def business():
    return (
        _dashboard(
            "chaoslab-business", "chaoslab · Business", "Checkouts, payments, fulfilment and the books of every team."
        )
        .with_panel(
            _timeseries(
                "Checkouts by outcome",
                "ops",
                _query(
                    f"sum by (team, outcome) (rate({names.CHECKOUTS_TOTAL}{{{TEAM}}}[{WINDOW}]))",
                    "{{team}} {{outcome}}",
                ),
            )
        )
        .with_panel(
            _timeseries(
                "Payment success",
                "percentunit",
                _query(
                    f'sum by (team) (rate({names.PAYMENT_PROCESSED_TOTAL}{{{TEAM}, status="succeeded"}}[{WINDOW}]))\n'
                    f"/ sum by (team) (rate({names.PAYMENT_PROCESSED_TOTAL}{{{TEAM}}}[{WINDOW}]))",
                    "{{team}}",
                ),
            )
        )
        .with_panel(
            _timeseries(
                "Fulfilment: queue depth and outbox backlog",
                "short",
                _query(f"sum by (team) ({names.QUEUE_DEPTH}{{{TEAM}}})", "{{team}} queue depth"),
                _query(f"sum by (team) ({names.OUTBOX_BACKLOG}{{{TEAM}}})", "{{team}} outbox backlog", "B"),
            )
        )
        .with_panel(
            _timeseries(
                "Ledger drift against the amounts charged",
                "short",
                _query(f"sum by (team, currency) ({names.LEDGER_DRIFT}{{{TEAM}}})", "{{team}} {{currency}}"),
                description="Zero with Decimal money; floating-point money makes it creep, a cent at a time.",
            )
        )
        .with_panel(
            _timeseries(
                "PostgreSQL statements per request, by route",
                "short",
                _query(
                    f"sum by (team, route) (rate({names.HTTP_DB_STATEMENTS}_sum{{{TEAM}}}[{WINDOW}]))\n"
                    f"/ sum by (team, route) (rate({names.HTTP_DB_STATEMENTS}_count{{{TEAM}}}[{WINDOW}]))",
                    "{{team}} {{route}}",
                ),
                description="An N+1 query multiplies one route's statements per request.",
                width=24,
            )
        )
    )


DASHBOARDS = {"red.json": red, "service-graph.json": service_graph, "business.json": business}


def render(build) -> str:
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name, build in DASHBOARDS.items():
        wanted, path = render(build), FOLDER / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != wanted:
                stale.append(str(path.relative_to(ROOT)))
            continue
        FOLDER.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted)
    if stale:
        print(f"{', '.join(stale)} stale: run `make docs`", file=sys.stderr)
        return 1
    if "--check" not in argv:
        print(f"{FOLDER.relative_to(ROOT)}/ regenerated ({len(DASHBOARDS)} dashboards)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
