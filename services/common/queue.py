"""The fulfilment queue: a Redis stream read by a consumer group, traced and measured.

Delivery is at least once. An entry stays in the group's pending list until a
worker acknowledges it; a worker that dies mid-job leaves it there and the next
one (or the restarted one) takes it over. Acknowledged entries are deleted, so
the stream's length is the queue depth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import redis
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.errors import DependencyDown
from chaoslab.telemetry.metrics import OUTBOUND_DURATION, OUTBOUND_REQUESTS
from chaoslab.telemetry.tracing import tracer

PEER = "redis"
STREAM = "orders.paid"
GROUP = "fulfilment"
_tracer = tracer("chaoslab.queue")
T = TypeVar("T")


class Queue:
    def __init__(self, url: str, timeout_s: float, agent: FaultAgent | None = None):
        self.agent = agent
        self.redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            decode_responses=True,
            health_check_interval=10,
        )

    def _call(self, operation: str, fn: Callable[..., T], *args: Any, traced: bool = True, **kwargs: Any) -> T:
        started = time.perf_counter()
        outcome = "ok"
        # A blocking read is mostly idle waiting: counted, but neither traced nor timed. Calls
        # outside any span (the worker's polling) are not traced either.
        span_cm = (
            _tracer.start_as_current_span(
                f"redis {operation}", kind=SpanKind.CLIENT, attributes={"db.system": "redis", "db.operation": operation}
            )
            if traced and trace.get_current_span().is_recording()
            else nullcontext(trace.INVALID_SPAN)
        )
        with span_cm as span:
            try:
                if self.agent is not None and self.agent.redis_faults:
                    effect = self.agent.redis()
                    if effect is not None:
                        effect.sleep()
                        if effect.refuse:
                            raise redis.ConnectionError("Error 111 connecting: Connection refused")
                return fn(*args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                outcome = "unavailable"
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise DependencyDown(PEER, f"Redis unavailable: {exc}") from None
            except redis.RedisError as exc:
                outcome = "error"
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                OUTBOUND_REQUESTS.labels(PEER, operation, outcome).inc()
                if traced:
                    OUTBOUND_DURATION.labels(PEER, operation).observe(time.perf_counter() - started)

    def ping(self) -> None:
        self._call("PING", self.redis.ping)

    def ensure_group(self) -> None:
        """Create the stream and its group from the first entry; an existing group is kept."""
        try:
            self._call("XGROUP CREATE", self.redis.xgroup_create, STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def publish(self, fields: dict[str, str]) -> str:
        return self._call("XADD", self.redis.xadd, STREAM, fields)

    def read_new(self, consumer: str, count: int, block_ms: int) -> list[tuple[str, dict]]:
        reply = self._call(
            "XREADGROUP",
            self.redis.xreadgroup,
            GROUP,
            consumer,
            {STREAM: ">"},
            count=count,
            block=block_ms,
            traced=False,
        )
        return reply[0][1] if reply else []

    def read_own_pending(self, consumer: str, count: int) -> list[tuple[str, dict]]:
        """Entries this consumer was given but never acknowledged (it died mid-job)."""
        reply = self._call("XREADGROUP", self.redis.xreadgroup, GROUP, consumer, {STREAM: "0"}, count=count)
        return self._live(reply[0][1] if reply else [])

    def claim_stale(self, consumer: str, min_idle_ms: int, count: int) -> list[tuple[str, dict]]:
        """Take over entries another consumer has held longer than ``min_idle_ms``."""
        reply = self._call(
            "XAUTOCLAIM", self.redis.xautoclaim, STREAM, GROUP, consumer, min_idle_ms, start_id="0-0", count=count
        )
        return self._live(reply[1])

    def _live(self, entries: list) -> list[tuple[str, dict]]:
        """Drop pending ids whose entry was already deleted (done by someone else); ack them."""
        gone = [entry_id for entry_id, fields in entries if not fields]
        if gone:
            self._call("XACK", self.redis.xack, STREAM, GROUP, *gone)
        return [(entry_id, fields) for entry_id, fields in entries if fields]

    def contains(self, entry_id: str) -> bool:
        return bool(self._call("XRANGE", self.redis.xrange, STREAM, entry_id, entry_id))

    def done(self, entry_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(STREAM, GROUP, entry_id)
        pipe.xdel(STREAM, entry_id)
        self._call("XACK+XDEL", pipe.execute)

    def depth(self) -> int:
        """Entries waiting or in progress (acknowledged ones are deleted)."""
        return self._call("XLEN", self.redis.xlen, STREAM)

    def pending(self) -> int:
        """Entries delivered to a consumer and not yet acknowledged."""
        return self._call("XPENDING", self.redis.xpending, STREAM, GROUP)["pending"]

    def close(self) -> None:
        self.redis.close()
