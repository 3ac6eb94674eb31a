"""LocalKafka's own lifecycle on a real JVM: restarts on kept data, cleanup, startup failures."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn

from project_engine.localkafka import LocalKafka, LocalKafkaError, free_port
from project_engine.localkafka.wire import metadata_brokers, scram_users

pytestmark = pytest.mark.integration


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def produce_one(bootstrap: str, topic: str, value: bytes) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, partition=1)
    finally:
        await producer.stop()


async def consume_one(bootstrap: str, topic: str) -> bytes | None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
    finally:
        await consumer.stop()
    value: bytes | None = record.value
    return value


async def test_restart_on_a_kept_data_dir_keeps_records_and_adds_new_scram_users(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "kept"
    with LocalKafka(free_port(), data_dir=data_dir, scram_users={"alice": "a-pw"}) as first:
        await produce_one(first.bootstrap, "kept-topic", b"survives restarts")

    assert (data_dir / "kraft" / "meta.properties").is_file()
    # Other ports, including the controller's, and a user the first format did not create.
    second = LocalKafka(free_port(), data_dir=data_dir, scram_users={"bob": "b-pw"})
    with second:
        assert await consume_one(second.bootstrap, "kept-topic") == b"survives restarts"
        plain_port = int(second.bootstrap.rsplit(":", 1)[1])
        assert scram_users("127.0.0.1", plain_port, ["alice", "bob", "carol"]) == {"alice", "bob"}
        assert second.sasl_bootstrap is not None
        host, port = second.sasl_bootstrap.rsplit(":", 1)
        for user, password in (("bob", "b-pw"), ("alice", "a-pw")):
            conn = await create_conn(
                host,
                int(port),
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-256",
                sasl_plain_username=user,
                sasl_plain_password=password,
            )
            conn.close()


def test_stop_reaps_the_jvm_and_removes_the_temporary_data_dir() -> None:
    kafka = LocalKafka(free_port())
    kafka.start()
    pid, data_dir = kafka.pid, kafka.data_dir
    assert pid is not None and data_dir is not None
    assert process_exists(pid)
    assert (data_dir / "broker.log").is_file()
    assert [
        b.node_id for b in metadata_brokers("127.0.0.1", int(kafka.bootstrap.rsplit(":", 1)[1]))
    ] == [1]

    kafka.stop()

    assert kafka.pid is None
    assert not process_exists(pid)
    assert not data_dir.exists()
    kafka.stop()  # stopping twice is harmless


def test_broker_that_dies_during_startup_is_reported_with_its_log_reason(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with LocalKafka(free_port(), data_dir=data_dir):
        pass
    meta = data_dir / "kraft" / "meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=2"))
    kafka = LocalKafka(free_port(), data_dir=data_dir)

    with pytest.raises(LocalKafkaError) as info:
        kafka.start(timeout=60)

    message = str(info.value)
    assert message.startswith("Kafka exited during startup (code 1): ")
    assert "Stored node id 2 doesn't match previous node id 1" in message
    assert "\n" not in message
    assert kafka.pid is None


def test_broker_is_not_ready_before_it_answers_and_start_times_out_cleanly() -> None:
    kafka = LocalKafka(free_port())

    with pytest.raises(LocalKafkaError, match=r"not ready on 127\.0\.0\.1:"):
        kafka.start(timeout=0.5)

    assert kafka.pid is None
    assert kafka.data_dir is None
