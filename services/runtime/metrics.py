"""Prometheus metrics of one service, served as text at `/metrics` on its HTTP port.

Counters move where things happen (the pipeline, the outbox, the mailer); consumer lag and the
outbox backlog are measured when scraped. Each runtime has its own registry, so several
services in one process (the tests) keep their numbers apart."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from contracts.common import utc_now
from services.runtime.collection import Document

PREFIX = "pro_team"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.handled = Counter(
            f"{PREFIX}_messages_handled_total",
            "Records read, by topic, message type and outcome (handled, rejected, duplicate, "
            "dead_lettered, ignored)",
            ["topic", "type", "outcome"],
            registry=r,
        )
        self.duration = Histogram(
            f"{PREFIX}_handler_duration_seconds",
            "Time from a parsed record to its handler's end (retries included)",
            ["topic", "type"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            f"{PREFIX}_commands_rejected_total",
            "CommandRejected published, by command type and reason",
            ["type", "reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            f"{PREFIX}_dead_letters_total",
            "Records written to <topic>.dlq, by source topic",
            ["topic"],
            registry=r,
        )
        self.published = Counter(
            f"{PREFIX}_events_published_total",
            "Events published from the outbox, by topic and type",
            ["topic", "type"],
            registry=r,
        )
        self.emails = Counter(
            f"{PREFIX}_emails_total",
            "Email attempts by template and outcome (sent, failed, retrying)",
            ["template", "outcome"],
            registry=r,
        )
        self.lag = Gauge(
            f"{PREFIX}_consumer_lag",
            "Records on a partition not yet committed by this service's group (at scrape)",
            ["topic", "partition"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            f"{PREFIX}_outbox_backlog_documents",
            "Documents whose events this process failed to publish and will try again",
            registry=r,
        )
        self.outbox_oldest = Gauge(
            f"{PREFIX}_outbox_oldest_seconds",
            "Age of the oldest unpublished outbox event, 0 when none (at scrape)",
            registry=r,
        )

    def count_published(self, entry: Document) -> None:
        self.published.labels(entry["topic"], entry["type"]).inc()

    async def measure_lag(self, consumers: Iterable[AIOKafkaConsumer]) -> None:
        for consumer in consumers:
            partitions = sorted(consumer.assignment())
            if not partitions:
                continue
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                committed = await consumer.committed(tp)
                lag = ends[tp] - (committed or 0)
                self.lag.labels(tp.topic, str(tp.partition)).set(max(lag, 0))

    def measure_outbox(self, documents: int, oldest: datetime | None) -> None:
        self.outbox_backlog.set(documents)
        self.outbox_oldest.set(0 if oldest is None else (utc_now() - oldest).total_seconds())

    def render(self) -> bytes:
        return generate_latest(self.registry)
