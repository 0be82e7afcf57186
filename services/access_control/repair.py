"""Recompute an account's visibility from scratch (repair).

    python -m services.access_control.repair ACCOUNT_ID [--publish]

Without --publish it prints how many clients each member sees. With --publish it sends, per
member, a ClientVisibilityChanged that grants every visible client and revokes every other
client of the account: whatever a downstream consumer had, it ends at the right sets.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import Any

from contracts.common import utc_now
from contracts.envelope import CloudEvent, derived_id, new_id
from contracts.topics import ACCESS_CONTROL_EVENTS, SOURCES
from services.access_control import visibility
from services.access_control.domain import Reason
from services.access_control.history import Because, Entry, record_of, stored
from services.access_control.settings import load
from services.access_control.store import AccessStore
from services.access_control.visibility import ClientFacts, MemberFacts
from services.runtime.collection import Document
from services.runtime.kafka import publish_event
from services.runtime.service import create_runtime


async def recompute(store: AccessStore, account_id: str) -> dict[str, set[str]]:
    clients = await store.all_clients(account_id)
    return visibility.full_recompute(await store.all_members(account_id), clients)


def level_set(
    account_id: str, visible: dict[str, set[str]], all_clients: set[str], run_id: str
) -> list[CloudEvent[Any]]:
    events = []
    for member_id in sorted(visible):
        change = visibility.Change(
            granted=sorted(visible[member_id]), revoked=sorted(all_clients - visible[member_id])
        )
        for index, message in enumerate(visibility.messages(member_id, change)):
            events.append(
                CloudEvent[Any](
                    id=derived_id(run_id, "repair", member_id, str(index)),
                    source=SOURCES["access_control"],
                    type="ClientVisibilityChanged",
                    accountid=account_id,
                    correlationid=run_id,
                    data=message,
                )
            )
    return events


def repair_record(
    account_id: str,
    events: list[CloudEvent[Any]],
    reason: Reason,
    at: datetime,
) -> list[Document]:
    """What the repair changed and why, for the access history (a record per event)."""
    because = Because("Repair", None, at)
    records = []
    for part, event in enumerate(events):
        data = event.data
        chosen = {
            c: why.label() for c in data.granted if (why := reason(data.member_id, c)) is not None
        }
        entry = Entry(
            member_id=data.member_id, granted=data.granted, revoked=data.revoked, reasons=chosen
        )
        record = record_of([entry], because, part)
        records.append(
            stored(derived_id(event.id, "history"), account_id, event.correlationid, record)
        )
    return records


def reason_for(members: list[MemberFacts], clients: list[ClientFacts]) -> Reason:
    """Why each member sees each client, asked pair by pair (no member x client table)."""
    member_by_id = {m.member_id: m for m in members}
    client_by_id = {c.client_id: c for c in clients}

    def reason(member_id: str, client_id: str) -> visibility.Why | None:
        return visibility.why(member_by_id[member_id], client_by_id[client_id])

    return reason


async def reasons_of(store: AccessStore, account_id: str) -> Reason:
    return reason_for(await store.all_members(account_id), await store.all_clients(account_id))


async def main(account_id: str, publish: bool) -> None:
    settings = load()
    runtime = create_runtime("access_control", settings)
    store = AccessStore(runtime)
    members, clients = await store.all_members(account_id), await store.all_clients(account_id)
    visible = visibility.full_recompute(members, clients)
    for member_id in sorted(visible):
        print(f"{member_id}: sees {len(visible[member_id])} clients")
    if publish:
        all_clients = {c.client_id for c in clients}
        broker = runtime.broker
        assert broker is not None
        async with broker:
            await broker.connect()
            events = level_set(account_id, visible, all_clients, new_id())
            for event in events:
                await publish_event(broker, ACCESS_CONTROL_EVENTS, event)
        reason = reason_for(members, clients)
        await store.history.record(repair_record(account_id, events, reason, utc_now()))
        print(f"published {len(events)} ClientVisibilityChanged events (and recorded them)")
    assert runtime.mongo is not None
    await runtime.mongo.close()


def cli(argv: list[str] | None = None) -> None:
    """The `pro-team-repair-visibility` command."""
    parser = argparse.ArgumentParser(
        prog="pro-team-repair-visibility",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("account_id", help="the account whose visibility to recompute")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also publish a level-setting ClientVisibilityChanged per member",
    )
    args = parser.parse_args(argv)
    asyncio.run(main(args.account_id, args.publish))


if __name__ == "__main__":
    cli()
