"""Spans that have not ended yet, reported while they are still open.

OpenTelemetry exports a span when it ends. A checkout stuck in the deadlock,
or a call into a partition, never ends in time to be seen: the trace is
invisible exactly when it matters. This span processor keeps the spans that
are open and, every ``every_s``, exports a provisional copy of each one open
longer than ``after_s`` (attribute ``chaoslab.in_flight: true``, end time =
now) to the same OTLP endpoint. The receiver (the lab daemon's trace store)
shows them as open and replaces each with the real span when it ends.

It is switched on by CHAOSLAB_INFLIGHT_SPANS (the local lab does): a
receiver that does not know the attribute (Jaeger) would show the copies as
extra spans.
"""

from __future__ import annotations

import threading
import time

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

IN_FLIGHT = "chaoslab.in_flight"


class InFlightSpans(SpanProcessor):
    def __init__(self, exporter: SpanExporter, after_s: float = 1.0, every_s: float = 1.0, max_spans: int = 2000):
        self.exporter = exporter
        self.after_ns = int(after_s * 1e9)
        self.every_s = every_s
        self.max_spans = max_spans
        self._open: dict[int, Span] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._report_forever, name="in-flight-spans", daemon=True)
        self._thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if len(self._open) < self.max_spans:  # a bound: a leak of open spans must not grow without end
            self._open[span.context.span_id] = span

    def on_end(self, span: ReadableSpan) -> None:
        self._open.pop(span.context.span_id, None)

    def snapshot(self, now_ns: int | None = None) -> list[ReadableSpan]:
        """Provisional copies of the spans open longer than ``after_s``."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        copies = []
        for span in list(self._open.values()):
            if span.start_time is None or now_ns - span.start_time < self.after_ns or span.end_time is not None:
                continue
            copies.append(
                ReadableSpan(
                    name=span.name,
                    context=span.context,
                    parent=span.parent,
                    resource=span.resource,
                    attributes={**(span.attributes or {}), IN_FLIGHT: True},
                    kind=span.kind,
                    status=span.status,
                    start_time=span.start_time,
                    end_time=now_ns,
                    instrumentation_scope=span.instrumentation_scope,
                )
            )
        return copies

    def _report_forever(self) -> None:
        while not self._stop.wait(self.every_s):
            copies = self.snapshot()
            if copies:
                try:
                    self.exporter.export(copies)
                except Exception:  # a receiver that is down costs a report, never the service
                    pass

    def shutdown(self) -> None:
        self._stop.set()
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
