"""Calls to named peers over HTTP, with one timeout, one error mapping and RED metrics (gRPC: grpc_peers.py).

A peer is named after its component (``payment``, ``service-b``), so metrics,
spans and error messages say which hop failed. A timeout of 0 means no
timeout at all: that is a bad deploy the lab can switch on, not a default.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

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
