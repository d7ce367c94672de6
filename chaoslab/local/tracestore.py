"""An in-memory OTLP/HTTP trace receiver: the local lab's stand-in for Jaeger.

The services export spans to the lab daemon exactly as they would to an
OpenTelemetry Collector (``POST /v1/traces``, protobuf). The daemon keeps the
most recent traces, bounded, and ``chaoslab traces`` prints them as trees.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from chaoslab.telemetry.inflight import IN_FLIGHT

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
    replaces a real span."""

    def __init__(self, max_traces: int = 1000, max_spans_per_trace: int = 2000):
        self.max_traces = max_traces
        self.max_spans = max_spans_per_trace
        self._traces: OrderedDict[str, dict[str, dict]] = OrderedDict()
        self._lock = threading.Lock()
        self.received = 0

    def add(self, spans: list[dict]) -> None:
        with self._lock:
            for span in spans:
                bucket = self._traces.setdefault(span["trace_id"], {})
                known = bucket.get(span["span_id"])
                if known is None and len(bucket) >= self.max_spans:
                    continue
                if known is None or known["open"]:
                    bucket[span["span_id"]] = span
                self.received += 1
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)

    def recent(self, last: int, service: str | None = None, trace_id: str | None = None) -> list[list[dict]]:
        """The ``last`` most recently started traces (optionally touching ``service``), oldest first."""
        with self._lock:
            if trace_id:
                found = self._traces.get(trace_id)
                return [list(found.values())] if found else []
            traces = [
                list(spans.values())
                for spans in self._traces.values()
                if service is None or any(s["service"] == service for s in spans.values())
            ]
        traces.sort(key=lambda spans: min(s["start_ns"] for s in spans))
        return traces[-last:] if last > 0 else []
