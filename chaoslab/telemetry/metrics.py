"""The RED metrics every service exposes, defined once.

Inbound: per HTTP route or gRPC method. Outbound: per named peer (another
service, the gateway, postgres, redis), so "which dependency is slow?" is one
query. Business metrics live next to the code that counts them.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

from prometheus_client import Counter, Gauge, Histogram, Info, disable_created_metrics, generate_latest

from chaoslab import __version__
from chaoslab.telemetry import names

disable_created_metrics()  # *_created series double every counter's output and nobody graphs them

BUILD = Info(
    names.BUILD_INFO.removesuffix("_info"), "Version of this process (its service and team are on every sample)."
)

HTTP_REQUESTS = Counter(
    names.HTTP_REQUESTS_TOTAL, "Inbound HTTP requests by route and status code.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(names.HTTP_DURATION, "Inbound HTTP request latency.", ["method", "route"])
HTTP_IN_FLIGHT = Gauge(names.HTTP_IN_FLIGHT, "Inbound HTTP requests being handled now (a full pool means saturation).")

HTTP_DB_STATEMENTS = Histogram(
    names.HTTP_DB_STATEMENTS,
    "PostgreSQL statements one request ran (an N+1 query shows up here).",
    ["route"],
    buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55, 89),
)
statements_in_request: ContextVar[list[int] | None] = ContextVar("statements_in_request", default=None)
"""A one-element counter the HTTP layer sets per request and the database layer increments."""

RPC_REQUESTS = Counter(names.RPC_REQUESTS_TOTAL, "Inbound gRPC calls by method and status code.", ["method", "code"])
RPC_DURATION = Histogram(names.RPC_DURATION, "Inbound gRPC call latency.", ["method"])
RPC_IN_FLIGHT = Gauge(names.RPC_IN_FLIGHT, "Inbound gRPC calls being handled now.")

OUTBOUND_REQUESTS = Counter(
    names.OUTBOUND_REQUESTS_TOTAL,
    "Calls to a named peer by operation and outcome (ok, error, timeout, unavailable).",
    ["peer", "operation", "outcome"],
)
OUTBOUND_DURATION = Histogram(names.OUTBOUND_DURATION, "Latency of calls to a named peer.", ["peer", "operation"])


class _OwnLabels:
    """This process's own labels as exposition text (``service="a",team="t"``); empty until it is named."""

    text = b""


_OWN = _OwnLabels()
_SAMPLE_LINE = re.compile(rb"^([a-zA-Z_:][a-zA-Z0-9_:]*)([{ ])", re.M)
"""The start of a sample line: its metric name and what follows it (labels or the value). Every other
line of the text format starts with ``#``, and label values cannot hold a raw newline."""


def describe_process(service: str, team: str) -> None:
    """Name this process in its metrics: every sample carries ``service`` and ``team`` from now on, so
    the alert rules work on any scrape, with or without Kubernetes relabelling."""
    _OWN.text = f'service="{_escape(service)}",team="{_escape(team)}"'.encode()
    describe_version(__version__)


def describe_version(version: str) -> None:
    """The version ``chaoslab_build_info`` shows (a deploy bumps it); service and team come with every sample."""
    BUILD.info({"version": version})


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition() -> bytes:
    """The process's metrics in the Prometheus text format, each sample labelled with its service and team.

    The labels go in when /metrics is rendered, not when a metric is updated, so the request path pays
    nothing (the Python client has no constant labels), and as text, which costs a scrape a few percent
    (bench/metrics_exposition). No metric may define a ``service`` or ``team`` label of its own."""
    body = generate_latest()
    own = _OWN.text
    if not own:
        return body
    return _SAMPLE_LINE.sub(lambda m: m[1] + b"{" + own + (b"," if m[2] == b"{" else b"} "), body)


BREAKER_OPEN = Gauge(
    names.BREAKER_OPEN, "1 while the circuit breaker on calls to a peer is open (failing fast).", ["peer"]
)
