"""A consumer process built with the services' runtime, for the commit-after-handling test.

    python -m tests.runtime.slow_consumer TOPIC GROUP MARKER_DIR MODE
MODE=hang: note the record in MARKER_DIR/started-<offset>, then hang (to be killed -9).
MODE=record: note the record in MARKER_DIR/handled-<offset> and return.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from faststream.kafka import KafkaMessage

from services.runtime.kafka import COMMIT_AFTER_HANDLING, make_broker
from services.runtime.settings import ServiceSettings


async def main(topic: str, group: str, markers: Path, mode: str) -> None:
    broker = make_broker(ServiceSettings().kafka_access(), "slow-consumer")

    @broker.subscriber(
        topic, group_id=group, auto_offset_reset="earliest", ack_policy=COMMIT_AFTER_HANDLING
    )
    async def handle(msg: KafkaMessage) -> None:
        record = msg.raw_message
        name = f"{record.partition}-{record.offset}"
        if mode == "hang":
            (markers / f"started-{name}").write_bytes(record.value)
            await asyncio.sleep(3600)
        (markers / f"handled-{name}").write_bytes(record.value)

    async with broker:
        await broker.start()
        (markers / "ready").touch()
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]))
