"""Open spans are reported while open, as provisional copies that the real span replaces."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chaoslab.local.tracestore import TraceStore
from chaoslab.telemetry.inflight import IN_FLIGHT, InFlightSpans
from chaoslab.tracetree import render


def test_a_span_open_longer_than_the_threshold_is_reported_until_it_ends():
    exporter = InMemorySpanExporter()
    inflight = InFlightSpans(exporter, after_s=1.0, every_s=3600)  # snapshot() is called by hand below
    provider = TracerProvider()
    provider.add_span_processor(inflight)
    span = provider.get_tracer("test").start_span("POST /checkout")
    assert inflight.snapshot(now_ns=span.start_time + 500_000_000) == []
    [copy] = inflight.snapshot(now_ns=span.start_time + 2_000_000_000)
    assert copy.attributes[IN_FLIGHT] is True and copy.end_time - copy.start_time == 2_000_000_000
    assert copy.context.span_id == span.context.span_id
    span.end()
    assert inflight.snapshot(now_ns=span.start_time + 3_000_000_000) == []
    inflight.shutdown()


def _span(span_id: str, open_: bool, end_ns: int) -> dict:
    return {
        "trace_id": "ab" * 16,
        "span_id": span_id,
        "parent_id": None if span_id == "01" else "01",
        "service": "service-a",
        "name": "POST /checkout" if span_id == "01" else "Reserve → service-b",
        "kind": "server",
        "start_ns": 0,
        "end_ns": end_ns,
        "status": "unset",
        "status_message": "",
        "attributes": {},
        "open": open_,
    }


def test_the_store_replaces_an_open_copy_with_the_real_span_and_never_the_other_way():
    store = TraceStore()
    store.add([_span("01", True, 2_000_000_000), _span("02", True, 2_000_000_000)])
    text = render(store.recent(1)[0])
    assert "2 still open" in text and ">= 2000.0 ms, still open" in text
    store.add([_span("02", False, 2_500_000_000)])
    store.add([_span("02", True, 3_000_000_000)])  # a copy sent before the span ended, arriving late
    spans = {s["span_id"]: s for s in store.recent(1)[0]}
    assert spans["02"]["open"] is False and spans["02"]["end_ns"] == 2_500_000_000
    assert spans["01"]["open"] is True
