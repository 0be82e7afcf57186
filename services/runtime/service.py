"""Assemble a service: broker, Mongo, outbox relay, health/HTTP, background tasks; run it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn
from faststream.asgi import AsgiFastStream
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.topics import SOURCES, dlq_topic, message_types
from services.runtime import logs
from services.runtime.consumer import Handler, RetryPolicy, TopicConsumer
from services.runtime.health import Health
from services.runtime.http import HttpApp, Route
from services.runtime.kafka import make_broker
from services.runtime.mongo import Document, make_client
from services.runtime.outbox import Outbox
from services.runtime.rejections import Rejections
from services.runtime.settings import ServiceSettings
from services.runtime.startup import BrokerStarter, check_topic_access

log = logging.getLogger(__name__)

Task = Callable[[], Awaitable[None]]


@dataclass
class Runtime:
    name: str
    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    outbox: Outbox
    health: Health
    routes: list[Route] = field(default_factory=list)
    startup: list[Task] = field(default_factory=list)
    background: list[Task] = field(default_factory=list)
    outbox_collections: list[AsyncCollection[Document]] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)  # every topic it reads or writes
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _app: AsgiFastStream | None = None
    _starter: BrokerStarter | None = None

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.mongo[self.settings.database_name(self.name)]

    @property
    def source(self) -> str:
        return SOURCES[self.name]

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.settings.handler_max_attempts,
            max_backoff=self.settings.retry_max_backoff_seconds,
        )

    def publishes(self, topic: str, description: str) -> None:
        """Declare a topic this service writes (for its AsyncAPI document; publishing itself
        goes through the outbox)."""
        self.topics.add(topic)
        self.broker.publisher(topic, title=f"{topic}:{self.name}", description=description)

    def rejections(self, events_topic: str) -> Rejections:
        collection = self.db["rejections"]
        self.outbox_collections.append(collection)
        return Rejections(collection, self.outbox, self.source, events_topic)

    def consume(
        self,
        topic: str,
        handler: Handler,
        *,
        rejections: Rejections | None = None,
        models: dict[str, type[BaseModel]] | None = None,
        description: str = "",
    ) -> TopicConsumer:
        consumer = TopicConsumer(
            service=self.name,
            broker=self.broker,
            topic=topic,
            models=models or message_types(topic),
            handler=handler,
            rejections=rejections,
            retry=self.retry_policy(),
            on_transient=self.health.note_transient,
        )
        consumer.subscribe(self.settings.group_id(self.name), description)
        self.topics.update((topic, dlq_topic(topic)))
        return consumer

    async def _start_background(self) -> None:
        for task in self.startup:
            await task()
        self.background.append(
            lambda: self.outbox.run_sweeper(
                self.outbox_collections, self.settings.outbox_sweep_seconds
            )
        )
        self._tasks = [asyncio.create_task(_forever(task)) for task in self.background]

    async def _stop_background(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        """Run the consumers and background tasks in this event loop (in-process tests)."""
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
                await check_topic_access(access, sorted(self.topics))
                await app.start()

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
        return HttpApp([*self.health.routes(), *self.routes], lifespan_app, self.settings.api_token)


async def _forever(task: Task) -> None:
    try:
        await task()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task stopped")


def create_runtime(name: str, settings: ServiceSettings) -> Runtime:
    broker = make_broker(settings.kafka_access(), client_id=f"{name}-service")
    mongo = make_client(settings.mongodb_uri.get_secret_value())
    return Runtime(
        name=name,
        settings=settings,
        broker=broker,
        mongo=mongo,
        outbox=Outbox(broker),
        health=Health(broker, mongo),
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
    asyncio.run(_main(build))


async def _main(build: Callable[[], Runtime]) -> None:
    runtime = build()
    await serve(runtime)
