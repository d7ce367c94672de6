"""The service graph: who calls whom, how often, how well and how fast, from the spans alone.

It reads spans the way the OpenTelemetry Collector's servicegraph connector does, so a trainee's
reading of the graph is one they could make at work:

- A **request edge** pairs a client span with the server span that is its child (caller → callee).
  The pair waits up to ``pairing_wait_s`` (2 s, as the connector) for the other half to arrive.
- A client span whose server child never arrives names its callee itself: ``peer.service`` (HTTP
  calls), ``rpc.service`` mapped to the component that serves it (gRPC calls), ``db.system``
  (PostgreSQL and Redis, which have no spans of their own: those are **database edges** and need
  no partner). A call to a traced service that ended with no server span reached nobody: it is
  **unanswered**, like the connector's calls to a virtual node, and that is what a partition, a dead
  callee or a full handler pool looks like.
- A server span with no parent was called from outside the traces: an edge from ``client``.
- A consumer span whose parent is a producer span is a **messaging edge** (service-a → worker
  through the Redis stream).
- Spans still open (``open: true``, chaoslab.telemetry.inflight) count as **in flight** on their
  edge; an open call with no server span after ``UNANSWERED_AFTER_S`` is unanswered too.

Each edge gets, over a window (1 or 5 minutes): request rate, error share, p50/p95/p99 from the
caller's side and p95 from the callee's side, in-flight and unanswered calls, a health verdict on
Kiali's thresholds (``Thresholds``), and whether it is **new**: not among a healthy lab's edges
(``HealthyEdges``; service-c → service-a appears only in the deadlock). Nodes sum their inbound edges.

API (what the console and the diagnosis build on):

- ``ServiceGraph().add(spans)`` feeds span dicts as the lab daemon's TraceStore decodes them, in
  any order and in as many batches as they arrive; thread-safe.
- ``.snapshot(window_s)`` → ``Graph`` (nodes, edges, ``to_dict()``).
- ``.traces(window_s, source=…, target=…)`` / ``(node=…)`` → recent failed, slow and still-open
  trace ids through an edge or a node (``TraceRef``).
- ``from_spans(spans, now)``: the same for a finished batch of spans (tests, a trace backend).

Memory is bounded: per edge one slice of counts and a log-scale histogram per ``SLICE_S`` seconds for
``retention_s``, plus a short list of exemplar traces; pending pairs are dropped after a few seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace

from chaoslab.topology import COMPONENTS, FRONT_DOOR, SERVICE_NAMES

CLIENT = "client"
"""Virtual node: whoever calls the lab from outside the traces (users, the load generator)."""
UNKNOWN = "unknown"
"""Virtual node: a callee a client span does not name."""

REQUEST, MESSAGING, DATABASE = "request", "messaging", "database"
"""Edge connection types."""

HEALTHY, DEGRADED, FAILED, IDLE = "healthy", "degraded", "failed", "idle"
"""Health verdicts, Kiali's words (idle: no traffic in the window)."""

DB_SYSTEMS = {"postgresql": "postgres", "redis": "redis"}
"""``db.system`` of a client span → the datastore's node (its name in chaoslab.topology)."""

SLICE_S = 5
"""Width of the time slices counts and histograms are kept in: a window is accurate to one slice."""
UNANSWERED_AFTER_S = 3.0
"""An open call with no server span this long after it started reached nobody. In-flight copies are
reported once a span is open 1 s and then every second, so a server span that started has been
reported by then."""
OPEN_STALE_S = 3.0
"""An in-flight copy not refreshed for this long belongs to a process that died: forget it."""
ANSWER_MEMORY_S = 30.0
"""How long a server span is remembered for its client span to arrive and pair with it."""
SETTLE_EVERY_S = 0.5
"""Pairs are settled (and old state dropped) at most this often while spans arrive."""


def rpc_components() -> dict[str, str]:
    """Fully qualified gRPC service → the component that serves it (chaoslab.topology)."""
    return {rpc: c.name for c in COMPONENTS for rpc in c.rpc_services}


# ---- thresholds and baseline --------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """When an edge or node is degraded or failed: Kiali's error thresholds, and p95 against an
    objective (degraded above it, failed above twice it). Unanswered calls still open fail an edge."""

    degraded_error_share: float = 0.001
    """Kiali: degraded from 0.1 % failed requests."""
    failed_error_share: float = 0.10
    """Kiali: failed above 10 %."""
    p95_objective_ms: dict[str, float] = field(
        default_factory=lambda: {REQUEST: 200.0, MESSAGING: 1000.0, DATABASE: 100.0}
    )
    """p95 objective per connection type, for hops inside the lab."""
    front_door_p95_ms: float = 400.0
    """Objective of calls from outside into the front door: the baseline SLO's checkout p95
    (chaoslab/loadtest/verify.py BASELINE_SLO; the console passes that value in)."""

    def objective_ms(self, source: str, connection: str) -> float:
        return self.front_door_p95_ms if source == CLIENT else self.p95_objective_ms.get(connection, 200.0)

    def judge(self, edge: Edge) -> str:
        if edge.requests == 0 and edge.in_flight == 0:
            return IDLE
        objective = self.objective_ms(edge.source, edge.connection)
        p95 = edge.p95_ms or 0.0
        if edge.open_unanswered or edge.error_share > self.failed_error_share or p95 > 2 * objective:
            return FAILED
        if edge.error_share >= self.degraded_error_share or p95 > objective:
            return DEGRADED
        return HEALTHY


_RANK = {IDLE: 0, HEALTHY: 1, DEGRADED: 2, FAILED: 3}


def worst(verdicts: Iterable[str]) -> str:
    return max(verdicts, key=_RANK.__getitem__, default=IDLE)


@dataclass(frozen=True)
class HealthyEdges:
    """The edges a healthy lab has; any other edge in a graph is marked ``new``."""

    edges: frozenset[tuple[str, str]]

    @classmethod
    def from_topology(cls) -> HealthyEdges:
        """The edges the lab has by design (chaoslab.topology): users → the front door, each service →
        the peers it calls (not the dormant ones a scenario switches on), its datastores, and the
        consumers of what it publishes."""
        edges = {(CLIENT, FRONT_DOOR)}
        for c in COMPONENTS:
            edges |= {(c.name, peer) for peer, _ in c.peers.values() if peer not in c.dormant}
            edges |= {(c.name, store) for store in c.uses}
            edges |= {(c.name, consumer) for consumer in c.feeds}
        return cls(frozenset(edges))

    @classmethod
    def from_graph(cls, graph: Graph) -> HealthyEdges:
        """The edges that carried traffic in ``graph`` (a graph of a healthy warm-up window)."""
        return cls(frozenset((e.source, e.target) for e in graph.edges if e.requests or e.in_flight))

    def __contains__(self, edge: tuple[str, str]) -> bool:
        return edge in self.edges


# ---- the graph ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    connection: str
    """request, messaging or database."""
    requests: int
    """Calls that ended within the window."""
    errors: int
    """Of them, failed: either side's span has error status (timeouts and refusals included)."""
    unanswered: int
    """Calls that ended within the window without the callee ever seeing them."""
    in_flight: int
    """Calls open now."""
    open_unanswered: int
    """Of them, open longer than UNANSWERED_AFTER_S with no server span: waiting for a callee that
    has not picked them up."""
    oldest_open_ms: float | None
    rate: float
    """Ended calls per second over the window."""
    error_share: float
    """(errors + open unanswered) / (requests + open unanswered)."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    server_p95_ms: float | None
    """p95 of the callee's own spans: far below the caller's p95 means time lost on the way (a queue,
    a pool, a fault applied before the call left)."""
    new: bool = False
    """Not in the baseline: an edge that appeared with the incident."""
    health: str = IDLE

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.target)


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    """client, service, database or unknown."""
    requests: int
    errors: int
    rate: float
    error_share: float
    p95_ms: float | None
    in_flight: int
    unanswered: int
    health: str


@dataclass(frozen=True)
class Graph:
    window_s: float
    at: float
    """Wall-clock seconds the snapshot was taken at."""
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def edge(self, source: str, target: str) -> Edge | None:
        return next((e for e in self.edges if e.source == source and e.target == target), None)

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def to_dict(self) -> dict:
        return {
            "window_s": self.window_s,
            "at": self.at,
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [asdict(e) for e in self.edges],
        }

    @classmethod
    def from_dict(cls, found: dict) -> Graph:
        """The graph ``to_dict`` wrote (a recording's frame)."""
        return cls(
            window_s=found["window_s"],
            at=found["at"],
            nodes=tuple(Node(**n) for n in found["nodes"]),
            edges=tuple(Edge(**e) for e in found["edges"]),
        )


@dataclass(frozen=True)
class TraceRef:
    """One call through an edge, to open its trace."""

    trace_id: str
    source: str
    target: str
    ended_at: float
    """Wall-clock seconds (for an open call: when it was last seen)."""
    duration_ms: float
    error: bool
    unanswered: bool
    open: bool = False


def node_kind(name: str) -> str:
    if name == CLIENT:
        return "client"
    if name in SERVICE_NAMES:
        return "service"
    if name in DB_SYSTEMS.values():
        return "database"
    return "unknown"


class _Histogram:
    """Counts on a log scale (about 4.5 % wide bins): percentiles of any window from merged slices."""

    __slots__ = ("bins",)
    STEP = math.log(2) / 8

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}

    def add(self, ms: float) -> None:
        index = math.floor(math.log(max(ms, 0.001)) / self.STEP)
        self.bins[index] = self.bins.get(index, 0) + 1

    def merge(self, other: _Histogram) -> None:
        for index, count in other.bins.items():
            self.bins[index] = self.bins.get(index, 0) + count

    def quantile(self, q: float) -> float | None:
        total = sum(self.bins.values())
        if not total:
            return None
        rank, seen = q * total, 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return round(math.exp((index + 0.5) * self.STEP), 1)
        return None


class _Slice:
    """One edge's calls that ended within SLICE_S seconds, and a few of them to show (exemplars)."""

    __slots__ = ("client", "errors", "failed", "requests", "server", "slow", "start", "unanswered")
    KEEP_FAILED, KEEP_SLOW = 3, 2  # KEEP_SLOW is 2: keep() compares the two it has

    def __init__(self, start: int):
        self.start = start
        self.requests = self.errors = self.unanswered = 0
        self.client = _Histogram()
        self.server = _Histogram()
        self.failed: list[TraceRef] = []
        self.slow: list[TraceRef] = []

    def keep(self, error: bool, duration_ms: float, make: Callable[[], TraceRef]) -> None:
        """The latest failed calls and the slowest others (``make`` builds the reference only if it is kept:
        this runs for every span the lab receives)."""
        if error:
            self.failed.append(make())
            if len(self.failed) > self.KEEP_FAILED:
                self.failed.pop(0)
        elif len(self.slow) < self.KEEP_SLOW:
            self.slow.append(make())
        else:
            fastest = 0 if self.slow[0].duration_ms <= self.slow[1].duration_ms else 1
            if duration_ms > self.slow[fastest].duration_ms:
                self.slow[fastest] = make()


@dataclass
class _OpenCall:
    span: dict
    seen: float


class ServiceGraph:
    """Edges and nodes of the lab, fed span by span; see the module docstring."""

    def __init__(
        self,
        baseline: HealthyEdges | None = None,
        thresholds: Thresholds | None = None,
        retention_s: float = 300.0,
        pairing_wait_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ):
        self.baseline = baseline
        self.thresholds = thresholds or Thresholds()
        self.retention_s = retention_s
        self.pairing_wait_s = pairing_wait_s
        self.clock = clock
        self._rpc = rpc_components()
        self._lock = threading.Lock()
        self._slices: dict[tuple[str, str], deque[_Slice]] = {}
        self._connection: dict[tuple[str, str], str] = {}
        self._settled_at = 0.0
        self._pending: dict[str, tuple[dict, float]] = {}  # client span id → (span, deadline)
        self._answers: dict[str, tuple[str, float | None, bool, float]] = {}  # parent id → (svc, ms, error, seen)
        self._parents: dict[str, str] = {}  # producer span id → its service
        self._pending_consumers: dict[str, tuple[dict, float]] = {}  # producer span id → (consumer, deadline)
        self._parents_order: deque[tuple[str, float]] = deque()
        self._open_calls: dict[str, _OpenCall] = {}
        self._open_roots: dict[str, _OpenCall] = {}

    # ---- feeding ----------------------------------------------------------------------------
    def add(self, spans: Iterable[dict]) -> None:
        """Take spans as they arrive (any order, any batching; open copies and their final spans)."""
        now = self.clock()
        with self._lock:
            for span in spans:
                kind = span.get("kind")
                if kind in ("server", "consumer"):
                    self._callee_span(span, now)
                elif kind == "client":
                    self._client_span(span, now)
                elif kind == "producer" and not span.get("open"):
                    self._producer_span(span, now)
            if now - self._settled_at >= SETTLE_EVERY_S:
                self._settle(now)

    def _callee_span(self, span: dict, now: float) -> None:
        parent = span.get("parent_id")
        if span["kind"] == "consumer":
            if span.get("open"):
                return
            if parent in self._parents:
                self._record(self._parents[parent], span["service"], MESSAGING, span, _ms(span), None, False)
            else:  # the producer's batch may come later than the consumer's
                self._pending_consumers[parent or span["span_id"]] = (span, now + self.pairing_wait_s)
            return
        if parent is None:
            if span.get("open"):
                self._open_roots[span["span_id"]] = _OpenCall(span, now)
                return
            self._open_roots.pop(span["span_id"], None)
            self._record(CLIENT, span["service"], REQUEST, span, _ms(span), _ms(span), False)
            return
        server_ms = None if span.get("open") else _ms(span)
        self._answers[parent] = (span["service"], server_ms, span["status"] == "error", now)
        pending = self._pending.pop(parent, None)
        if pending is not None:
            self._resolve(pending[0])

    def _producer_span(self, span: dict, now: float) -> None:
        self._parents[span["span_id"]] = span["service"]
        self._parents_order.append((span["span_id"], now))
        waiting = self._pending_consumers.pop(span["span_id"], None)
        if waiting is not None:
            consumer = waiting[0]
            self._record(span["service"], consumer["service"], MESSAGING, consumer, _ms(consumer), None, False)

    def _client_span(self, span: dict, now: float) -> None:
        if span.get("open"):
            if span["span_id"] not in self._pending:
                self._open_calls[span["span_id"]] = _OpenCall(span, now)
            return
        self._open_calls.pop(span["span_id"], None)
        db = DB_SYSTEMS.get(span["attributes"].get("db.system", ""))
        if db is not None:
            self._record(span["service"], db, DATABASE, span, _ms(span), None, False)
        elif span["span_id"] in self._answers:
            self._resolve(span)
        else:
            self._pending[span["span_id"]] = (span, now + self.pairing_wait_s)

    def _resolve(self, span: dict) -> None:
        """Record a client span: paired with its server span if one arrived, else unpaired."""
        answer = self._answers.pop(span["span_id"], None)
        if answer is not None:
            callee, server_ms, server_error, _ = answer
            self._record(span["service"], callee, REQUEST, span, _ms(span), server_ms, False, server_error)
            return
        callee = self.callee_of(span)
        self._record(span["service"], callee, REQUEST, span, _ms(span), None, callee in SERVICE_NAMES)

    def callee_of(self, span: dict) -> str:
        """Whom a client span calls, by its own attributes (for calls with no server span)."""
        attributes = span.get("attributes", {})
        if attributes.get("peer.service"):
            return str(attributes["peer.service"])
        if attributes.get("rpc.service"):
            return self._rpc.get(str(attributes["rpc.service"]), str(attributes["rpc.service"]))
        db = DB_SYSTEMS.get(attributes.get("db.system", ""))
        return db or UNKNOWN

    def _record(
        self,
        source: str,
        target: str,
        connection: str,
        span: dict,
        client_ms: float,
        server_ms: float | None,
        unanswered: bool,
        server_error: bool = False,
    ) -> None:
        key = (source, target)
        self._connection.setdefault(key, connection)
        slices = self._slices.setdefault(key, deque())
        start = int(span["end_ns"] // 1_000_000_000) // SLICE_S * SLICE_S
        if not slices or slices[-1].start < start:
            slices.append(_Slice(start))
            current = slices[-1]
        else:  # a late span (it waited for its partner): its slice, made in its place if need be
            index = len(slices)
            while index > 0 and slices[index - 1].start > start:
                index -= 1
            if index > 0 and slices[index - 1].start == start:
                current = slices[index - 1]
            else:
                current = _Slice(start)
                slices.insert(index, current)
        error = span["status"] == "error" or server_error
        current.requests += 1
        current.errors += error
        current.unanswered += unanswered
        current.client.add(client_ms)
        if server_ms is not None:
            current.server.add(server_ms)
        current.keep(
            error,
            client_ms,
            lambda: TraceRef(
                span["trace_id"], source, target, span["end_ns"] / 1e9, round(client_ms, 1), error, unanswered
            ),
        )

    def _settle(self, now: float) -> None:
        """Resolve pairs that waited long enough; forget what is too old to matter."""
        self._settled_at = now
        for span_id, (span, deadline) in list(self._pending.items()):
            if deadline <= now:
                del self._pending[span_id]
                self._resolve(span)
        for parent, (span, deadline) in list(self._pending_consumers.items()):
            if deadline <= now:
                del self._pending_consumers[parent]
                self._record(UNKNOWN, span["service"], MESSAGING, span, _ms(span), None, False)
        for parent, answer in list(self._answers.items()):
            if now - answer[3] > ANSWER_MEMORY_S:
                del self._answers[parent]
        for table in (self._open_calls, self._open_roots):
            for span_id, call in list(table.items()):
                if now - call.seen > OPEN_STALE_S:
                    del table[span_id]
        while self._parents_order and now - self._parents_order[0][1] > self.retention_s:
            self._parents.pop(self._parents_order.popleft()[0], None)
        oldest = now - self.retention_s - SLICE_S
        for key, slices in list(self._slices.items()):
            while slices and slices[0].start < oldest:
                slices.popleft()
            if not slices:
                del self._slices[key]

    # ---- reading ----------------------------------------------------------------------------
    def exemplars(self) -> set[str]:
        """Every trace ``traces`` may list now: each slice's failed and slow calls, and the open ones (the
        lab's trace store keeps these beyond its newest traces, chaoslab/local/tracestore.py)."""
        with self._lock:
            pieces = [piece for slices in self._slices.values() for piece in slices]
            found = {ref.trace_id for piece in pieces for ref in (*piece.failed, *piece.slow)}
            for table in (self._open_calls, self._open_roots):
                found.update(call.span["trace_id"] for call in table.values())
        return found

    def _open_by_edge(self, now: float) -> dict[tuple[str, str], list[tuple[dict, bool]]]:
        """Open calls per edge, each with whether it is unanswered so far."""
        found: dict[tuple[str, str], list[tuple[dict, bool]]] = {}
        for call in self._open_calls.values():
            span = call.span
            answer = self._answers.get(span["span_id"])
            callee = answer[0] if answer else self.callee_of(span)
            age_s = now - span["start_ns"] / 1e9
            unanswered = answer is None and callee in SERVICE_NAMES and age_s >= UNANSWERED_AFTER_S
            found.setdefault((span["service"], callee), []).append((span, unanswered))
        for call in self._open_roots.values():
            found.setdefault((CLIENT, call.span["service"]), []).append((call.span, False))
        return found

    def snapshot(self, window_s: float = 60.0) -> Graph:
        """Every node and edge with traffic in the last ``window_s`` seconds, or with calls open now;
        every edge of the baseline too (idle when quiet), so the layout does not lose them."""
        now = self.clock()
        with self._lock:
            self._settle(now)
            since = now - window_s
            opened = self._open_by_edge(now)
            keys = set(self._slices) | set(opened) | set(self.baseline.edges if self.baseline else ())
            edges = [self._edge(key, since, window_s, opened.get(key, []), now) for key in keys]
        edges = [e for e in edges if e.requests or e.in_flight or (self.baseline and e.key in self.baseline)]
        edges.sort(key=lambda e: e.key)
        return Graph(window_s, now, self._nodes(edges), tuple(edges))

    def history(self, source: str, target: str, window_s: float = 60.0) -> list[dict]:
        """One edge over the last ``window_s`` seconds, a point per SLICE_S: when (the slice's start),
        calls ended, their rate, failed share and p95 (None without calls)."""
        now = self.clock()
        with self._lock:
            self._settle(now)
            pieces = [p for p in self._slices.get((source, target), ()) if p.start + SLICE_S > now - window_s]
            return [
                {
                    "at": piece.start,
                    "requests": piece.requests,
                    "rate": round(piece.requests / SLICE_S, 3),
                    "error_share": round(piece.errors / piece.requests, 4) if piece.requests else None,
                    "p95_ms": piece.client.quantile(0.95),
                }
                for piece in sorted(pieces, key=lambda p: p.start)
            ]

    def _edge(self, key: tuple[str, str], since: float, window_s: float, opened: list, now: float) -> Edge:
        requests = errors = unanswered = 0
        client, server = _Histogram(), _Histogram()
        for piece in self._slices.get(key, ()):
            if piece.start + SLICE_S > since:
                requests += piece.requests
                errors += piece.errors
                unanswered += piece.unanswered
                client.merge(piece.client)
                server.merge(piece.server)
        open_unanswered = sum(1 for _, waiting in opened if waiting)
        oldest = max((now - span["start_ns"] / 1e9 for span, _ in opened), default=None)
        attempts = requests + open_unanswered
        edge = Edge(
            source=key[0],
            target=key[1],
            connection=self._connection.get(key, DATABASE if node_kind(key[1]) == "database" else REQUEST),
            requests=requests,
            errors=errors,
            unanswered=unanswered,
            in_flight=len(opened),
            open_unanswered=open_unanswered,
            oldest_open_ms=round(oldest * 1000, 1) if oldest is not None else None,
            rate=round(requests / window_s, 3),
            error_share=round((errors + open_unanswered) / attempts, 4) if attempts else 0.0,
            p50_ms=client.quantile(0.5),
            p95_ms=client.quantile(0.95),
            p99_ms=client.quantile(0.99),
            server_p95_ms=server.quantile(0.95),
            new=self.baseline is not None and key not in self.baseline,
        )
        return replace(edge, health=self.thresholds.judge(edge))

    def _nodes(self, edges: list[Edge]) -> tuple[Node, ...]:
        names = dict.fromkeys([CLIENT, *SERVICE_NAMES, *DB_SYSTEMS.values()])
        names.update(dict.fromkeys(n for e in edges for n in e.key))
        nodes = []
        for name in names:
            inbound = [e for e in edges if e.target == name]
            # The users outside the traces receive nothing: they are as healthy as the calls they make.
            judged = [e for e in edges if e.source == name] if name == CLIENT else inbound
            requests = sum(e.requests for e in inbound)
            errors = sum(e.errors for e in inbound)
            waiting = sum(e.open_unanswered for e in inbound)
            attempts = requests + waiting
            p95s = [e.server_p95_ms or e.p95_ms for e in inbound if e.requests]
            nodes.append(
                Node(
                    name=name,
                    kind=node_kind(name),
                    requests=requests,
                    errors=errors,
                    rate=round(sum(e.rate for e in inbound), 3),
                    error_share=round((errors + waiting) / attempts, 4) if attempts else 0.0,
                    p95_ms=max(p95s) if p95s else None,
                    in_flight=sum(e.in_flight for e in inbound),
                    unanswered=sum(e.unanswered + e.open_unanswered for e in inbound),
                    health=worst(e.health for e in judged),
                )
            )
        return tuple(nodes)

    def traces(
        self,
        window_s: float = 300.0,
        source: str | None = None,
        target: str | None = None,
        node: str | None = None,
        limit: int = 8,
    ) -> dict[str, list[TraceRef]]:
        """Recent calls through an edge (``source`` and ``target``) or touching a node (``node``):
        ``failed`` (newest first), ``slow`` (slowest first, not failed) and ``open`` (still running,
        longest first), at most ``limit`` each."""
        now = self.clock()

        def wanted(key: tuple[str, str]) -> bool:
            if node is not None:
                return node in key
            return (source is None or key[0] == source) and (target is None or key[1] == target)

        with self._lock:
            refs = [
                ref
                for key, slices in self._slices.items()
                if wanted(key)
                for piece in slices
                if piece.start + SLICE_S > now - window_s
                for ref in (*piece.failed, *piece.slow)
            ]
            opened = [
                TraceRef(
                    span["trace_id"],
                    key[0],
                    key[1],
                    now,
                    round((now - span["start_ns"] / 1e9) * 1000, 1),
                    False,
                    waiting,
                    open=True,
                )
                for key, calls in self._open_by_edge(now).items()
                if wanted(key)
                for span, waiting in calls
            ]
        refs = [r for r in refs if r.ended_at >= now - window_s]
        failed = sorted((r for r in refs if r.error), key=lambda r: -r.ended_at)
        slow = sorted((r for r in refs if not r.error), key=lambda r: -r.duration_ms)
        return {
            "failed": _unique(failed)[:limit],
            "slow": _unique(slow)[:limit],
            "open": _unique(sorted(opened, key=lambda r: -r.duration_ms))[:limit],
        }


def _unique(refs: list[TraceRef]) -> list[TraceRef]:
    seen: set[str] = set()
    kept = []
    for ref in refs:
        if ref.trace_id not in seen:
            seen.add(ref.trace_id)
            kept.append(ref)
    return kept


def _ms(span: dict) -> float:
    return max(0, span["end_ns"] - span["start_ns"]) / 1e6


def from_spans(spans: Iterable[dict], now: float, baseline: HealthyEdges | None = None, **kwargs) -> ServiceGraph:
    """The graph of a finished batch of spans (a trace backend's answer, a test) as of ``now`` (wall
    seconds): nothing is waited for, a client span with no server span in the batch is unpaired."""
    graph = ServiceGraph(baseline=baseline, pairing_wait_s=0.0, clock=lambda: now, **kwargs)
    graph.add(list(spans))
    return graph
