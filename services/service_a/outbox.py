"""The outbox relay: moves 'order.paid' events from PostgreSQL to the Redis stream.

A checkout writes its event in the same transaction that marks the order paid,
so an event exists exactly when an order is paid. The relay publishes pending
events and marks them published; while Redis is down they wait in the table
(``outbox_backlog`` grows) and go out when it returns. An event whose stream
entry vanished (a Redis that lost its data) is published again after
``SERVICE_A_OUTBOX_REDELIVER_AFTER_S``; the worker is idempotent, so a
duplicate costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge

from chaoslab.services.common.db import Database
from chaoslab.services.common.errors import ApiError
from chaoslab.services.common.queue import STREAM, Queue
from chaoslab.telemetry import names
from chaoslab.telemetry.tracing import carrier_from_current, context_from_carrier, tracer

log = logging.getLogger("chaoslab.outbox")
BACKLOG = Gauge(names.OUTBOX_BACKLOG, "Paid orders whose fulfilment event is not yet on the queue.")
PUBLISHED = Counter(names.OUTBOX_PUBLISHED_TOTAL, "Events published to the queue (redeliveries included).")
REDELIVERED = Counter(names.OUTBOX_REDELIVERED_TOTAL, "Events published again because their stream entry was lost.")
ROUNDS_FAILED = Counter(names.OUTBOX_FAILED_ROUNDS_TOTAL, "Relay rounds that failed; the relay waits and tries again.")
_tracer = tracer("chaoslab.outbox")
BATCH = 100
BACKLOG_EVERY_S = 1.0
"""How often a busy relay counts its backlog: every checkout wakes it, and counting on every wake-up was one
more transaction per checkout, for a gauge scraped every 5 s."""


class OutboxRelay:
    def __init__(self, db: Database, queue: Queue, poll_interval_s: float, redeliver_after_s: float):
        self.db = db
        self.queue = queue
        self.poll_interval_s = poll_interval_s
        self.redeliver_after_s = redeliver_after_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="outbox-relay", daemon=True)
        self._group_ready = False
        self._waiting_for: str | None = None

    def start(self) -> OutboxRelay:
        self._thread.start()
        return self

    def nudge(self) -> None:
        """Called after a checkout commits, so its event goes out now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def alive(self) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("outbox relay thread has stopped")

    def _loop(self) -> None:
        """Never ends before stop(): whatever a round raises is logged and the relay tries again
        (liveness restarts the pod when this thread dies, and nothing else would deliver the events)."""
        backoff = self.poll_interval_s
        next_sweep = time.monotonic() + min(30.0, self.redeliver_after_s / 2)
        next_count = 0.0
        while not self._stop.is_set():
            published = 0
            try:
                published = self.publish_pending()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + min(30.0, self.redeliver_after_s / 2)
                    self.redeliver_lost()
                backoff = self.poll_interval_s
                self._report(None)
            except Exception as exc:  # a dependency down, the schema not migrated yet, or a bug
                self._report(exc)
                backoff = min(backoff * 2, 5.0)
            if time.monotonic() >= next_count:
                next_count = time.monotonic() + BACKLOG_EVERY_S
                try:
                    self.refresh_backlog()  # also while Redis is down: that is when the backlog matters
                except Exception:  # the same trouble as the round's, reported there
                    pass
            if published == BATCH:
                continue
            self._wake.wait(backoff)
            self._wake.clear()

    def _report(self, exc: Exception | None) -> None:
        """One log line when the relay starts waiting and one when it recovers, not one per round."""
        if exc is None:
            if self._waiting_for is not None:
                log.info("outbox relay running again")
            self._waiting_for = None
            return
        ROUNDS_FAILED.inc()
        if isinstance(exc, psycopg.errors.UndefinedTable):
            reason = "the schema is not migrated yet (`chaoslab migrate`)"
        elif isinstance(exc, ApiError):
            reason = exc.message
        else:
            reason = f"{type(exc).__name__}: {exc}"
        if reason != self._waiting_for:
            if isinstance(exc, psycopg.errors.UndefinedTable | ApiError):
                log.warning("outbox relay waiting: %s", reason)
            else:
                log.exception("outbox relay error")
            self._waiting_for = reason

    def publish_pending(self) -> int:
        """Publish up to BATCH events; a failure rolls back the batch (a repeat is harmless)."""
        with self.db.transaction() as tx:
            rows = tx.all(
                """SELECT id, order_id, trace_context FROM shop.outbox
                             WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                (BATCH,),
            )
            if not rows:
                return 0
            if not self._group_ready:
                self.queue.ensure_group()
                self._group_ready = True
            for row in rows:
                with _tracer.start_as_current_span(
                    "orders.paid publish",
                    kind=SpanKind.PRODUCER,
                    context=context_from_carrier(row["trace_context"]),
                    attributes={
                        "messaging.system": "redis",
                        "messaging.destination.name": STREAM,
                        "chaoslab.order_id": row["order_id"],
                    },
                ):
                    entry_id = self.queue.publish(
                        {"order_id": str(row["order_id"]), "outbox_id": str(row["id"]), **carrier_from_current()}
                    )
                tx.execute(
                    """UPDATE shop.outbox SET published_at = now(), attempts = attempts + 1,
                                     stream_id = %s WHERE id = %s""",
                    (entry_id, row["id"]),
                )
            PUBLISHED.inc(len(rows))
            return len(rows)

    def redeliver_lost(self) -> int:
        """Queue again the events of still-unfulfilled orders whose stream entry no longer exists."""
        with self.db.transaction() as tx:
            stale = tx.all(
                """SELECT o.id, o.stream_id FROM shop.outbox o JOIN shop.orders ord ON ord.id = o.order_id
                              WHERE ord.status = 'paid' AND o.published_at < now() - make_interval(secs => %s)
                              LIMIT 1000""",
                (self.redeliver_after_s,),
            )
            lost = [row["id"] for row in stale if not row["stream_id"] or not self.queue.contains(row["stream_id"])]
            if lost:
                tx.execute("UPDATE shop.outbox SET published_at = NULL WHERE id = ANY(%s)", (lost,))
                REDELIVERED.inc(len(lost))
                log.warning("re-queueing %d events whose stream entries were lost", len(lost))
            return len(lost)

    def refresh_backlog(self) -> None:
        with self.db.transaction() as tx:
            BACKLOG.set(tx.one("SELECT count(*) AS n FROM shop.outbox WHERE published_at IS NULL")["n"])
