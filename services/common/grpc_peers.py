"""Calls to and from gRPC peers: channels and servers with the same timeout, error mapping, RED
metrics and fault hooks as the HTTP peers (peers.py). A module of its own so that services with no
gRPC (payment, gateway, worker) do not load grpc: about 10 MiB of working set each on Kubernetes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from opentelemetry.instrumentation.grpc import GrpcInstrumentorServer, client_interceptor, filters
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

from chaoslab.chaos.agent import Effect, FaultAgent
from chaoslab.services.common.errors import ApiError, DependencyDown, DependencyTimeout
from chaoslab.telemetry.metrics import (
    OUTBOUND_DURATION,
    OUTBOUND_REQUESTS,
    RPC_DURATION,
    RPC_IN_FLIGHT,
    RPC_REQUESTS,
)


def instrument_grpc() -> None:
    """Trace gRPC servers created after this call (W3C context from metadata). Clients are traced per
    channel by ``grpc_channel``, around the agent's outbound faults. Health checks are left out:
    readiness probes would otherwise fill the trace view."""
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
    shows in the caller's client span, as it does for HTTP peers."""

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
    instrument_grpc()
    return grpc.server(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"grpc-{name}"), interceptors=[_ServerHooks(agent)]
    )
