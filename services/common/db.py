"""PostgreSQL through a bounded psycopg pool, with a span and RED metrics per statement.

Every statement a service runs goes through ``Tx``, so the N+1 query storm is
visible as a wall of spans and a jump in ``outbound_requests_total{peer="postgres"}``,
and a database outage surfaces as ``DependencyDown`` (HTTP 503), never a 500.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import psycopg
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from chaoslab.chaos.agent import FaultAgent
from chaoslab.services.common.errors import DependencyDown, DependencyTimeout
from chaoslab.settings import Common
from chaoslab.telemetry.metrics import OUTBOUND_DURATION, OUTBOUND_REQUESTS, statements_in_request
from chaoslab.telemetry.tracing import tracer

log = logging.getLogger("chaoslab.db")
PEER = "postgres"
# A connection handed back within this many seconds was alive then: lending it again skips the
# pool's liveness check, an extra round trip before every transaction (a checkout runs several).
# One idle longer (a PostgreSQL restart leaves those broken) is still checked.
CHECK_AFTER_IDLE_S = 1.0
_tracer = tracer("chaoslab.db")


def _verb(sql: str) -> str:
    word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "QUERY"
    return word if word in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH") else "OTHER"


def _child_span(name: str, attributes: dict):
    """A client span under the current one; background polling (no current span) is not traced,
    so the outbox relay's idle queries do not flood the trace view with one-span traces."""
    if not trace.get_current_span().is_recording():
        return nullcontext(trace.INVALID_SPAN)
    return _tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


class Tx:
    """One transaction on one pooled connection; each statement is traced, measured, and open to
    the agent's database faults."""

    def __init__(self, conn: psycopg.Connection, agent: FaultAgent | None = None):
        self.conn = conn
        self.agent = agent

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> psycopg.Cursor:
        verb = _verb(sql)
        started = time.perf_counter()
        outcome = "ok"
        counter = statements_in_request.get()
        if counter is not None:
            counter[0] += 1
        with _child_span(
            f"postgres {verb}", {"db.system": "postgresql", "db.operation": verb, "db.statement": " ".join(sql.split())}
        ) as span:
            try:
                if self.agent is not None and self.agent.db_faults:
                    effect = self.agent.db()
                    if effect is not None:
                        effect.sleep()
                        if effect.refuse:
                            outcome = "unavailable"
                            raise DependencyDown(PEER, "PostgreSQL unavailable: connection refused")
                return self.conn.execute(sql, params)
            except psycopg.errors.QueryCanceled:
                outcome = "timeout"
                span.set_status(Status(StatusCode.ERROR, "statement timeout"))
                raise
            except psycopg.Error as exc:
                outcome = "error"
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                OUTBOUND_REQUESTS.labels(PEER, verb, outcome).inc()
                OUTBOUND_DURATION.labels(PEER, verb).observe(time.perf_counter() - started)

    def one(self, sql: str, params: Sequence[Any] | dict | None = None) -> dict | None:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[dict]:
        return self.execute(sql, params).fetchall()


class Database:
    """A pool that opens lazily and survives PostgreSQL restarts (a connection idle for a while is
    checked before it is lent; a broken one in use fails its request and is replaced)."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        pool_size: int,
        connect_timeout_s: float,
        pool_timeout_s: float,
        statement_timeout_ms: int = 10000,
        agent: FaultAgent | None = None,
    ):
        self.url = url
        self.agent = agent
        self.pool_timeout_s = pool_timeout_s
        self._returned_at: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            name=name,
            timeout=pool_timeout_s,
            check=self._check_if_idle,
            reset=self._returned,
            # A long outage must not make the pool give up for good: keep reconnecting.
            reconnect_timeout=365 * 24 * 3600,
            kwargs={
                "connect_timeout": max(1, math.ceil(connect_timeout_s)),
                "application_name": name,
                "row_factory": dict_row,
                "options": f"-c statement_timeout={statement_timeout_ms}",
            },
        )

    def _returned(self, conn: psycopg.Connection) -> None:
        self._returned_at[conn] = time.monotonic()

    def _check_if_idle(self, conn: psycopg.Connection) -> None:
        returned = self._returned_at.get(conn)
        if returned is None or time.monotonic() - returned >= CHECK_AFTER_IDLE_S:
            ConnectionPool.check_connection(conn)

    @classmethod
    def of_service(cls, name: str, pool_size: int, common: Common, agent: FaultAgent) -> Database:
        """A service's own pool, opened, with the connection and pool timeouts every service shares."""
        return cls(
            common.database_url,
            name=name,
            pool_size=pool_size,
            agent=agent,
            connect_timeout_s=common.db_connect_timeout_s,
            pool_timeout_s=common.db_pool_timeout_s,
        ).open()

    def open(self) -> Database:
        self.pool.open(wait=False)
        return self

    def close(self) -> None:
        self.pool.close(timeout=2)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Commit on success, roll back on an exception; unavailability becomes DependencyDown."""
        try:
            with self.pool.connection() as conn:
                yield Tx(conn, self.agent)
        except PoolTimeout:
            raise DependencyDown(
                PEER,
                f"no PostgreSQL connection within {self.pool_timeout_s:g}s "
                f"(pool of {self.pool.max_size}); is the database up?",
            ) from None
        except psycopg.errors.QueryCanceled:
            raise DependencyTimeout(PEER, "a PostgreSQL statement hit its timeout") from None
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DependencyDown(PEER, f"PostgreSQL unavailable: {reason}") from None

    def ping(self) -> None:
        with self.transaction() as tx:
            tx.one("SELECT 1")

    def check_schema(self, minimum: int) -> None:
        """Readiness: reachable *and* migrated to at least ``minimum``."""
        with self.transaction() as tx:
            try:
                row = tx.one("SELECT coalesce(max(version), 0) AS v FROM public.schema_migrations")
            except psycopg.errors.UndefinedTable:
                raise RuntimeError("schema not migrated yet (run `chaoslab migrate`)") from None
        if row["v"] < minimum:
            raise RuntimeError(f"schema at version {row['v']}, need {minimum} (run `chaoslab migrate`)")
