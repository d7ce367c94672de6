"""OpenTelemetry tracing configured by the standard ``OTEL_*`` variables.

Spans leave the process over OTLP/HTTP in batches: to the local lab daemon
(``chaoslab traces``) or to the OpenTelemetry Collector on Kubernetes. A
collector that is down costs dropped spans, never a failed request.
"""

from __future__ import annotations

import os
import threading

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from chaoslab import __version__

_processors: list[BatchSpanProcessor] = []
"""The batch processors configure_tracing installed: shutdown_tracing cancels their exporters."""


def configure_tracing(service_name: str, team: str, in_flight: bool = False) -> TracerProvider | None:
    """Install the global tracer provider; returns it so the caller can flush it on exit.

    Honours OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER (otlp, console, none). ``in_flight`` also
    reports spans that are still open (chaoslab.telemetry.inflight; CHAOSLAB_INFLIGHT_SPANS).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "chaoslab",
            "service.version": __version__,
            "chaoslab.team": team,
        }
    )
    provider = TracerProvider(resource=resource)
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    exporter = None
    if exporter_name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
        if in_flight:
            from chaoslab.telemetry.inflight import InFlightSpans

            provider.add_span_processor(InFlightSpans(OTLPSpanExporter(timeout=2)))
    elif exporter_name == "console":
        exporter = ConsoleSpanExporter()
    if exporter is not None:
        processor = BatchSpanProcessor(exporter)
        _processors.append(processor)
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing(provider: TracerProvider, timeout_s: float) -> bool:
    """Flush the last spans and stop, in at most ``timeout_s``: with the collector unreachable the
    SDK alone retries for up to half a minute. Returns False when spans were dropped."""
    stopper = threading.Thread(target=provider.shutdown, name="tracing-shutdown", daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    if not stopper.is_alive():
        return True
    for processor in _processors:
        processor.span_exporter.shutdown()  # cancels the exporter's retries; a daemon thread is left
    return False


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name, __version__)


def carrier_from_current() -> dict[str, str]:
    """W3C trace context of the current span, for a message that leaves the process."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def context_from_carrier(carrier: dict[str, str]) -> Context:
    """The remote parent stored in a message (Redis entry, outbox row)."""
    return extract(carrier)
