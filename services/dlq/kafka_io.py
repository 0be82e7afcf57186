"""Reading, re-publishing and truncating dead-letter topics on the broker."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import ConsumerRecord

from services.dlq.letters import REPLAY_HEADER, DeadLetter
from services.runtime.kafka_access import KafkaAccess


async def read(access: KafkaAccess, topics: list[str]) -> list[DeadLetter]:
    """Every record now on the topics, from the oldest kept to the end at the time of the call."""
    # "earliest": a purge may move a partition's start while we read; an out-of-range fetch
    # must then go to the new start, not (aiokafka's default) to the end, skipping records.
    consumer = AIOKafkaConsumer(
        **access.aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=2000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        letters.append(_letter(record))
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return sorted(letters, key=lambda letter: (letter.timestamp, letter.ref))


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    known = consumer.partitions_for_topic(topic)
    if not known:  # a consumer learns topics' metadata lazily; ask once
        await consumer._client.force_metadata_update()
        known = consumer.partitions_for_topic(topic)
    return set(known or ())


def _letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        dlq_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        value=record.value or b"",
        headers={name: value.decode(errors="replace") for name, value in record.headers},
    )


async def replay(access: KafkaAccess, letters: list[DeadLetter]) -> None:
    """Each letter back on the topic it came from, with its original key and value and a header
    naming the dead letter; the services' idempotency makes a second replay change nothing."""
    producer = AIOKafkaProducer(**access.aiokafka(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for letter in letters:
            headers = [(REPLAY_HEADER, letter.ref.encode())]
            if letter.value.lstrip().startswith(b"{"):
                headers.append(("content-type", b"application/cloudevents+json"))
            await producer.send_and_wait(
                letter.source_topic, letter.value, key=letter.key, headers=headers
            )
    finally:
        await producer.stop()


async def purge(access: KafkaAccess, topics: list[str], until: datetime | None) -> int:
    """Delete every record older than `until` (all when None); Kafka deletes only a prefix of a
    partition, so this is the one selection a purge can honour. Returns how many it deleted."""
    consumer = AIOKafkaConsumer(**access.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(await _partitions(consumer, topic))
        ]
        starts = await consumer.beginning_offsets(partitions)
        cut = await consumer.end_offsets(partitions)
        if until is not None:
            found = await consumer.offsets_for_times(
                {tp: int(until.timestamp() * 1000) + 1 for tp in partitions}
            )
            cut = {tp: found[tp].offset if found[tp] else cut[tp] for tp in partitions}
    finally:
        await consumer.stop()
    doomed = {tp: cut[tp] for tp in partitions if cut[tp] > starts[tp]}
    if not doomed:
        return 0
    admin = AIOKafkaAdminClient(**access.aiokafka())
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(offset) for tp, offset in doomed.items()})
    finally:
        await admin.close()
    return sum(offset - starts[tp] for tp, offset in doomed.items())


async def count_before(access: KafkaAccess, topics: list[str], until: datetime | None) -> int:
    letters = await read(access, topics)
    return sum(1 for letter in letters if until is None or letter.timestamp <= until)
