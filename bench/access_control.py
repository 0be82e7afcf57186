"""access_control on real FerretDB/MongoDB: incremental changes vs a full recompute, and the
visible-clients query vs a plain full-page read. Ratios are measured in one run.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.access_control

Account: 10,000 clients, 200 members, 50 tags. Client i carries tag t{i % 50}; members 0-19
are administrators, the others practitioners with tags; the measured member holds 25 tags
and so sees 5,000 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from contracts.envelope import RawEnvelope
from contracts.messages import SetClientSecurityTags, SetMemberSecurityTags
from services.access_control.api import CheckRequest, matrix_lines, router
from services.access_control.app import build
from services.access_control.repair import recompute
from services.access_control.settings import AccessControlSettings
from services.access_control.store import AccessStore
from services.runtime.inbound import Parsed

CLIENT_CHANGE = "one client's tags (incremental)"
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


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(clients: int, members: int, tags: int, repeat: int) -> None:
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
    await db["members"].update_one({"_id": f"{account}|m199"}, {"$set": {"tags": half}})

    flip = [0]

    async def client_change() -> None:
        flip[0] += 1
        data = SetClientSecurityTags(client_id="c00042", security_tags=[f"t{flip[0] % tags}"])
        await dispatch(Parsed(command(account, "SetClientSecurityTags", data.model_dump()), data))

    async def member_change() -> None:
        flip[0] += 1
        data = SetMemberSecurityTags(member_id="m150", security_tags=[f"t{flip[0] % tags}", "t1"])
        await dispatch(Parsed(command(account, "SetMemberSecurityTags", data.model_dump()), data))

    async def full() -> None:
        await recompute(store, account)

    api = endpoints(store)
    cursor = {"after": ""}

    async def query_page() -> None:
        response = await api["visible_clients"](
            account_id=account,
            member_id="m199",
            limit=100,
            after=cursor["after"] or None,
            as_of=None,
            if_none_match=None,
        )
        cursor["after"] = json.loads(response.body)["next"] or ""

    # The plain reads go through the same storage layer as the answers (FerretDB charges a raw
    # sorted or limited cursor a new PostgreSQL connection; see services/runtime/mongo_collection)
    clients_collection = store.clients.collection

    async def plain_page() -> None:
        await clients_collection.find({"account_id": account}, sort="client_id", limit=100)

    seen = await api["visible_clients"](
        account_id=account, member_id="m199", limit=1000, after=None, as_of=None, if_none_match=None
    )
    full_view = await recompute(store, account)
    first_page = len(json.loads(seen.body)["clients"])
    print(f"member m199 sees {len(full_view['m199'])} clients; first page {first_page}")

    results = {
        "full recompute": await timed(full, repeat),
        CLIENT_CHANGE: await timed(client_change, repeat),
        MEMBER_CHANGE: await timed(member_change, repeat),
        "visible-clients page of 100": await timed(query_page, repeat * 5),
        "plain full-page read of 100": await timed(plain_page, repeat * 5),
    }
    print(f"\n{'operation':36} {'p50 ms':>9} {'p99 ms':>9}")
    for name, samples in results.items():
        print(f"{name:36} {pct(samples, 0.5) * 1000:9.1f} {pct(samples, 0.99) * 1000:9.1f}")
    full_p50 = statistics.median(results["full recompute"])
    print("\nratios (same run):")
    client_ratio = full_p50 / statistics.median(results[CLIENT_CHANGE])
    member_ratio = full_p50 / statistics.median(results[MEMBER_CHANGE])
    print(f"  full recompute / one client change  = {client_ratio:6.1f}x  (goal >= 100x)")
    print(f"  full recompute / one member change  = {member_ratio:6.1f}x")
    for q in (0.5, 0.99):
        ratio = pct(results["visible-clients page of 100"], q) / pct(
            results["plain full-page read of 100"], q
        )
        print(f"  query page / plain page read (p{int(q * 100)})   = {ratio:6.2f}x  (goal <= 1.5x)")
    await audit_answers(api, store, db, account, clients, repeat)
    await broker.stop()
    await mongo.drop_database(settings.mongodb_db)
    await mongo.close()


def endpoints(store: AccessStore) -> dict[str, Any]:
    """The API's endpoint functions, called without HTTP (what the ratios compare is the
    answer's own cost against a plain read)."""
    return {route.name: route.endpoint for route in router(store).routes}  # type: ignore[attr-defined]


async def audit_answers(
    api: dict[str, Any], store: AccessStore, db: Any, account: str, clients: int, repeat: int
) -> None:
    """Who sees a client, a 1,000-id check, one client's history, and the streamed matrix."""
    who = await api["audience"](account_id=account, client_id="c00043", limit=100, after=None)
    audience = len(who.members)
    ids = [f"c{i:05d}" for i in range(0, clients, max(1, clients // 1000))][:1000]
    asked = CheckRequest(client_ids=ids)
    entries = await store.history.of_client(account, "c00042", None, None)
    history_where = {"account_id": account, "$or": [{"granted": "c00042"}, {"revoked": "c00042"}]}

    async def who_sees() -> None:
        await api["audience"](account_id=account, client_id="c00043", limit=100, after=None)

    async def plain_members() -> None:
        await store.members.collection.find({"account_id": account}, limit=audience)

    async def check() -> None:
        await api["check"](account_id=account, member_id="m199", asked=asked)

    async def plain_thousand() -> None:
        await store.clients.collection.find({"account_id": account}, limit=len(ids))

    async def history() -> None:
        await store.history.of_client(account, "c00042", None, None)

    async def plain_history() -> None:
        await store.history.collection.find(history_where)

    pairs = {
        f"who sees a client ({audience} members)": (who_sees, plain_members),
        f"check of {len(ids)} client ids": (check, plain_thousand),
        f"history of one client ({len(entries)} entries)": (history, plain_history),
    }
    print(f"\n{'audit answer vs plain read of as many documents':52} {'p50':>7} {'ratio':>7}")
    for name, (answer, plain) in pairs.items():
        ours, theirs = await timed(answer, repeat * 5), await timed(plain, repeat * 5)
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"  {name:50} {statistics.median(ours) * 1000:6.1f}ms {ratio:6.2f}x  (goal <= 1.5x)")
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
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.members, args.tags, args.repeat))
