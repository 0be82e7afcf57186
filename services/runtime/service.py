"""Assemble a service: broker, Mongo, outbox relay, health/HTTP, background tasks; run it.

`create_runtime` wires the real servers; `memory_runtime` the same service over in-memory
collections and a recording publisher, for handler tests that need no server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn
from fastapi import APIRouter
from fastapi.responses import Response
from faststream.asgi import AsgiFastStream
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from contracts.topics import SOURCES, dlq_topic, message_types
from services.runtime import logs, tracing
from services.runtime.cancellation import cancel_until_done
from services.runtime.clock import Clock, SystemClock
from services.runtime.collection import Collection, Index, Storage
from services.runtime.consumer import Handler, Pipeline, RetryPolicy
from services.runtime.dispatch import Dispatch
from services.runtime.dlq import Origin
from services.runtime.events import Cause
from services.runtime.health import Health
from services.runtime.http import HttpApp, api
from services.runtime.kafka import make_broker
from services.runtime.memory_collection import MemoryStorage
from services.runtime.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from services.runtime.metrics import Metrics
from services.runtime.mongo import Document, make_client
from services.runtime.mongo_collection import MongoStorage
from services.runtime.outbox import Outbox
from services.runtime.publisher import KafkaPublisher, MemoryPublisher, Publisher
from services.runtime.rejections import Rejections
from services.runtime.settings import ServiceSettings
from services.runtime.startup import BrokerStarter, check_topic_access
from services.runtime.subscription import KeyOrderedSubscription, subscribe
from services.runtime.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
# How long a stopping service waits for its background loops (sweepers, the email retrier).
BACKGROUND_STOP_SECONDS = 10.0

Task = Callable[[], Awaitable[None]]


@dataclass
class Runtime:
    name: str
    settings: ServiceSettings
    storage: Storage
    publisher: Publisher
    outbox: Outbox
    clock: Clock
    broker: KafkaBroker | None = None  # None: in memory, nothing is subscribed
    mongo: AsyncMongoClient[Document] | None = None
    health: Health | None = None
    routers: list[APIRouter] = field(default_factory=list)  # the query APIs (bearer token)
    startup: list[Task] = field(default_factory=list)
    background: list[Task] = field(default_factory=list)
    outbox_collections: list[Collection] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)  # every topic it reads or writes
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=lambda: Metrics("service"))
    subscriptions: list[KeyOrderedSubscription] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)  # what it reads on each topic
    # called when the consumers' partitions change hands (see subscription.py)
    on_reassignment: list[Callable[[], None]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _app: AsgiFastStream | None = None
    _starter: BrokerStarter | None = None

    def __post_init__(self) -> None:
        # an instance that stopped may have left events in the accounts this one gains
        self.on_reassignment.append(self.outbox.want_full_sweep)

    @property
    def read_together(self) -> list[list[str]]:
        """The topics each subscription reads co-partitioned (those of more than one)."""
        return [s.topics for s in self.subscriptions if len(s.topics) > 1]

    @property
    def source(self) -> str:
        return SOURCES[self.name]

    def collection(self, name: str, *indexes: Index, outbox: bool = True) -> Collection:
        """A collection of this service's database; `outbox`: its documents carry events
        that the relay publishes if a crash left them behind."""
        collection = self.storage.collection(name, indexes)
        self.startup.append(collection.ensure_indexes)
        if outbox:
            self.outbox_collections.append(collection)
        return collection

    def dispatch(self, events_topic: str, one_account_at_a_time: bool = False) -> Dispatch:
        """The service's table of handlers by message class; each message gets its own unit
        of work, whose events go to `events_topic` unless an event names another."""

        def unit_of_work(cause: Cause) -> UnitOfWork:
            return UnitOfWork(self.outbox, self.source, events_topic, cause)

        return Dispatch(unit_of_work, one_account_at_a_time)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.settings.handler_max_attempts,
            max_backoff=self.settings.retry_max_backoff_seconds,
        )

    def publishes(self, topic: str, description: str) -> None:
        """Declare a topic this service writes (for its AsyncAPI document; publishing itself
        goes through the outbox)."""
        self.topics.add(topic)
        if self.broker is not None:
            self.broker.publisher(topic, title=f"{topic}:{self.name}", description=description)

    def rejections(self, events_topic: str) -> Rejections:
        collection = self.collection("rejections")
        return Rejections(collection, self.outbox, self.source, events_topic)

    def consume(
        self,
        topic: str,
        handler: Handler,
        *,
        rejections: Rejections | None = None,
        models: dict[str, type[BaseModel]] | None = None,
        description: str = "",
    ) -> Pipeline:
        """Read `topic` into `handler`. On a command topic (with `rejections`), a `Dispatch`
        must handle every command the topic carries."""
        pipeline = self.pipeline(
            topic, handler, rejections=rejections, models=models, description=description
        )
        self.subscribe([pipeline])
        return pipeline

    def pipeline(
        self,
        topic: str,
        handler: Handler,
        *,
        rejections: Rejections | None = None,
        models: dict[str, type[BaseModel]] | None = None,
        description: str = "",
    ) -> Pipeline:
        """How `topic`'s records are parsed, handled, retried and dead-lettered; `subscribe`
        reads it. `description`: what the service reads there (its AsyncAPI document)."""
        models = models or message_types(topic)
        missing = handler.missing(models.values()) if isinstance(handler, Dispatch) else []
        if rejections is not None and missing:
            raise ValueError(f"{self.name} has no handler for {', '.join(missing)} on {topic}")
        pipeline = Pipeline(
            service=self.name,
            topic=topic,
            models=models,
            handler=handler,
            publisher=self.publisher,
            rejections=rejections,
            metrics=self.metrics,
            retry=self.retry_policy(),
            on_transient=self.health.note_transient if self.health else lambda exc: None,
        )
        self.pipelines[topic] = pipeline
        self.descriptions[topic] = description or f"{self.name} consumes {topic}"
        self.topics.update((topic, dlq_topic(topic)))
        return pipeline

    def subscribe(self, pipelines: list[Pipeline]) -> None:
        """One consumer reads the pipelines' topics. Several are co-partitioned (see
        `subscription.py`): one instance at a time owns an account's records on all of them,
        and the service refuses to start while their partition counts differ."""
        if self.broker is None:
            return
        by_topic = {pipeline.topic: pipeline for pipeline in pipelines}

        async def work(value: bytes | None, origin: Origin) -> None:
            await by_topic[origin.topic].handle(value, origin)

        topics = list(by_topic)
        description = " ".join(self.descriptions[topic] for topic in topics)
        if len(topics) > 1:
            description += f" ({', '.join(topics)}: read together, co-partitioned)"
        self.subscriptions.append(
            subscribe(
                self.broker,
                topics,
                work,
                group_id=self.settings.group_id(self.name),
                # FastStream names each topic's channel "<title>:<topic>" when there are several
                title=f"{topics[0]}:{self.name}" if len(topics) == 1 else self.name,
                description=description,
                concurrency=self.settings.concurrency(),
                on_reassignment=self.on_reassignment,
            )
        )

    async def _start_background(self) -> None:
        for task in self.startup:
            await task()
        self.background.append(
            lambda: self.outbox.run_sweeper(
                self.outbox_collections,
                self.settings.outbox_sweep_seconds,
                self.settings.outbox_full_sweep_seconds,
            )
        )
        self._tasks = [asyncio.create_task(_forever(task)) for task in self.background]

    async def _stop_background(self) -> None:
        """The consumers first (they finish or cancel their records and commit, before the
        broker closes them); then the background loops, cancelled until they end (one
        cancellation can be lost: see `cancellation.py`)."""
        await asyncio.gather(*(subscription.stop() for subscription in self.subscriptions))
        await self.outbox.drain(patience=BACKGROUND_STOP_SECONDS)
        left = await cancel_until_done(self._tasks, patience=BACKGROUND_STOP_SECONDS)
        if left:
            log.error("%d background tasks did not stop; leaving them", len(left))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        """Run the consumers and background tasks in this event loop (in-process tests)."""
        assert self.broker is not None and self.mongo is not None
        async with self.broker:
            await self.broker.start()
            await self._start_background()
            try:
                yield self
            finally:
                await self._stop_background()
        await self.mongo.close()

    def faststream_app(self) -> AsgiFastStream:
        """Built once: creating an app re-binds the broker's dependency context, so a second
        app would silently break context injection in the running subscribers."""
        if self._app is None:
            self._app = self._make_faststream_app()
        return self._app

    def _make_faststream_app(self) -> AsgiFastStream:
        assert self.broker is not None, "an in-memory runtime has no broker to run"
        return AsgiFastStream(
            self.broker,
            specification=AsyncAPI(
                title=f"{self.name} service",
                version="1.0.0",
                description=f"Pro account team management: the {self.name} service",
            ),
            logger=logging.getLogger("faststream.app"),
            after_startup=[self._start_background],
            on_shutdown=[self._stop_background],
        )

    @property
    def starter(self) -> BrokerStarter:
        """Starts the FastStream app once the principal may use every topic, retrying."""
        if self._starter is None:
            app = self.faststream_app()

            async def start() -> None:
                access = self.settings.kafka_access()
                await check_topic_access(access, sorted(self.topics), self.read_together)
                await app.start()

            assert self.broker is not None and self.health is not None
            self._starter = BrokerStarter(
                start, self.broker.stop, self.settings.retry_max_backoff_seconds
            )
            self.health.startup_problem = lambda: self._starter.problem if self._starter else None
        return self._starter

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI lifespan: the HTTP side is up at once; the broker side starts in the background
        (and keeps trying), so a refused login or a missing ACL leaves the process unready
        instead of crash-looping."""
        await receive()  # lifespan.startup
        starter = self.starter
        starting = asyncio.create_task(starter.run())
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        if starter.started.is_set():
            await self.faststream_app().stop()
        await send({"type": "lifespan.shutdown.complete"})

    def asgi(self) -> HttpApp:
        """The process's ASGI app: HTTP routes, and lifespan events that run the broker."""
        return self.http_app(lifespan_app=self.lifespan)

    def http_app(self, lifespan_app: ASGIApp | None = None) -> HttpApp:
        open_routers = [self.health.router()] if self.health else []
        metrics = APIRouter(tags=["operations"])
        metrics.add_api_route(
            "/metrics",
            self.scrape,
            methods=["GET"],
            summary="Prometheus metrics (lag and outbox backlog measured now)",
            response_class=Response,
            responses={200: {"content": {METRICS_CONTENT_TYPE: {}}}},
        )
        http = api(
            f"{self.name} service",
            f"The HTTP API of the {self.name} service. Errors are RFC 9457 problems.",
            [*open_routers, metrics],
            self.routers,
            self.settings.api_token,
        )
        return HttpApp(http, lifespan_app)

    async def scrape(self) -> Response:
        """Prometheus text; the lag measured now, the outbox backlog as this process knows it."""
        subscribers = [s.subscriber for s in self.subscriptions if s.subscriber is not None]
        consumers = [s.consumer for s in subscribers if s.consumer is not None]
        self.metrics.measure_outbox(*self.outbox.backlog())
        try:
            async with asyncio.timeout(5):  # a scrape during an outage must not hang
                await self.metrics.measure_lag(consumers)
        except Exception as exc:  # noqa: BLE001 - a scrape during an outage still shows the counters
            log.warning("metrics: could not measure the consumer lag: %r", exc)
        return Response(self.metrics.render(), 200, media_type=METRICS_CONTENT_TYPE)


async def _forever(task: Task) -> None:
    try:
        await task()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task stopped")


def create_runtime(name: str, settings: ServiceSettings, clock: Clock | None = None) -> Runtime:
    metrics = Metrics(name)
    broker = make_broker(
        settings.kafka_access(), f"{name}-service", metrics.registry, settings.kafka_linger_ms
    )
    mongo = make_client(settings.mongodb_uri.get_secret_value())
    publisher = KafkaPublisher(broker)
    outbox = Outbox(publisher, batch_window=settings.outbox_batch_ms / 1000)
    outbox.on_published = metrics.count_published
    return Runtime(
        name=name,
        settings=settings,
        storage=MongoStorage(mongo[settings.database_name(name)]),
        publisher=publisher,
        outbox=outbox,
        clock=clock or SystemClock(),
        broker=broker,
        mongo=mongo,
        health=Health(broker, mongo),
        metrics=metrics,
    )


def memory_runtime(name: str, settings: ServiceSettings, clock: Clock | None = None) -> Runtime:
    metrics = Metrics(name)
    publisher = MemoryPublisher()
    outbox = Outbox(publisher, batch_window=settings.outbox_batch_ms / 1000)
    outbox.on_published = metrics.count_published
    return Runtime(
        name=name,
        settings=settings,
        storage=MemoryStorage(),
        publisher=publisher,
        outbox=outbox,
        clock=clock or SystemClock(),
        metrics=metrics,
    )


async def serve(runtime: Runtime) -> None:
    settings = runtime.settings
    config = uvicorn.Config(
        runtime.asgi(),
        host=settings.http_host,
        port=settings.http_port,
        lifespan="on",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    log.info("%s starting; HTTP on %s:%s", runtime.name, settings.http_host, settings.http_port)
    await server.serve()


def main(name: str, build: Callable[[], Runtime], log_level: str) -> None:
    logs.configure(name, log_level)
    tracing.configure(name)
    asyncio.run(_main(build))


async def _main(build: Callable[[], Runtime]) -> None:
    runtime = build()
    await serve(runtime)
