"""access_control on real FerretDB/MongoDB: incremental changes vs a full recompute, and the
visible-clients query vs a plain full-page read. Ratios are measured in one run.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.access_control

Account: 10,000 clients, 200 members, 50 tags. Client i carries tag t{i % 50}; members 0-19
are administrators, the others practitioners with three neighbouring tags each; the measured
member (the last, m199) holds 25 tags and so sees 5,000 clients. Changes go to clients
c00042-c00046 and members m150-m154 (three quarters of the way). Smaller accounts (at least
50 clients, 30 members) keep the same shape.

CPU per call is the CPU this process and the stack's servers spent over all of a step's
calls, divided by their number (the kernel counts it in 10 ms ticks).

Warm-up (`--warmup W`, default 200): W rounds of the least-I/O step, a client change and a member
change, on clients and members that are not measured (five clients half way along, c05000-c05004
by default, and m020-m024, which overlap the measured members below 34), before anything is
timed. A stack started a minute ago has a cold broker and database: in the first run after
`stack up` the least I/O took 3.8-5.7 ms without a warm-up and 2.9-3.0 ms after one (the client
change moved less than the runs' noise).

Next to the changes, the least I/O any durable change must do (read one document, write it back
conditionally, publish one event and wait for its acknowledgement) is timed without the
service: the full recompute over it is the most an incremental change could reach here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.collection import AsyncCollection

from bench.cpu import CpuWindow
from bench.topics import scratch_topic
from contracts.envelope import RawEnvelope
from contracts.messages import SetClientSecurityTags, SetMemberSecurityTags
from services.access_control.api import CheckRequest, matrix_lines, router
from services.access_control.app import build
from services.access_control.repair import recompute
from services.access_control.settings import AccessControlSettings
from services.access_control.store import AccessStore, in_key_order, key
from services.runtime.collection import Document
from services.runtime.inbound import Parsed
from services.runtime.unit_of_work import MAX_REMEMBERED_COMMANDS

CLIENT_CHANGE = "one client's tags (incremental)"
LEAST_IO = "least I/O of a durable change"
MEMBER_CHANGE = "one member's tags (incremental)"


def command(account: str, type_: str, data: dict[str, Any]) -> RawEnvelope:
    return RawEnvelope(
        id=str(uuid.uuid4()),
        source="/bench",
        type=type_,
        accountid=account,
        actorid="m000",
        data=data,
    )


async def timed(step: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - start)
    return samples


async def alternating(
    ours: Callable[[], Awaitable[object]], theirs: Callable[[], Awaitable[object]], repeat: int
) -> tuple[list[float], list[float]]:
    """Both timed in turns (ABBA), so that a noisy moment of the shared machine falls on both
    sides alike and their ratio compares like with like."""
    a: list[float] = []
    b: list[float] = []
    for round_no in range(repeat):
        pair = ((ours, a), (theirs, b))
        for step, samples in pair if round_no % 2 == 0 else reversed(pair):
            samples.extend(await timed(step, 1))
    return a, b


@dataclass(frozen=True)
class Measured:
    """Wall time of each call, and the CPU all of them cost: this process and the stack's
    servers (FerretDB, PostgreSQL, Kafka) over the calls' window, per call."""

    samples: list[float]
    cpu_per_call: float


async def measured(step: Callable[[], Awaitable[object]], repeat: int) -> Measured:
    window = CpuWindow({"this process": os.getpid()})
    window.start()
    samples = await timed(step, repeat)
    window.stop()
    # "this process" is counted once (as the generator it is left out)
    return Measured(samples, window.all_but_the_generator() / repeat)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def warm_up(steps: tuple[Callable[[], Awaitable[object]], ...], rounds: int) -> None:
    started = time.perf_counter()
    for _ in range(rounds):
        for step in steps:
            await step()
    print(f"warm-up: {rounds} rounds in {time.perf_counter() - started:.1f} s", flush=True)


async def main(clients: int, members: int, tags: int, repeat: int, warmup: int) -> None:
    settings = AccessControlSettings(mongodb_db=f"bench_access_{uuid.uuid4().hex[:8]}")
    service = build(settings)
    store, dispatch = service.store, service.dispatch
    broker, mongo = service.runtime.broker, service.runtime.mongo
    assert broker is not None and mongo is not None
    db = mongo[settings.database_name("access_control")]
    account = "acct-bench"
    await broker.connect()
    for step in service.runtime.startup:  # the indexes, as the service makes them at start
        await step()
    print(f"setting up {clients} clients, {members} members, {tags} tags ...", flush=True)
    await db["clients"].insert_many(
        [
            {
                "_id": f"{account}|c{i:05d}",
                "account_id": account,
                "client_id": f"c{i:05d}",
                "tags": [f"t{i % tags}"],
                "removed": False,
                "version": 1,
                "outbox": [],
            }
            for i in range(clients)
        ]
    )
    await db["members"].insert_many(
        [
            {
                "_id": f"{account}|m{m:03d}",
                "account_id": account,
                "member_id": f"m{m:03d}",
                "status": "active",
                "roles": ["administrator"] if m < 20 else ["practitioner"],
                "tags": [f"t{(m + k) % tags}" for k in range(3)],
                "version": 1,
                "outbox": [],
            }
            for m in range(members)
        ]
    )
    half = [f"t{k}" for k in range(tags // 2)]
    watched = f"m{members - 1:03d}"  # m199: the member whose pages are read
    await db["members"].update_one({"_id": f"{account}|{watched}"}, {"$set": {"tags": half}})

    # Each change goes to one of five clients (members) in turn, so that over the runs the CPU
    # figure needs no aggregate remembers more commands than `repeat`. At each of its changes
    # one moves to the next tag (t3 -> t4): with this layout, where members hold three
    # neighbouring tags, that moves about a third as many members' answers as t3 -> t8 would.
    rotation, turn = 5, [0]
    changes: dict[str, int] = {}

    def next_change(first: int, width: int, prefix: str) -> tuple[str, int]:
        turn[0] += 1
        target = f"{prefix}{first + turn[0] % rotation:0{width}d}"
        changes[target] = changes.get(target, 0) + 1
        return target, changes[target]

    def client_changes(first: int) -> Callable[[], Awaitable[None]]:
        async def client_change() -> None:
            client_id, n = next_change(first, 5, "c")
            data = SetClientSecurityTags(client_id=client_id, security_tags=[f"t{n % tags}"])
            command_ = command(account, "SetClientSecurityTags", data.model_dump())
            await dispatch(Parsed(command_, data))

        return client_change

    def member_changes(first: int) -> Callable[[], Awaitable[None]]:
        async def member_change() -> None:
            member_id, n = next_change(first, 3, "m")
            new_tags = [f"t{n % tags}", "t1"]
            data = SetMemberSecurityTags(member_id=member_id, security_tags=new_tags)
            command_ = command(account, "SetMemberSecurityTags", data.model_dump())
            await dispatch(Parsed(command_, data))

        return member_change

    client_change = client_changes(42)
    member_change = member_changes(members * 3 // 4)  # m150..m154

    async def full() -> None:
        await recompute(store, account)

    api = endpoints(store)

    def pages_of(member_id: str) -> Callable[[], Awaitable[None]]:
        """Reads the member's visible clients a page of 100 at a time, from the first page again
        after the last."""
        cursor = {"after": ""}

        async def page() -> None:
            response = await api["visible_clients"](
                account_id=account,
                member_id=member_id,
                limit=100,
                after=cursor["after"] or None,
                as_of=None,
                if_none_match=None,
            )
            cursor["after"] = json.loads(response.body)["next"] or ""

        return page

    query_page = pages_of(watched)
    administrators_page = pages_of("m000")

    # The plain reads go through the same storage layer as the answers (FerretDB charges a raw
    # sorted or limited cursor a new PostgreSQL connection; see services/runtime/mongo_collection)
    clients_collection = store.clients.collection

    async def plain_page() -> None:
        await clients_collection.find({"account_id": account}, sort="client_id", limit=100)

    async def plain_page_in_key_order() -> None:
        await clients_collection.find(in_key_order(account, None), sort="_id", limit=100)

    seen = await api["visible_clients"](
        account_id=account,
        member_id=watched,
        limit=1000,
        after=None,
        as_of=None,
        if_none_match=None,
    )
    full_view = await recompute(store, account)
    first_page = len(json.loads(seen.body)["clients"])
    print(f"member {watched} sees {len(full_view[watched])} clients; first page {first_page}")

    cleanup = contextlib.AsyncExitStack()
    floor = await cleanup.enter_async_context(LeastDurableChange.running(settings, db["clients"]))
    # other clients and members than those measured (with at least 34 members), so that the
    # measured ones remember no more commands
    await warm_up((floor.step, client_changes(clients // 2), member_changes(20)), warmup)
    results = {
        "full recompute": await measured(full, repeat),
        LEAST_IO: await measured(floor.step, repeat * 5),
        # the kernel counts CPU in 10 ms ticks: the short steps run more often
        CLIENT_CHANGE: await measured(client_change, repeat * 5),
        MEMBER_CHANGE: await measured(member_change, repeat * 5),
        "visible-clients page of 100": await measured(query_page, repeat * 5),
        "the same, an administrator's (all)": await measured(administrators_page, repeat * 5),
        "plain full-page read of 100": await measured(plain_page, repeat * 5),
        "the same, in key order": await measured(plain_page_in_key_order, repeat * 5),
    }
    print(f"\n{'operation':36} {'p50 ms':>9} {'p99 ms':>9} {'CPU ms/call':>12}")
    for name, m in results.items():
        print(
            f"{name:36} {pct(m.samples, 0.5) * 1000:9.1f} {pct(m.samples, 0.99) * 1000:9.1f}"
            f" {m.cpu_per_call * 1000:12.1f}"
        )
    recomputed = results["full recompute"]
    print("\nratios (same run; wall time at p50, and CPU of this process and the servers):")
    for change in (CLIENT_CHANGE, MEMBER_CHANGE, LEAST_IO):
        wall = statistics.median(recomputed.samples) / statistics.median(results[change].samples)
        cpu = recomputed.cpu_per_call / max(results[change].cpu_per_call, 1e-9)
        goal = {CLIENT_CHANGE: "(goal >= 100x)", MEMBER_CHANGE: "(goal >= 20x)"}.get(
            change, "(what no durable change can pass)"
        )
        print(f"  full recompute / {change:32} = {wall:6.1f}x wall, {cpu:6.1f}x CPU  {goal}")
    pairs = {
        "query page / plain page read": (query_page, plain_page, "goal <= 1.5x; "),
        # the plain read the clients list makes now: what a page costs the database at least
        "query page / plain read in key order": (query_page, plain_page_in_key_order, ""),
        "administrator's page / the same": (administrators_page, plain_page_in_key_order, ""),
    }
    for name, (answer, baseline, goal) in pairs.items():
        page, plain = await alternating(answer, baseline, repeat * 20)
        for q in (0.5, 0.99):
            ratio = pct(page, q) / pct(plain, q)
            print(
                f"  {name} (p{int(q * 100)}) = {ratio:6.2f}x  ({goal}{len(page)} of each, in turns)"
            )
    await audit_answers(api, store, account, watched, clients, repeat)
    await remembering_member(store, repeat)
    await cleanup.aclose()
    await broker.stop()
    await mongo.drop_database(settings.mongodb_db)
    await mongo.close()


async def remembering_member(store: AccessStore, repeat: int) -> None:
    """The member read of a page, a check or a command's authorisation, for a member whose
    document remembers the most commands it keeps (each with its outcome): the lean read they
    make, against the whole document (what they read before the twelfth pass)."""
    account, member = "acct-remembering", "m000"
    envelope = command(account, "SetMemberSecurityTags", {"member_id": member, "security_tags": []})
    outcome = {"id": envelope.id, "topic": "access-control.events", "key": account}
    remembered = [str(uuid.uuid4()) for _ in range(MAX_REMEMBERED_COMMANDS)]
    doc = {
        "_id": key(account, member),
        "account_id": account,
        "member_id": member,
        "status": "active",
        "roles": ["practitioner"],
        "security_tags": ["t1"],
        "tags": ["t1"],
        "version": 1,
        "outbox": [],
        "handled_commands": remembered,
        "outcomes": [
            {"cause": c, **outcome, "value": envelope.model_dump_json(), "correlationid": c}
            for c in remembered
        ],
    }
    await store.members.collection.insert(doc)
    size_kb = len(json.dumps(doc)) // 1024

    async def lean() -> None:
        await store.member_state(account, member)

    async def whole() -> None:
        await store.members.get(key(account, member))

    ours, theirs = await alternating(lean, whole, repeat * 5)
    print(
        f"  a member remembering {MAX_REMEMBERED_COMMANDS} commands ({size_kb} KB): lean read "
        f"{statistics.median(ours) * 1000:.2f} ms, whole document "
        f"{statistics.median(theirs) * 1000:.2f} ms ({len(ours)} of each, in turns)"
    )


class LeastDurableChange:
    """The least I/O any change that keeps its state before its events must do, without the
    service: read one client document, write it back if nobody wrote meanwhile, then publish
    one event and wait for the broker's acknowledgement (acks=all, no linger). No history
    record, no outbox, no decision: what a client change costs above this is the service's."""

    KEY = "acct-floor|c00000"  # another account's document in the same collection

    def __init__(
        self, clients: AsyncCollection[Document], producer: AIOKafkaProducer, topic: str
    ) -> None:
        self.clients, self.producer, self.topic = clients, producer, topic

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, settings: AccessControlSettings, clients: AsyncCollection[Document]
    ) -> AsyncIterator[LeastDurableChange]:
        access = settings.kafka_access()
        async with scratch_topic(access, "bench.access-floor", 1) as topic:
            producer = AIOKafkaProducer(**access.aiokafka(), acks="all", enable_idempotence=True)
            await producer.start()
            try:
                client = {"account_id": "acct-floor", "client_id": "c00000", "version": 1}
                await clients.insert_one({"_id": cls.KEY, **client})
                yield cls(clients, producer, topic)
            finally:
                await producer.stop()

    async def step(self) -> None:
        doc = await self.clients.find_one({"_id": self.KEY})
        assert doc is not None
        version = doc["version"]
        written = await self.clients.replace_one(
            {"_id": self.KEY, "version": version}, {**doc, "version": version + 1}
        )
        assert written.modified_count == 1
        await self.producer.send_and_wait(self.topic, b"x" * 400, key=b"acct-floor")


def endpoints(store: AccessStore) -> dict[str, Any]:
    """The API's endpoint functions, called without HTTP (what the ratios compare is the
    answer's own cost against a plain read)."""
    return {route.name: route.endpoint for route in router(store).routes}  # type: ignore[attr-defined]


async def audit_answers(
    api: dict[str, Any], store: AccessStore, account: str, watched: str, clients: int, repeat: int
) -> None:
    """Who sees a client, a 1,000-id check, one client's history, and the streamed matrix. Each
    answer is timed in turns against a plain read of as many documents of the account (one
    query, in the collection's order) and against plain reads of the very documents it needs
    (by `_id`): what the question costs the database whatever code answers it."""
    who = await api["audience"](account_id=account, client_id="c00043", limit=100, after=None)
    audience = len(who.members)
    ids = [f"c{i:05d}" for i in range(0, clients, max(1, clients // 1000))][:1000]
    asked = CheckRequest(client_ids=ids)
    entries = await store.history.of_client(account, "c00042", None, None)
    history_where = {"account_id": account, "clients": "c00042"}  # what `of_client` asks
    member_keys = [key(account, m.member_id) for m in who.members]
    asked_keys = [key(account, client_id) for client_id in ids]

    async def who_sees() -> None:
        await api["audience"](account_id=account, client_id="c00043", limit=100, after=None)

    async def plain_members() -> None:
        await store.members.collection.find({"account_id": account}, limit=audience)

    # by `_id` with a limit of one a key, as the answers read them: one batch, not a cursor
    async def plain_client_and_its_members() -> None:
        await store.clients.collection.get(key(account, "c00043"))
        await store.members.collection.find({"_id": {"$in": member_keys}}, limit=audience)

    async def check() -> None:
        await api["check"](account_id=account, member_id=watched, asked=asked)

    async def plain_thousand() -> None:
        await store.clients.collection.find({"account_id": account}, limit=len(ids))

    async def plain_the_asked() -> None:
        await store.clients.collection.find({"_id": {"$in": asked_keys}}, limit=len(asked_keys))

    async def history() -> None:
        await store.history.of_client(account, "c00042", None, None)

    async def plain_history() -> None:
        await store.history.collection.find(history_where)

    pairs = {
        f"who sees a client ({audience} members)": (
            who_sees,
            plain_members,
            plain_client_and_its_members,
        ),
        f"check of {len(ids)} client ids": (check, plain_thousand, plain_the_asked),
        f"history of one client ({len(entries)} entries)": (history, plain_history, None),
    }
    print(
        f"\n{'audit answer vs plain reads':52} {'p50':>7} {'ratio':>7}  (goal <= 1.5x)"
        "  | vs the same documents by _id"
    )
    for name, (answer, plain, same) in pairs.items():
        ours, theirs = await alternating(answer, plain, repeat * 5)
        ratio = statistics.median(ours) / statistics.median(theirs)
        line = f"  {name:50} {statistics.median(ours) * 1000:6.1f}ms {ratio:6.2f}x"
        if same is None:
            line += "                  | (the same query)"
        else:
            ours, theirs = await alternating(answer, same, repeat * 5)
            same_ratio = statistics.median(ours) / statistics.median(theirs)
            line += f"                  | {same_ratio:5.2f}x"
        print(line)
    started, lines = time.perf_counter(), 0
    async for chunk in matrix_lines(store, account):
        lines += chunk.count(b"\n")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  access matrix: {lines} lines streamed in {time.perf_counter() - started:.1f}s; "
        f"this process's peak RSS {peak_mb:.0f} MB (goal < 200 MB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10_000, help="at least 50")
    parser.add_argument("--members", type=int, default=200, help="at least 30")
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="rounds of the least-I/O step, a client change and a member change (of other"
        " clients and members) before measuring (default 200; 0: none)",
    )
    args = parser.parse_args()
    if args.clients < 50 or args.members < 30:
        parser.error("--clients must be at least 50 and --members at least 30")
    asyncio.run(main(args.clients, args.members, args.tags, args.repeat, args.warmup))
