"""Calls to named peers over HTTP and gRPC, with one timeout, one error mapping and RED metrics.

A peer is named after its component (``payment``, ``service-b``), so metrics,
spans and error messages say which hop failed. A timeout of 0 means no
timeout at all: that is a bad deploy the lab can switch on, not a default.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import grpc
import pybreaker
import requests
from opentelemetry.propagate import inject
from opentelemetry.trace import SpanKind, Status, StatusCode
from requests.adapters import HTTPAdapter
from werkzeug.http import HTTP_STATUS_CODES

from chaoslab.chaos.agent import Effect, FaultAgent
from chaoslab.services.common.errors import DependencyDown, DependencyTimeout
from chaoslab.telemetry.metrics import (
    BREAKER_OPEN,
    OUTBOUND_DURATION,
    OUTBOUND_REQUESTS,
    RPC_DURATION,
    RPC_IN_FLIGHT,
    RPC_REQUESTS,
)
from chaoslab.telemetry.tracing import tracer

_tracer = tracer("chaoslab.peers")


class HttpPeer:
    def __init__(
        self,
        name: str,
        base_url: str,
        timeout_s: float | Callable[[], float],
        pool_size: int = 10,
        agent: FaultAgent | None = None,
    ):
        """``timeout_s`` may be a callable, so a runtime setting (a deploy) changes it live."""
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_s if callable(timeout_s) else (lambda: timeout_s)
        self.agent = agent
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=pool_size))

    def call(
        self, method: str, path: str, operation: str, headers: dict | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send one request in a client span that carries W3C trace context to the peer.

        A refused or dropped connection raises DependencyDown, a timeout DependencyTimeout;
        HTTP error statuses are returned for the caller to interpret.
        """
        started = time.perf_counter()
        outcome = "ok"
        headers = dict(headers or {})
        timeout_s = self._timeout()
        with _tracer.start_as_current_span(
            f"{operation} → {self.name}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.full": self.base_url + path, "peer.service": self.name},
        ) as span:
            inject(headers)
            try:
                effect = (
                    self.agent.outbound(self.name) if self.agent is not None and self.agent.outbound_faults else None
                )
                response = self._injected(effect, method, path, timeout_s) if effect is not None else None
                if response is None:
                    response = self.session.request(
                        method, self.base_url + path, headers=headers, timeout=timeout_s or None, **kwargs
                    )
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    outcome = "error"
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status_code}"))
                return response
            except (requests.Timeout, DependencyTimeout):
                outcome = "timeout"
                span.set_status(Status(StatusCode.ERROR, "timeout"))
                raise DependencyTimeout(
                    self.name, f"{self.name} did not answer {operation} within {timeout_s:g}s"
                ) from None
            except (requests.ConnectionError, DependencyDown) as exc:
                outcome = "unavailable"
                span.set_status(Status(StatusCode.ERROR, "connection failed"))
                cause = (
                    "ConnectionRefusedError"
                    if isinstance(exc, DependencyDown)
                    else type(exc.__context__ or exc).__name__
                )
                raise DependencyDown(self.name, f"cannot reach {self.name} at {self.base_url}: {cause}") from None
            finally:
                OUTBOUND_REQUESTS.labels(self.name, operation, outcome).inc()
                OUTBOUND_DURATION.labels(self.name, operation).observe(time.perf_counter() - started)

    def _injected(self, effect: Effect, method: str, path: str, timeout_s: float) -> requests.Response | None:
        """Apply an outbound fault inside the client span, where a slow or broken network shows: a delay, a
        refused connection, a black hole, or a made-up answer (treated like the peer's own: a 5xx fails
        the span)."""
        effect.sleep()
        if effect.refuse:
            raise DependencyDown(self.name, "connection refused")
        if effect.hang is not None and not effect.wait_hang(timeout_s or None):
            raise DependencyTimeout(self.name, "timed out")
        if effect.status is None:
            return None
        response = requests.Response()
        response.status_code = effect.status
        response.reason = HTTP_STATUS_CODES.get(effect.status, "Error")
        response.url = self.base_url + path
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(
            {"error": response.reason.lower().replace(" ", "_"), "message": f"{self.name}: {response.reason}"}
        ).encode()
        return response

    def close(self) -> None:
        self.session.close()


def circuit_breaker(peer: str, fail_max: int, reset_s: float) -> pybreaker.CircuitBreaker:
    """A pybreaker breaker on calls to ``peer`` whose state is exported as ``circuit_breaker_open``.

    Use it as ``with breaker.calling(): ...``, not ``breaker.call(fn)``: ``call`` holds the breaker's
    lock for the whole call, so every call to the peer would wait for the one before it
    (danielfm/pybreaker#3, #55); ``calling`` takes the lock only to check and to record.
    """
    BREAKER_OPEN.labels(peer).set(0)

    class Export(pybreaker.CircuitBreakerListener):
        def state_change(self, breaker, old, new):
            BREAKER_OPEN.labels(peer).set(1 if new.name == pybreaker.STATE_OPEN else 0)

    return pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_s, name=peer, listeners=[Export()])


# ---- gRPC ------------------------------------------------------------------------------------


def instrument_grpc() -> None:
    """Trace gRPC servers created after this call (W3C context from metadata). Clients are traced per
    channel by ``grpc_channel``, around the agent's outbound faults. Health checks are left out:
    readiness probes would otherwise fill the trace view."""
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorServer, filters

    instrumentor = GrpcInstrumentorServer(filter_=filters.negate(filters.health_check()))
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


_GRPC_OUTCOME = {
    grpc.StatusCode.OK: "ok",
    grpc.StatusCode.DEADLINE_EXCEEDED: "timeout",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
}


class _InactiveRpcError(grpc.RpcError, grpc.Call):
    """The error a faulted gRPC call raises, shaped like grpc's own (its name, code(), details() and
    text): the client span records it, and a trace must show a refused or timed-out call the way a
    real one looks, not name a fault."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self._code, self._details = code, details

    def __str__(self) -> str:
        return (
            "<_InactiveRpcError of RPC that terminated with:\n"
            f'\tstatus = {self._code}\n\tdetails = "{self._details}"\n>'
        )

    def code(self):
        return self._code

    def details(self):
        return self._details

    def initial_metadata(self):
        return ()

    def trailing_metadata(self):
        return ()

    def is_active(self):
        return False

    def time_remaining(self):
        return None

    def cancel(self):
        return False

    def add_callback(self, callback):
        return False


class _ClientHooks(grpc.UnaryUnaryClientInterceptor):
    """RED metrics per peer and the agent's outbound faults, for one gRPC channel. It runs inside the
    client span (``grpc_channel``): a delay or a refusal between two services is the network's, so it
    shows in the caller's client span, as it does for HTTP peers (issue 12)."""

    def __init__(self, peer: str, agent: FaultAgent | None):
        self.peer = peer
        self.agent = agent

    def intercept_unary_unary(self, continuation, client_call_details, request):
        operation = client_call_details.method.rsplit("/", 1)[-1]
        started = time.perf_counter()
        outcome = _GRPC_OUTCOME.get(grpc.StatusCode.OK)
        try:
            if self.agent is not None and self.agent.outbound_faults:
                effect = self.agent.outbound(self.peer)
                if effect is not None:
                    self._injected(effect, client_call_details.timeout)
            call = continuation(client_call_details, request)
            code = call.code()
            outcome = _GRPC_OUTCOME.get(code, "error")
            return call
        except _InactiveRpcError as exc:
            outcome = _GRPC_OUTCOME.get(exc.code(), "error")
            raise
        finally:
            OUTBOUND_REQUESTS.labels(self.peer, operation, outcome).inc()
            OUTBOUND_DURATION.labels(self.peer, operation).observe(time.perf_counter() - started)

    def _injected(self, effect: Effect, timeout_s: float | None) -> None:
        effect.sleep()
        if effect.refuse:
            raise _InactiveRpcError(
                grpc.StatusCode.UNAVAILABLE, f"failed to connect to {self.peer}: Connection refused"
            )
        if effect.hang is not None and not effect.wait_hang(timeout_s):
            raise _InactiveRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        if effect.grpc_code is not None:
            raise _InactiveRpcError(grpc.StatusCode[effect.grpc_code], f"{self.peer}: {effect.grpc_code}")


def grpc_channel(peer: str, target: str, agent: FaultAgent | None = None) -> grpc.Channel:
    """A channel to ``peer``: the OpenTelemetry client span outermost, then the agent's faults and the
    RED metrics (``_ClientHooks``), then the wire."""
    from opentelemetry.instrumentation.grpc import client_interceptor, filters
    from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

    instrument_grpc()
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.keepalive_time_ms", 30000),
            ("grpc.enable_retries", 0),  # retries are a decision for the caller, visible in traces
        ],
    )
    hooked = grpc.intercept_channel(channel, _ClientHooks(peer, agent))
    return intercept_channel(hooked, client_interceptor(filter_=filters.negate(filters.health_check())))


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


class _ServerHooks(grpc.ServerInterceptor):
    """RED metrics per method and the agent's inbound faults, for a gRPC server. It also decodes the
    request itself: grpc answers bytes that are not the method's message with INTERNAL ("Exception
    deserializing request!"), which is the caller's mistake, so it is INVALID_ARGUMENT here."""

    def __init__(self, agent: FaultAgent | None):
        self.agent = agent

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        behaviour = handler.unary_unary
        decode = handler.request_deserializer
        agent = self.agent

        def measured(raw, context):
            started = time.perf_counter()
            RPC_IN_FLIGHT.inc()
            raised = False
            try:
                try:
                    request = decode(raw) if decode is not None else raw
                except Exception as exc:  # DecodeError, or invalid UTF-8 in a string field
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not a valid {method} request: {exc}")
                if agent is not None and agent.inbound_faults:
                    effect = agent.inbound(method)
                    if effect is not None:
                        effect.sleep()
                        if effect.grpc_code is not None:
                            context.abort(grpc.StatusCode[effect.grpc_code], f"{method}: {effect.grpc_code}")
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
            measured, request_deserializer=None, response_serializer=handler.response_serializer
        )


def grpc_server(threads: int, name: str, agent: FaultAgent | None = None) -> grpc.Server:
    """A server with a bounded handler pool; extra calls queue until a handler is free."""
    from concurrent.futures import ThreadPoolExecutor

    instrument_grpc()
    return grpc.server(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"grpc-{name}"), interceptors=[_ServerHooks(agent)]
    )
