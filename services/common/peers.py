"""Calls to named peers over HTTP and gRPC, with one timeout, one error mapping and RED metrics.

A peer is named after its component (``payment``, ``service-b``), so metrics,
spans and error messages say which hop failed. A timeout of 0 means no
timeout at all: that is a bad deploy the lab can switch on, not a default.
"""
from __future__ import annotations

import time
from typing import Any

import grpc
import requests
from opentelemetry.propagate import inject
from opentelemetry.trace import SpanKind, Status, StatusCode
from requests.adapters import HTTPAdapter

from chaoslab.services.common.errors import DependencyDown, DependencyTimeout
from chaoslab.telemetry.metrics import (
    OUTBOUND_DURATION, OUTBOUND_REQUESTS, RPC_DURATION, RPC_IN_FLIGHT, RPC_REQUESTS)
from chaoslab.telemetry.tracing import tracer

_tracer = tracer("chaoslab.peers")


class HttpPeer:
    def __init__(self, name: str, base_url: str, timeout_s: float, pool_size: int = 10):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=pool_size))

    def call(self, method: str, path: str, operation: str, headers: dict | None = None,
             **kwargs: Any) -> requests.Response:
        """Send one request in a client span that carries W3C trace context to the peer.

        A refused or dropped connection raises DependencyDown, a timeout DependencyTimeout;
        HTTP error statuses are returned for the caller to interpret.
        """
        started = time.perf_counter()
        outcome = "ok"
        headers = dict(headers or {})
        with _tracer.start_as_current_span(f"{operation} → {self.name}", kind=SpanKind.CLIENT, attributes={
                "http.request.method": method, "url.full": self.base_url + path, "peer.service": self.name}) as span:
            inject(headers)
            try:
                response = self.session.request(method, self.base_url + path, headers=headers,
                                                timeout=self.timeout_s or None, **kwargs)
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    outcome = "error"
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status_code}"))
                return response
            except requests.Timeout:
                outcome = "timeout"
                span.set_status(Status(StatusCode.ERROR, "timeout"))
                raise DependencyTimeout(self.name, f"{self.name} did not answer {operation} within "
                                                   f"{self.timeout_s:g}s") from None
            except requests.ConnectionError as exc:
                outcome = "unavailable"
                span.set_status(Status(StatusCode.ERROR, "connection failed"))
                raise DependencyDown(self.name, f"cannot reach {self.name} at {self.base_url}: "
                                                f"{type(exc.__context__ or exc).__name__}") from None
            finally:
                OUTBOUND_REQUESTS.labels(self.name, operation, outcome).inc()
                OUTBOUND_DURATION.labels(self.name, operation).observe(time.perf_counter() - started)

    def close(self) -> None:
        self.session.close()


# ---- gRPC ------------------------------------------------------------------------------------

def instrument_grpc() -> None:
    """Trace gRPC clients and servers created after this call (W3C context in metadata).
    Health checks are left out: readiness probes would otherwise fill the trace view."""
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer, filters

    not_health = filters.negate(filters.health_check())
    for instrumentor in (GrpcInstrumentorClient(filter_=not_health), GrpcInstrumentorServer(filter_=not_health)):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


_GRPC_OUTCOME = {
    grpc.StatusCode.OK: "ok",
    grpc.StatusCode.DEADLINE_EXCEEDED: "timeout",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
}


class _ClientMetrics(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, peer: str):
        self.peer = peer

    def intercept_unary_unary(self, continuation, client_call_details, request):
        operation = client_call_details.method.rsplit("/", 1)[-1]
        started = time.perf_counter()
        outcome = _GRPC_OUTCOME.get(grpc.StatusCode.OK)
        try:
            call = continuation(client_call_details, request)
            code = call.code()
            outcome = _GRPC_OUTCOME.get(code, "error")
            return call
        finally:
            OUTBOUND_REQUESTS.labels(self.peer, operation, outcome).inc()
            OUTBOUND_DURATION.labels(self.peer, operation).observe(time.perf_counter() - started)


def grpc_channel(peer: str, target: str) -> grpc.Channel:
    instrument_grpc()
    channel = grpc.insecure_channel(target, options=[
        ("grpc.keepalive_time_ms", 30000),
        ("grpc.enable_retries", 0),  # retries are a decision for the caller, visible in traces
    ])
    return grpc.intercept_channel(channel, _ClientMetrics(peer))


def grpc_error(peer: str, exc: grpc.RpcError) -> Exception:
    """Map a failed call to the HTTP-facing error the caller should answer with."""
    from chaoslab.services.common.errors import ApiError

    code = exc.code()
    detail = exc.details() or code.name
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DependencyTimeout(peer, f"{peer} did not answer in time ({detail})")
    if code == grpc.StatusCode.UNAVAILABLE:
        return DependencyDown(peer, f"{peer} unavailable: {detail}")
    if code == grpc.StatusCode.NOT_FOUND:
        return ApiError(422, "unknown_product", detail)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return ApiError(409, "insufficient_stock", detail)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return ApiError(422, "invalid_order", detail)
    return ApiError(502, "upstream_failed", f"{peer} failed: {code.name}: {detail}", dependency=peer)


class _ServerMetrics(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        behaviour = handler.unary_unary

        def measured(request, context):
            started = time.perf_counter()
            RPC_IN_FLIGHT.inc()
            raised = False
            try:
                return behaviour(request, context)
            except Exception:
                raised = True
                raise
            finally:
                RPC_IN_FLIGHT.dec()
                code = context.code()
                name = code.name if code is not None else ("UNKNOWN" if raised else "OK")
                RPC_REQUESTS.labels(method, name).inc()
                RPC_DURATION.labels(method).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            measured, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


def grpc_server(threads: int, name: str) -> grpc.Server:
    """A server with a bounded handler pool; extra calls queue until a handler is free."""
    from concurrent.futures import ThreadPoolExecutor

    instrument_grpc()
    return grpc.server(ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"grpc-{name}"),
                       interceptors=[_ServerMetrics()])
