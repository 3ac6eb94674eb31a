"""Every malformed message yields one documented error event and one DLQ copy; valid
messages around it are all applied."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import Engine, QueryError
from schemas.codec import decode
from schemas.settings import Settings
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.malformed import MALFORMED_INPUTS
from tests.support.reference import reference_digest
from tests.support.workers import eventually

pytestmark = pytest.mark.integration


def decode_any(raw: bytes) -> Any:
    """Error events come in the encoding of the message that caused them."""
    value, _ = decode(raw, None, max_bytes=10_000_000, max_depth=64)
    return value


async def read_topic(settings: Settings, topic: str, count: int, timeout: float) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, **aiokafka_kwargs(settings), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                records.extend(msgs)
        # Anything beyond the expected count would be a duplicate: look a little longer.
        await asyncio.sleep(1.0)
        for msgs in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(msgs)
    finally:
        await consumer.stop()
    return records


async def test_malformed_messages_give_one_error_event_and_one_dlq_copy_each(
    engine: Engine, settings: Settings
) -> None:
    valid = conflict_free_edges(300, 1_300, seed=21, prefix="v")
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks="all", max_request_size=2_000_000)
    await producer.start()
    try:
        for i, (_, raw, _, _) in enumerate(MALFORMED_INPUTS):
            good = {"chunk_id": f"good-{i}", "items": valid[i * 100 : (i + 1) * 100]}
            await producer.send_and_wait(settings.topics.input, json.dumps(good).encode(), key=b"k")
            await producer.send_and_wait(settings.topics.input, raw, key=b"k")
    finally:
        await producer.stop()

    expected_codes = Counter(code for _, _, code, _ in MALFORMED_INPUTS)
    errors = await read_topic(settings, settings.topics.errors, len(MALFORMED_INPUTS), 90)
    dlq = await read_topic(settings, settings.topics.dlq, len(MALFORMED_INPUTS), 30)

    events = [decode_any(r.value) for r in errors]
    assert Counter(e["code"] for e in events) == expected_codes
    by_offset = {e["offset"]: e for e in events}
    assert len(by_offset) == len(events)
    for e in events:
        assert e["topic"] == settings.topics.input and isinstance(e["partition"], int)
        assert len(e["message"]) <= 300
    bad_item = next(e for e in events if e["chunk_id"] == "bad-2")
    assert (bad_item["code"], bad_item["item_index"]) == ("invalid_id", 2)

    raw_messages = sorted(raw for _, raw, _, _ in MALFORMED_INPUTS)
    assert sorted(r.value for r in dlq) == raw_messages
    for record in dlq:
        headers = dict(record.headers)
        assert headers["error-code"].decode() in expected_codes
        assert headers["source-topic"].decode() == settings.topics.input
        assert int(headers["source-offset"]) in by_offset

    ref = reference_of(valid[: len(MALFORMED_INPUTS) * 100])
    expected = reference_digest(ref)
    got = await eventually(lambda: engine.query({"type": "digest"}), lambda v: v == expected)
    assert got == expected


async def test_bad_query_gets_an_error_result_an_error_event_and_a_dlq_copy(
    engine: Engine, settings: Settings
) -> None:
    with pytest.raises(QueryError) as info:
        await engine.query({"type": "node"}, timeout=20)
    assert info.value.code == "bad_arguments"
    with pytest.raises(QueryError) as info:
        await engine.query({"type": "teleport", "id": "a"}, timeout=20)
    assert info.value.code == "unknown_query_type"

    errors = await read_topic(settings, settings.topics.errors, 2, 30)
    codes = sorted(decode_any(r.value)["code"] for r in errors)
    assert codes == ["bad_arguments", "unknown_query_type"]
    dlq = await read_topic(settings, settings.topics.dlq, 2, 15)
    assert len(dlq) == 2
