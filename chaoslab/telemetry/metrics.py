"""The RED metrics every service exposes, defined once.

Inbound: per HTTP route or gRPC method. Outbound: per named peer (another
service, the gateway, postgres, redis), so "which dependency is slow?" is one
query. Business metrics live next to the code that counts them.
"""

from __future__ import annotations

from contextvars import ContextVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Info, disable_created_metrics, generate_latest

from chaoslab import __version__

disable_created_metrics()  # *_created series double every counter's output and nobody graphs them

BUILD = Info("chaoslab_build", "Version of this process (its service and team are on every sample).")

HTTP_REQUESTS = Counter(
    "http_server_requests", "Inbound HTTP requests by route and status code.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram("http_server_request_duration_seconds", "Inbound HTTP request latency.", ["method", "route"])
HTTP_IN_FLIGHT = Gauge(
    "http_server_requests_in_flight", "Inbound HTTP requests being handled now (a full pool means saturation)."
)

HTTP_DB_STATEMENTS = Histogram(
    "http_server_db_statements",
    "PostgreSQL statements one request ran (an N+1 query shows up here).",
    ["route"],
    buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55, 89),
)
statements_in_request: ContextVar[list[int] | None] = ContextVar("statements_in_request", default=None)
"""A one-element counter the HTTP layer sets per request and the database layer increments."""

RPC_REQUESTS = Counter("rpc_server_requests", "Inbound gRPC calls by method and status code.", ["method", "code"])
RPC_DURATION = Histogram("rpc_server_duration_seconds", "Inbound gRPC call latency.", ["method"])
RPC_IN_FLIGHT = Gauge("rpc_server_requests_in_flight", "Inbound gRPC calls being handled now.")

OUTBOUND_REQUESTS = Counter(
    "outbound_requests",
    "Calls to a named peer by operation and outcome (ok, error, timeout, unavailable).",
    ["peer", "operation", "outcome"],
)
OUTBOUND_DURATION = Histogram(
    "outbound_request_duration_seconds", "Latency of calls to a named peer.", ["peer", "operation"]
)


_OWN_LABELS: dict[str, str] = {}
"""Labels this process puts on every sample it exposes: ``service`` and ``team``."""


def describe_process(service: str, team: str) -> None:
    """Name this process in its metrics: every sample carries ``service`` and ``team`` from now on, so
    the alert rules work on any scrape, with or without Kubernetes relabelling (issue 9, item 13)."""
    _OWN_LABELS.clear()
    _OWN_LABELS.update(service=service, team=team)
    BUILD.info({"version": __version__})


class _WithOwnLabels:
    """The default registry as scrapers see it: each sample gets the process's own labels. The labels
    are added when /metrics is rendered, not when a metric is updated, so the request path pays nothing
    (the Python client has no constant labels; a relabelling scraper would otherwise have to add them)."""

    def collect(self):
        own = _OWN_LABELS
        for family in REGISTRY.collect():
            if own:
                family.samples = [sample._replace(labels={**own, **sample.labels}) for sample in family.samples]
            yield family


_EXPOSED = _WithOwnLabels()


def exposition() -> bytes:
    """The process's metrics in the Prometheus text format, each sample labelled with its service and team."""
    return generate_latest(_EXPOSED)  # type: ignore[arg-type]


BREAKER_OPEN = Gauge(
    "circuit_breaker_open", "1 while the circuit breaker on calls to a peer is open (failing fast).", ["peer"]
)
