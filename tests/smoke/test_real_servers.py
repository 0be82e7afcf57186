"""Each real server, proven from Python the way the services use it."""

from __future__ import annotations

import asyncio
import email.message
import json
import urllib.request

import aiosmtplib
import pytest
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

from contracts.envelope import CONTENT_TYPE, CloudEvent, RawEnvelope, new_id
from contracts.messages import MemberDisconnected
from services.runtime.kafka import make_broker, publish_event
from services.runtime.mongo import Document
from tests.kafka_tools import create_topic
from tests.servers import Servers


async def test_cloudevent_round_trip_through_faststream_on_the_real_broker(
    servers: Servers, unique: str
) -> None:
    topic = f"smoke.{unique}"
    await create_topic(servers.kafka, topic, partitions=3)
    event = CloudEvent[MemberDisconnected](
        id=new_id(),
        source="/services/membership",
        type="MemberDisconnected",
        accountid=f"acct-{unique}",
        correlationid=new_id(),
        data=MemberDisconnected(
            member_id="user-7",
            email="Coach@Example.com",
            roles=["practitioner"],
            disconnected_by="owner-1",
            disconnected_at="2026-11-27T21:04:05.123Z",
        ),
    )
    received: asyncio.Queue[KafkaMessage] = asyncio.Queue()
    broker: KafkaBroker = make_broker(servers.kafka, "smoke")

    @broker.subscriber(
        topic, group_id=f"smoke-{unique}", auto_offset_reset="earliest", ack_policy=AckPolicy.ACK
    )
    async def handle(msg: KafkaMessage) -> None:
        await received.put(msg)

    async with broker:
        await broker.start()
        await publish_event(broker, topic, event)
        msg = await asyncio.wait_for(received.get(), 30)

    record = msg.raw_message
    assert record.key == event.accountid.encode()
    assert dict(msg.headers)["content-type"] == CONTENT_TYPE
    assert msg.correlation_id == event.correlationid  # FastStream's consumers read the header
    parsed = RawEnvelope.model_validate_json(record.value)
    assert parsed.id == event.id
    assert parsed.type == "MemberDisconnected"
    assert parsed.data["email"] == "Coach@Example.com"  # events carry what their producer wrote
    assert parsed.time == event.time


async def test_unique_index_insert_upsert_and_duplicate_on_mongo_wire(
    mongo: AsyncMongoClient[Document], db_name: str
) -> None:
    things = mongo[db_name]["things"]
    await things.create_index("email", unique=True)
    await things.insert_one({"_id": "a", "email": "ann@example.com", "n": 1})

    upserted = await things.find_one_and_update(
        {"_id": "b"},
        {"$setOnInsert": {"email": "bob@example.com"}, "$inc": {"n": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert upserted == {"_id": "b", "email": "bob@example.com", "n": 1}
    again = await things.find_one_and_update(
        {"_id": "b"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert again is not None and again["n"] == 2

    with pytest.raises(DuplicateKeyError) as raised:
        await things.insert_one({"_id": "c", "email": "ann@example.com"})
    assert raised.value.code == 11000
    assert await things.count_documents({}) == 2
    await mongo.drop_database(db_name)


async def test_email_sent_with_aiosmtplib_is_read_back_from_mailpit(
    servers: Servers, unique: str
) -> None:
    message = email.message.EmailMessage()
    message["From"] = "smoke@example.test"
    message["To"] = f"reader-{unique}@example.test"
    message["Subject"] = f"smoke {unique}"
    message.set_content("hello from the smoke test")
    await aiosmtplib.send(message, hostname=servers.smtp_host, port=servers.smtp_port, timeout=10)

    url = f"{servers.mailpit_url}/api/v1/search?query=subject:%22smoke%20{unique}%22"
    for _ in range(50):
        with urllib.request.urlopen(url, timeout=5) as response:
            found = json.load(response)["messages"]
        if found:
            break
        await asyncio.sleep(0.1)
    assert len(found) == 1
    assert found[0]["To"][0]["Address"] == f"reader-{unique}@example.test"
    with urllib.request.urlopen(
        f"{servers.mailpit_url}/api/v1/message/{found[0]['ID']}", timeout=5
    ) as response:
        assert "hello from the smoke test" in json.load(response)["Text"]
