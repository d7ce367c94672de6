"""The RED metrics every service exposes, defined once.

Inbound: per HTTP route or gRPC method. Outbound: per named peer (another
service, the gateway, postgres, redis), so "which dependency is slow?" is one
query. Business metrics live next to the code that counts them.
"""

from __future__ import annotations

from contextvars import ContextVar

from prometheus_client import Counter, Gauge, Histogram, Info, disable_created_metrics

from chaoslab import __version__

disable_created_metrics()  # *_created series double every counter's output and nobody graphs them

BUILD = Info("chaoslab_build", "Component name, version and team of this process.")

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


def describe_process(service: str, team: str) -> None:
    BUILD.info({"service": service, "version": __version__, "team": team})


BREAKER_OPEN = Gauge(
    "circuit_breaker_open", "1 while the circuit breaker on calls to a peer is open (failing fast).", ["peer"]
)
