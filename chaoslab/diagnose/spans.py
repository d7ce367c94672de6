"""Spans reduced to facts: per finished span, where its time went and whether its error started there.

The origin rules of TraceRCA and MicroRank, on the span dicts the lab daemon keeps
(chaoslab/local/tracestore.py) or Jaeger returns (chaoslab/kubernetes/jaeger.py):

- Every span belongs to an **element**: ``("op", service, name)`` for a service's own work (server,
  consumer, internal spans), ``("call", caller, callee)`` for a client span to another service,
  ``("db", service, "postgres" | "redis")`` for a datastore call.
- Its **own time** is what the element itself spent: an op's duration minus the time its children
  covered (merged intervals), a call's duration minus the callee's server span (the network, a
  pool, a fault between the two), a datastore call's whole duration. Latency belongs to the element
  whose own time rose, not to the callers that wait on it.
- An error is an **origin** when none of its children erred: the deepest error explains the ones
  above it.
- A call with no server span was **unanswered**: refused, timed out, or answered by something on
  the way (a status with no callee); the callee was down or cut off. A call that failed while its
  callee was still working on it **hung** in the callee. A call into a service already on the
  trace's own call path is **re-entrant**: the ring closed on itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from chaoslab.servicegraph import DB_SYSTEMS, UNKNOWN, rpc_components

Element = tuple[str, str, str]
"""(kind, service, name): ("op", "service-b", "/chaoslab.v1.Inventory/Reserve"), ("call", "service-b",
"service-c"), ("db", "payment", "postgres")."""

OP, CALL, DB = "op", "call", "db"
TIMEOUT, REFUSED, STATUS = "timeout", "refused", "status"
"""How an unanswered call failed."""
_GRPC_DEADLINE_EXCEEDED = 4


@dataclass(frozen=True, slots=True)
class Fact:
    """One finished span, reduced to what the diagnosis compares."""

    trace_id: str
    end: float
    """Wall-clock seconds the span ended."""
    element: Element
    ms: float
    own_ms: float
    error: bool
    origin: bool
    """An error none of its children explains."""
    rejected: bool = False
    """A server span answered 4xx (the request was refused, not failed)."""
    unanswered: bool = False
    failure: str = ""
    """For a failed call: timeout, refused or status."""
    hung: bool = False
    """A failed call whose callee had picked it up and was still working when the caller gave up: the
    time went into the callee."""
    reentrant: bool = False


@dataclass(frozen=True, slots=True)
class OpenCall:
    """A call still in flight (an in-flight copy, chaoslab.telemetry.inflight)."""

    trace_id: str
    element: Element
    age_s: float
    answered: bool
    """Whether the callee's server span has started."""
    reentrant: bool


def element_of(span: dict, server_child: dict | None, rpc: dict[str, str]) -> Element:
    service = span["service"]
    if span["kind"] != "client":
        return (OP, service, span["name"])
    attributes = span.get("attributes") or {}
    store = DB_SYSTEMS.get(str(attributes.get("db.system", "")))
    if store is not None:
        return (DB, service, store)
    if server_child is not None:
        return (CALL, service, server_child["service"])
    if attributes.get("peer.service"):
        return (CALL, service, str(attributes["peer.service"]))
    if attributes.get("rpc.service"):
        name = str(attributes["rpc.service"])
        return (CALL, service, rpc.get(name, name))
    return (CALL, service, UNKNOWN)


def _ms(span: dict) -> float:
    return max(0, span["end_ns"] - span["start_ns"]) / 1e6


def _covered_ms(span: dict, children: list[dict]) -> float:
    """Milliseconds of ``span`` its children's intervals cover (merged, clipped to the span)."""
    start, end = span["start_ns"], span["end_ns"]
    intervals = sorted((max(start, c["start_ns"]), min(end, c["end_ns"])) for c in children)
    covered, reach = 0, start
    for lo, hi in intervals:
        lo = max(lo, reach)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return covered / 1e6


def _failed(span: dict) -> bool:
    if span["status"] == "error":
        return True
    code = (span.get("attributes") or {}).get("http.response.status_code")
    return span["kind"] == "client" and isinstance(code, int) and code >= 500


def failure_of(span: dict) -> str:
    """How an unanswered call failed, from what its span says (status text, gRPC code)."""
    attributes = span.get("attributes") or {}
    text = (span.get("status_message") or "").lower()
    if attributes.get("rpc.grpc.status_code") == _GRPC_DEADLINE_EXCEEDED or any(
        word in text for word in ("deadline", "timeout", "timed out")
    ):
        return TIMEOUT
    if any(word in text for word in ("connect", "refused", "unreachable")):
        return REFUSED
    return STATUS


class _Trace:
    """One trace's spans indexed for the rules above."""

    def __init__(self, spans: list[dict]):
        self.by_id = {s["span_id"]: s for s in spans}
        self.children: dict[str, list[dict]] = defaultdict(list)
        for s in spans:
            if s.get("parent_id"):
                self.children[s["parent_id"]].append(s)

    def server_child(self, span: dict) -> dict | None:
        return next((c for c in self.children.get(span["span_id"], ()) if c["kind"] == "server"), None)

    def ancestors(self, span: dict) -> set[str]:
        """Services of the spans above ``span`` (its own included), up to the root or a missing parent."""
        seen: set[str] = set()
        current: dict | None = span
        for _ in range(64):  # a bound against a malformed trace whose parents loop
            if current is None:
                break
            seen.add(current["service"])
            current = self.by_id.get(current.get("parent_id") or "")
        return seen


def facts(spans: list[dict], only: set[str] | None = None) -> list[Fact]:
    """Facts of the finished spans of one trace (``only``: just these span ids; the others still
    count as children)."""
    trace = _Trace(spans)
    rpc = rpc_components()
    found = []
    for span in spans:
        if span.get("open") or (only is not None and span["span_id"] not in only):
            continue
        kids = trace.children.get(span["span_id"], [])
        server = trace.server_child(span) if span["kind"] == "client" else None
        element = element_of(span, server, rpc)
        ms = _ms(span)
        error = _failed(span)
        hung = False
        if element[0] == OP:
            own = max(0.0, ms - _covered_ms(span, kids))
            origin = error and not any(_failed(k) for k in kids)
        elif element[0] == CALL:
            own = max(0.0, ms - _covered_ms(span, [server])) if server is not None else ms
            hung = error and server is not None and bool(server.get("open") or server["end_ns"] > span["end_ns"])
            origin = error and not hung and not (server is not None and _failed(server))
        else:
            own, origin = ms, error
        unanswered = element[0] == CALL and server is None
        code = (span.get("attributes") or {}).get("http.response.status_code")
        found.append(
            Fact(
                trace_id=span["trace_id"],
                end=span["end_ns"] / 1e9,
                element=element,
                ms=round(ms, 3),
                own_ms=round(own, 3),
                error=error,
                origin=origin,
                rejected=span["kind"] == "server" and isinstance(code, int) and 400 <= code < 500,
                unanswered=unanswered,
                failure=failure_of(span) if element[0] == CALL and error else "",
                hung=hung,
                reentrant=element[0] == CALL and element[2] in trace.ancestors(span),
            )
        )
    return found


def open_calls(spans: list[dict], now: float) -> list[OpenCall]:
    """Client calls of one trace still open (in-flight copies), with whether the callee picked them up."""
    trace = _Trace(spans)
    rpc = rpc_components()
    found = []
    for span in spans:
        if not span.get("open") or span["kind"] != "client":
            continue
        server = trace.server_child(span)
        element = element_of(span, server, rpc)
        if element[0] != CALL:
            continue
        found.append(
            OpenCall(
                trace_id=span["trace_id"],
                element=element,
                age_s=round(max(0.0, now - span["start_ns"] / 1e9), 1),
                answered=server is not None,
                reentrant=element[2] in trace.ancestors(span),
            )
        )
    return found
