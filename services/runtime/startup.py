"""Start the broker side of a service without ever crash-looping.

A wrong password, a missing ACL or an unreachable broker leaves the process up and unready
(`/readyz` 503 with the reason), logs one line naming the principal (and the topic) each time the
reason changes, and tries again with a capped backoff. Before connecting its consumers the
service checks that its principal may use every topic it reads or writes, and that topics it
reads together have as many partitions each (see `subscription.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError

from services.runtime.kafka_access import KafkaAccess

log = logging.getLogger(__name__)


class StartRefused(RuntimeError):
    """A reason not to start that says it all (its text is the readiness problem)."""


class BrokerAccessDenied(StartRefused):
    pass


class TopicsNotCoPartitioned(StartRefused):
    pass


def unequal_partitions(counts: dict[str, int], together: Sequence[Sequence[str]]) -> str | None:
    """Why topics read together are not co-partitioned (None: each group's counts are equal)."""
    for topics in together:
        if len({counts.get(topic) for topic in topics}) > 1:
            listed = ", ".join(f"{topic} has {counts.get(topic, 'no')}" for topic in topics)
            return (
                f"topics read together need as many partitions each ({listed}), so that one "
                "instance owns an account's records on all of them"
            )
    return None


async def check_topic_access(
    access: KafkaAccess, topics: Sequence[str], together: Sequence[Sequence[str]] = ()
) -> None:
    """Authenticate and describe the topics; raise naming the principal and any denied topic,
    or the topics of a `together` group whose partition counts differ."""
    admin = AIOKafkaAdminClient(**access.aiokafka(), request_timeout_ms=10_000)
    try:
        await admin.start()
    except Exception as exc:
        with contextlib.suppress(Exception):
            await admin.close()
        raise BrokerAccessDenied(
            f"kafka principal {access.principal!r} cannot connect to "
            f"{access.bootstrap_servers}: {exc!r}"
        ) from exc
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    denied = sorted(
        str(topic["topic"])
        for topic in described
        if topic["error_code"] == TopicAuthorizationFailedError.errno
    )
    if denied:
        raise BrokerAccessDenied(
            f"kafka principal {access.principal!r} is not authorised for topic(s) "
            f"{', '.join(denied)}"
        )
    counts = {
        str(topic["topic"]): len(topic["partitions"])
        for topic in described
        if topic["error_code"] == 0
    }
    unequal = unequal_partitions(counts, together)
    if unequal:
        raise TopicsNotCoPartitioned(unequal)


class BrokerStarter:
    """Runs `start` until it succeeds; `problem` says why it has not (None once up)."""

    def __init__(
        self,
        start: Callable[[], Awaitable[None]],
        clean_up: Callable[[], Awaitable[None]],
        max_backoff: float,
    ) -> None:
        self._start = start
        self._clean_up = clean_up
        self._max_backoff = max_backoff
        self.problem: str | None = "starting"
        self.started = asyncio.Event()

    async def run(self) -> None:
        delay, logged = 1.0, ""
        while True:
            try:
                await self._start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: stay up, unready, retry
                self.problem = str(exc) if isinstance(exc, StartRefused) else repr(exc)
                if self.problem != logged:
                    log.error("broker not started (will retry): %s", self.problem)
                    logged = self.problem
                with contextlib.suppress(Exception):
                    await self._clean_up()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            self.problem = None
            self.started.set()
            if logged:
                log.info("broker started after: %s", logged)
            return
