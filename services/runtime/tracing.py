"""OpenTelemetry traces across services, carried in the CloudEvents distributed-tracing
extension: every event a unit of work writes gets the `traceparent` (and `tracestate`) of the
span that handled its cause, and the next service continues that trace. The context is stored
with the event in the outbox, so an event published by the relay after a crash still belongs to
its trace. Spans are exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; without an
SDK the context still passes through unchanged."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from contracts.envelope import RawEnvelope

_PROPAGATOR = TraceContextTextMapPropagator()
EXTENSION_ATTRIBUTES = ("traceparent", "tracestate")


def configure(service: str) -> None:
    """Export this process's spans over OTLP/HTTP when the standard variable names a collector."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def trace_extension() -> dict[str, str]:
    """The current span's context as CloudEvents extension attributes (empty without a span)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return {k: v for k, v in carrier.items() if k in EXTENSION_ATTRIBUTES}


@cache
def _tracer(service: str) -> Tracer:
    """Made once (looking it up cost a tenth of a message's handling): before `configure`
    sets a provider it is a proxy that follows the provider set later."""
    return trace.get_tracer(f"pro-team.{service}")


@contextmanager
def handling(service: str, topic: str, envelope: RawEnvelope) -> Iterator[Span]:
    """A consumer span for one message, the child of the span that caused it (if it says)."""
    extra: dict[str, Any] = envelope.model_extra or {}
    carrier = {k: str(extra[k]) for k in EXTENSION_ATTRIBUTES if k in extra}
    parent = _PROPAGATOR.extract(carrier)
    with _tracer(service).start_as_current_span(
        f"{topic} process {envelope.type}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "pro_team.service": service,
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.message.id": envelope.id,
            "cloudevents.event_type": envelope.type,
            "cloudevents.event_source": envelope.source,
        },
    ) as span:
        yield span
