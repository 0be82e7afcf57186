"""Dead letters: the original bytes, untouched, on `<topic>.dlq` with the error and origin."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from contracts.common import format_time, utc_now
from contracts.topics import dlq_topic
from services.runtime.logs import redact
from services.runtime.publisher import Publisher, Record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int
    offset: int
    key: bytes | None


def dlq_headers(service: str, origin: Origin, error: str) -> dict[str, str]:
    return {
        "dlq-error": redact(error)[:2000],
        "dlq-source-topic": origin.topic,
        "dlq-source-partition": str(origin.partition),
        "dlq-source-offset": str(origin.offset),
        "dlq-service": service,
        "dlq-time": format_time(utc_now()),
    }


async def dead_letter(
    publisher: Publisher, service: str, origin: Origin, value: bytes | None, error: str
) -> None:
    headers = dlq_headers(service, origin, error)
    await publisher.publish(
        [Record(dlq_topic(origin.topic), origin.key, value or b"", None, headers)]
    )
    log.warning(
        "dead-lettered %s[%s]@%s: %s",
        origin.topic,
        origin.partition,
        origin.offset,
        redact(error),
        extra={"topic": origin.topic},
    )
