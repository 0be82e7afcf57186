"""A consumer process built with the services' runtime, for the commit-after-handling test.

    python -m tests.runtime.slow_consumer TOPIC GROUP MARKER_DIR MODE
MODE=hang: note the record in MARKER_DIR/started-<offset>, then hang (to be killed -9).
MODE=record: note the record in MARKER_DIR/handled-<offset> and return.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from services.runtime.dlq import Origin
from services.runtime.kafka import make_broker
from services.runtime.settings import ServiceSettings
from services.runtime.subscription import subscribe


async def main(topic: str, group: str, markers: Path, mode: str) -> None:
    broker = make_broker(ServiceSettings().kafka_access(), "slow-consumer")

    async def handle(value: bytes | None, origin: Origin) -> None:
        name = f"{origin.partition}-{origin.offset}"
        if mode == "hang" and origin.key == b"acct-1":
            (markers / f"started-{name}").write_bytes(value or b"")
            await asyncio.sleep(3600)
        (markers / f"handled-{name}").write_bytes(value or b"")

    subscription = subscribe(broker, [topic], handle, group, "slow-consumer", "")
    async with broker:
        await broker.start()
        (markers / "ready").touch()
        try:
            await asyncio.sleep(3600)
        finally:
            await subscription.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]))
