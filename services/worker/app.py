"""The worker's consumer loop and its health/metrics listener."""

from __future__ import annotations

import logging
import socket
import threading
import time

import redis
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.db import Database
from chaoslab.services.common.errors import ApiError
from chaoslab.services.common.health import Health
from chaoslab.services.common.migrations import LATEST
from chaoslab.services.common.queue import GROUP, STREAM, Queue
from chaoslab.services.common.runtime import ServiceRuntime, run
from chaoslab.services.common.web import HttpServer, create_app
from chaoslab.settings import Worker, load
from chaoslab.telemetry import names
from chaoslab.telemetry.tracing import context_from_carrier, tracer

NAME = "worker"
log = logging.getLogger("chaoslab.worker")
JOBS = Counter(
    names.JOBS_PROCESSED_TOTAL, "Queue entries processed, by outcome: fulfilled, duplicate, rejected.", ["outcome"]
)
JOB_DURATION = Histogram(names.JOB_DURATION, "Time to fulfil one order.")
QUEUE_DEPTH = Gauge(names.QUEUE_DEPTH, "Fulfilment entries waiting or in progress on the stream.")
QUEUE_PENDING = Gauge(names.QUEUE_PENDING, "Entries delivered to a worker and not yet acknowledged.")
_tracer = tracer("chaoslab.worker")
CLAIM_EVERY_S = 5.0
GAUGES_EVERY_S = 1.0


class Fulfiller:
    def __init__(
        self, settings: Worker, db: Database, queue: Queue, stopping: threading.Event, agent: FaultAgent | None = None
    ):
        self.settings = settings
        self.agent = agent
        self.db = db
        self.queue = queue
        self.stopping = stopping
        self.consumer = settings.consumer or socket.gethostname()
        self._thread = threading.Thread(target=self._loop, name="fulfiller", daemon=True)
        self._last_claim = 0.0
        self._last_gauges = 0.0

    def start(self) -> Fulfiller:
        self._thread.start()
        return self

    def alive(self) -> None:
        if not self._thread.is_alive() and not self.stopping.is_set():
            raise RuntimeError("consumer thread has stopped")

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        recovering = True  # first thing: our own unacknowledged entries from before a crash
        backoff = 0.2
        while not self.stopping.is_set():
            stall = self.agent.stall if self.agent is not None else None
            if stall is not None:  # worker_stall: alive and ready, taking no jobs until it is lifted
                stall.wait(1.0)
                self._refresh_gauges_now_and_then()
                continue
            try:
                if recovering:
                    self.queue.ensure_group()
                    entries = self.queue.read_own_pending(self.consumer, self.settings.batch_size)
                    recovering = bool(entries)
                elif time.monotonic() - self._last_claim > CLAIM_EVERY_S:
                    self._last_claim = time.monotonic()
                    entries = self.queue.claim_stale(
                        self.consumer, self.settings.claim_idle_ms, self.settings.batch_size
                    )
                else:
                    entries = self.queue.read_new(self.consumer, self.settings.batch_size, block_ms=1000)
                for entry_id, fields in entries:
                    if self.stopping.is_set():
                        break
                    self.handle(entry_id, fields)
                self._refresh_gauges_now_and_then()
                backoff = 0.2
            except ApiError as exc:  # Redis or PostgreSQL down: entries stay pending, retried after backoff
                log.warning("worker waiting: %s", exc.message)
                recovering = True
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("worker loop error")
                recovering = True
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def handle(self, entry_id: str, fields: dict) -> None:
        """Fulfil one order, then acknowledge. Anything that fails before the ack is redelivered."""
        raw_order = fields.get("order_id", "")
        if not raw_order.isdigit():
            log.error("rejecting malformed queue entry %s: %r", entry_id, fields)
            self.queue.done(entry_id)
            JOBS.labels("rejected").inc()
            return
        order_id = int(raw_order)
        with _tracer.start_as_current_span(
            "orders.paid process",
            kind=SpanKind.CONSUMER,
            context=context_from_carrier(fields),
            attributes={
                "messaging.system": "redis",
                "messaging.destination.name": STREAM,
                "messaging.consumer.group.name": GROUP,
                "messaging.message.id": entry_id,
                "chaoslab.order_id": order_id,
            },
        ) as span:
            started = time.perf_counter()
            log.info("fulfilling order %d", order_id, extra={"fields": {"order_id": order_id, "entry": entry_id}})
            try:
                if self.settings.job_duration_ms:
                    time.sleep(self.settings.job_duration_ms / 1000)  # simulated picking and packing
                with self.db.transaction() as tx:
                    first = tx.one(
                        """INSERT INTO shop.fulfilments (order_id, worker) VALUES (%s, %s)
                                      ON CONFLICT (order_id) DO NOTHING RETURNING order_id""",
                        (order_id, self.consumer),
                    )
                    tx.execute(
                        """UPDATE shop.orders SET status = 'fulfilled', fulfilled_at = now(), updated_at = now()
                                  WHERE id = %s AND status = 'paid'""",
                        (order_id,),
                    )
                self.queue.done(entry_id)
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
                raise
            outcome = "fulfilled" if first else "duplicate"
            span.set_attribute("chaoslab.outcome", outcome)
            JOBS.labels(outcome).inc()
            JOB_DURATION.observe(time.perf_counter() - started)

    def _refresh_gauges_now_and_then(self) -> None:
        """Queue depth and pending count, at most once a second (also while stalled: that is when
        the depth matters)."""
        if time.monotonic() - self._last_gauges < GAUGES_EVERY_S:
            return
        self._last_gauges = time.monotonic()
        try:
            QUEUE_DEPTH.set(self.queue.depth())
            QUEUE_PENDING.set(self.queue.pending())
        except (ApiError, redis.RedisError):
            pass  # Redis is down or the group not made yet: the gauges keep their last value


def build(runtime: ServiceRuntime) -> Fulfiller:
    settings = load(Worker)
    common = runtime.common
    agent = runtime.agent(settings)
    db = Database.of_service(NAME, settings.db_pool_size, common, agent)
    queue = Queue(common.redis_url, common.redis_timeout_s, agent)
    fulfiller = Fulfiller(settings, db, queue, runtime.stopping, agent)
    health = Health()
    health.unready_when(runtime.stopping)
    health.ready_check("postgres", lambda: db.check_schema(LATEST))
    health.ready_check("redis", queue.ping)
    health.live_check("consumer", fulfiller.alive)
    server = HttpServer(
        create_app(NAME, health, max_body_bytes=1024, access_log=common.access_log, agent=agent),
        common.bind_host,
        settings.http_port,
        2,
        NAME,
    ).start()
    fulfiller.start()
    runtime.on_shutdown(db.close)
    runtime.on_shutdown(queue.close)
    runtime.on_shutdown(fulfiller.stop)
    runtime.on_shutdown(server.stop)
    return fulfiller


def main() -> int:
    return run(NAME, build)
