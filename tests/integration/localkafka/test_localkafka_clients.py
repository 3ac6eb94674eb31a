"""Clients against the session's real broker: records round trip, topics keep their shape."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import UnknownTopicOrPartitionError

pytestmark = pytest.mark.integration


def unique(name: str) -> str:
    return f"localkafka-{name}-{uuid.uuid4().hex[:8]}"


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def test_records_produced_to_a_topic_are_consumed_back_in_order(
    kafka_bootstrap: str,
) -> None:
    topic = unique("roundtrip")
    await create_topic(kafka_bootstrap, topic, 1)
    sent = [(f"k{i}".encode(), f"value-{i}".encode()) for i in range(5)]

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in sent:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        received: list[tuple[bytes | None, bytes | None]] = []
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=1000)
                received += [(r.key, r.value) for records in batch.values() for r in records]
    finally:
        await consumer.stop()

    assert received == sent


async def test_topic_created_with_four_partitions_reports_four_partitions(
    kafka_bootstrap: str,
) -> None:
    topic = unique("four")
    await create_topic(kafka_bootstrap, topic, 4)

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()

    assert len(described) == 1
    assert described[0]["topic"] == topic
    assert described[0]["error_code"] == 0
    assert sorted(p["partition"] for p in described[0]["partitions"]) == [0, 1, 2, 3]


async def test_local_broker_does_not_auto_create_topics_that_clients_ask_for(
    scram_kafka: tuple[str, str, str, str],
) -> None:
    bootstrap = scram_kafka[0]
    topic = unique("never-created")
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, request_timeout_ms=3000
    )
    try:
        # Subscribing sends Metadata requests that allow auto-creation of the topic.
        with pytest.raises(UnknownTopicOrPartitionError):
            await consumer.start()
    finally:
        await consumer.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.list_topics()
    finally:
        await admin.close()

    assert topic not in topics
