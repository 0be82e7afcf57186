"""What sending concurrent storage calls together saves, on the real MongoDB-wire server.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.storage [--callers 20]

With accounts handled concurrently, many handlers read, insert and compare-and-set documents at
the same moment. `MongoCollection` sends the calls made in one event-loop turn as one request
(`services/runtime/coalesce.py`). For each kind of call, `--callers` concurrent callers are
timed `--rounds` times two ways, alternating in blocks of 20 rounds: each call its own request
(raw pymongo, what a store without coalescing sends) and through `MongoCollection`. Printed per
kind: wall time per round (p50), the CPU the database servers (FerretDB, PostgreSQL) spent per
call, and the ratios, all from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pymongo.asynchronous.collection import AsyncCollection

from bench.cpu import CpuWindow
from services.runtime.collection import Document
from services.runtime.mongo import make_client
from services.runtime.mongo_collection import MongoCollection
from services.runtime.settings import ServiceSettings

Round = Callable[[int], Awaitable[object]]
BLOCK = 20  # rounds of one way before the other's


@dataclass
class Way:
    """One way of making the calls: wall time per round and CPU seconds over all rounds."""

    seconds: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    async def run(self, step: Round, rounds: range) -> None:
        """`rounds` in one CPU window: the kernel counts CPU in 10 ms ticks, far longer than
        a round."""
        window = CpuWindow({"this process": os.getpid()})
        window.start()
        for round_no in rounds:
            started = time.perf_counter()
            await step(round_no)
            self.seconds.append(time.perf_counter() - started)
        window.stop()
        assert window.spent is not None
        for name, spent in window.spent.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + spent

    def database_cpu(self) -> float:
        return self.cpu.get("FerretDB", 0.0) + self.cpu.get("PostgreSQL + DocumentDB", 0.0)


def kinds(
    raw: AsyncCollection[Document], ours: MongoCollection, callers: int
) -> dict[str, tuple[Round, Round]]:
    """Each kind of call: (one request per call, through MongoCollection), for round r."""

    def key(r: int, c: int, way: str) -> str:
        return f"{way}-r{r}-c{c}"

    def new_doc(r: int, c: int, way: str) -> Document:
        return {"_id": key(r, c, way), "version": 1, "account_id": f"a{c}", "n": 0}

    async def raw_insert(r: int) -> None:
        await asyncio.gather(*[raw.insert_one(new_doc(r, c, "raw")) for c in range(callers)])

    async def our_insert(r: int) -> None:
        await asyncio.gather(*[ours.insert(new_doc(r, c, "ours")) for c in range(callers)])

    async def raw_get(r: int) -> None:
        await asyncio.gather(*[raw.find_one({"_id": key(r, c, "raw")}) for c in range(callers)])

    async def our_get(r: int) -> None:
        await asyncio.gather(*[ours.get(key(r, c, "ours")) for c in range(callers)])

    def replaced(r: int, c: int, way: str) -> Document:
        return {**new_doc(r, c, way), "version": 2, "n": 1}

    async def raw_replace(r: int) -> None:
        await asyncio.gather(
            *[
                raw.replace_one({"_id": key(r, c, "raw"), "version": 1}, replaced(r, c, "raw"))
                for c in range(callers)
            ]
        )

    async def our_replace(r: int) -> None:
        await asyncio.gather(*[ours.replace(replaced(r, c, "ours"), 1) for c in range(callers)])

    async def raw_set(r: int) -> None:
        update = {"$set": {"outbox": []}, "$inc": {"version": 1}}
        await asyncio.gather(
            *[
                raw.update_one({"_id": key(r, c, "raw"), "version": 2}, update)
                for c in range(callers)
            ]
        )

    async def our_set(r: int) -> None:
        await asyncio.gather(
            *[ours.set_fields(key(r, c, "ours"), 2, {"outbox": []}) for c in range(callers)]
        )

    return {
        "insert": (raw_insert, our_insert),
        "look-up by id": (raw_get, our_get),
        "compare-and-set replace": (raw_replace, our_replace),
        "compare-and-set field update": (raw_set, our_set),
    }


async def main(callers: int, rounds: int) -> None:
    client = make_client(ServiceSettings().mongodb_uri.get_secret_value())
    database = client[f"bench_storage_{uuid.uuid4().hex[:8]}"]
    raw = database["docs"]
    ours = MongoCollection(raw)
    table = kinds(raw, ours, callers)
    results = {name: (Way(), Way()) for name in table}
    try:
        # kinds in order (each works on what the one before wrote); the two ways alternate
        for name, (raw_round, our_round) in table.items():
            one_by_one, together = results[name]
            for block in range(0, rounds, BLOCK):
                await one_by_one.run(raw_round, range(block, min(block + BLOCK, rounds)))
                await together.run(our_round, range(block, min(block + BLOCK, rounds)))
    finally:
        await client.drop_database(database.name)
        await client.close()
    calls = callers * rounds
    print(f"{callers} concurrent callers, {rounds} rounds each way, in blocks of {BLOCK}\n")
    header = f"{'call':30} {'one request each':>26} {'sent together':>26} {'ratio':>15}"
    print(header)
    columns = "p50 ms  db CPU ms/call"
    print(f"{'':30} {columns:>26} {columns:>26} {'time   db CPU':>15}")
    for name, (one_by_one, together) in results.items():
        slow, fast = statistics.median(one_by_one.seconds), statistics.median(together.seconds)
        slow_cpu, fast_cpu = one_by_one.database_cpu() / calls, together.database_cpu() / calls
        # under a 10 ms tick in all the rounds: too little to compare
        cpu_ratio = f"{slow_cpu / fast_cpu:6.1f}x" if fast_cpu else "   n/a"
        print(
            f"{name:30} {slow * 1000:8.2f} {slow_cpu * 1000:13.3f}    "
            f"{fast * 1000:8.2f} {fast_cpu * 1000:13.3f}    {slow / fast:5.1f}x {cpu_ratio}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.callers, args.rounds))
