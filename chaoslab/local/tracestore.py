"""An in-memory OTLP/HTTP trace receiver: the local lab's stand-in for Jaeger.

The services export spans to the lab daemon exactly as they would to an
OpenTelemetry Collector (``POST /v1/traces``, protobuf). The daemon keeps the
most recent traces, bounded, and ``chaoslab traces`` prints them as trees.

Under the default load the newest 1000 traces are the last half minute or so;
a trace the diagnosis cited would be gone before a trainee opened it. So a
cited trace is *pinned*: kept beyond the newest ones for ``pin_s`` (longer
than the 40-minute root-cause bar), at most ``max_pinned`` of them, the
oldest pin going first (bench/tracestore_memory.py measures what that costs).

The console lists the slowest and the failed calls of the last five minutes (the service graph's
exemplars); most are older than the newest traces. So the store also keeps a trace while it is
*listed* (``listed``, chaoslab.servicegraph's ``ServiceGraph.exemplars``): what a page offers to open
opens, the way a tail-sampling collector keeps the errors and the slow ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from chaoslab.telemetry.inflight import IN_FLIGHT

log = logging.getLogger("chaoslab.traces")

LISTED_EVERY_S = 5.0
"""How often the listed traces are asked for again (the graph's slices are this wide)."""
MAX_ATTRIBUTE_CHARS = 300
"""Attribute values are kept, but long ones (SQL text) cut: the store is bounded in memory."""


def _short(value):
    return value[:MAX_ATTRIBUTE_CHARS] if isinstance(value, str) else value


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def decode(body: bytes) -> list[dict]:
    """Flatten an ExportTraceServiceRequest into span dicts (hex ids, ns times, service name)."""
    request = ExportTraceServiceRequest.FromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = resource.get("service.name", "unknown")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {a.key: _short(_value(a.value)) for a in span.attributes}
                in_flight = bool(attributes.pop(IN_FLIGHT, False))
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_id": span.parent_span_id.hex() or None,
                        "service": service,
                        "team": resource.get("chaoslab.team"),
                        "name": span.name,
                        "kind": Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_").lower(),
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "status": Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_").lower(),
                        "status_message": span.status.message,
                        "attributes": attributes,
                        "open": in_flight,
                    }
                )
    return spans


class TraceStore:
    """The last ``max_traces`` traces, oldest evicted first; spans of one trace arrive in several batches.

    A span that is still open arrives as a provisional copy (``open: true``, end = when it was last
    seen, chaoslab.telemetry.inflight); the real span replaces it when it ends, and a late copy never
    replaces a real span.

    ``listed`` returns the trace ids a page may list now; those pushed out of the newest ones are kept
    while they are listed, at most ``max_listed`` (the oldest going first)."""

    def __init__(
        self,
        max_traces: int = 1000,
        max_spans_per_trace: int = 2000,
        max_pinned: int = 1000,
        pin_s: float = 3600.0,
        listed: Callable[[], Collection[str]] | None = None,
        max_listed: int = 3000,
        clock: Callable[[], float] = time.time,
    ):
        self.max_traces = max_traces
        self.max_spans = max_spans_per_trace
        self.max_pinned = max_pinned
        self.pin_s = pin_s
        self.listed = listed
        self.max_listed = max_listed
        self.clock = clock
        self._traces: OrderedDict[str, dict[str, dict]] = OrderedDict()
        self._pins: OrderedDict[str, float] = OrderedDict()  # trace id → pinned until, oldest pin first
        self._kept: dict[str, dict[str, dict]] = {}  # pinned traces pushed out of the newest ones
        self._listed: Collection[str] = frozenset()
        self._listed_at = float("-inf")
        self._kept_listed: OrderedDict[str, dict[str, dict]] = OrderedDict()  # listed ones, oldest first
        self._lock = threading.Lock()
        self.received = 0

    def add(self, spans: list[dict]) -> None:
        listed = self._ask_listed()
        with self._lock:
            if listed is not None:
                self._listed = listed
                for trace_id in [t for t in self._kept_listed if t not in listed]:
                    del self._kept_listed[trace_id]
            for span in spans:
                trace_id = span["trace_id"]
                bucket = self._kept.get(trace_id) or self._kept_listed.get(trace_id)
                if bucket is None:
                    bucket = self._traces.setdefault(trace_id, {})
                known = bucket.get(span["span_id"])
                if known is None and len(bucket) >= self.max_spans:
                    continue
                if known is None or known["open"]:
                    bucket[span["span_id"]] = span
                self.received += 1
            self._expire()
            while len(self._traces) > self.max_traces:
                trace_id, bucket = self._traces.popitem(last=False)
                if trace_id in self._pins:
                    self._kept[trace_id] = bucket
                elif trace_id in self._listed:
                    self._kept_listed[trace_id] = bucket
                    if len(self._kept_listed) > self.max_listed:
                        self._kept_listed.popitem(last=False)

    def _ask_listed(self) -> Collection[str] | None:
        """The listed trace ids, when it is time to ask again (outside the store's lock: ``listed`` takes
        the graph's)."""
        now = self.clock()
        if self.listed is None or now - self._listed_at < LISTED_EVERY_S:
            return None
        self._listed_at = now
        try:
            return self.listed()
        except Exception:  # the console's listing must never cost the exporter its spans: keep the last one
            log.exception("trace store: the listed traces could not be read; keeping the last listing")
            return None

    def pin(self, trace_ids: Iterable[str]) -> None:
        """Keep these traces readable for ``pin_s`` from now (a trace pinned again is kept longer)."""
        until = self.clock() + self.pin_s
        with self._lock:
            for trace_id in trace_ids:
                self._pins.pop(trace_id, None)
                self._pins[trace_id] = until
                if trace_id in self._kept_listed:
                    self._kept[trace_id] = self._kept_listed.pop(trace_id)
            while len(self._pins) > self.max_pinned:
                trace_id, _ = self._pins.popitem(last=False)
                self._kept.pop(trace_id, None)
            self._expire()

    def _expire(self) -> None:
        now = self.clock()
        while self._pins and next(iter(self._pins.values())) <= now:
            trace_id, _ = self._pins.popitem(last=False)
            self._kept.pop(trace_id, None)

    @property
    def pinned(self) -> int:
        """Pinned traces no longer among the newest ones (kept for their pin alone)."""
        return len(self._kept)

    @property
    def kept_listed(self) -> int:
        """Listed traces no longer among the newest ones (kept while they are listed)."""
        return len(self._kept_listed)

    def recent(self, last: int, service: str | None = None, trace_id: str | None = None) -> list[list[dict]]:
        """The ``last`` most recently started traces (optionally touching ``service``), oldest first."""
        with self._lock:
            if trace_id:
                found = self._traces.get(trace_id) or self._kept.get(trace_id) or self._kept_listed.get(trace_id)
                return [list(found.values())] if found else []
            traces = [
                list(spans.values())
                for spans in self._traces.values()
                if service is None or any(s["service"] == service for s in spans.values())
            ]
        traces.sort(key=lambda spans: min(s["start_ns"] for s in spans))
        return traces[-last:] if last > 0 else []
