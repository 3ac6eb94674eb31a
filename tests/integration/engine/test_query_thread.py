"""The query lane's thread against a real broker: it answers while the worker's event loop is
blocked, hands every other record to the main loop in order (waiting for it before the next
record), sends the main loop's answers through its producer, and stops when cancelled."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.query_lane import Record
from agents.query_thread import AnswerSender, run_lane_thread
from project_engine.kafka_config import aiokafka_kwargs
from project_engine.topics import ensure_topics
from schemas.settings import Settings

pytestmark = pytest.mark.integration
BLOCK_SECONDS = 6.0


async def _send(settings: Settings, topic: str, bodies: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings))
    await producer.start()
    try:
        for body in bodies:
            await producer.send_and_wait(topic, json.dumps(body).encode(), partition=0)
    finally:
        await producer.stop()


async def _until(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _committed(settings: Settings, topic: str) -> int:
    """The offset the lane's group has committed on partition 0 of ``topic`` (0: none)."""
    group = f"{settings.app_id}-query-lane"
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(settings), group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0)) or 0
    finally:
        await consumer.stop()


async def _read(settings: Settings, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, **aiokafka_kwargs(settings), auto_offset_reset="earliest")
    await consumer.start()
    got: list[bytes] = []
    try:
        deadline = time.monotonic() + 60
        while len(got) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got.extend(r.value or b"" for r in records)
        return got
    finally:
        await consumer.stop()


async def test_lane_thread_answers_while_the_event_loop_is_blocked_and_hands_on_the_rest(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    topics = settings.topics
    local: dict[str, tuple[float, str]] = {}  # query id -> (when answered, thread name)
    on_main: list[tuple[str, bool]] = []  # query id, ran on the main thread
    senders: list[AnswerSender | None] = []

    async def answer_locally(record: Record, producer: Any) -> bool:
        body = json.loads(record.value or b"{}")
        if not body["local"]:
            return False
        local[body["id"]] = (time.monotonic(), threading.current_thread().name)
        return True

    async def main_handler(record: Record) -> None:
        body = json.loads(record.value or b"{}")
        on_main.append((body["id"], threading.current_thread() is threading.main_thread()))
        sender = senders[-1]
        assert sender is not None
        await sender.send(topics.results, body["id"].encode(), key=b"k", headers=[])

    handlers = {
        topics.queries: main_handler,
        topics.query_exec: main_handler,
        topics.query_partials: main_handler,
    }
    lane = asyncio.ensure_future(
        run_lane_thread(
            settings, handlers, lambda: {0, 1, 2, 3}, answer_locally, topics.queries, senders.append
        )
    )
    try:
        await _send(settings, topics.queries, [{"id": "warm-up", "local": True}])
        await _until(lambda: "warm-up" in local and senders and senders[-1] is not None)
        # The lane commits its position every second: once one commit got through, the
        # group's coordinator is known and no lookup stalls the lane during the block below.
        deadline = time.monotonic() + 60
        while await _committed(settings, topics.queries) < 1:
            assert time.monotonic() < deadline, "the lane never committed its position"
            await asyncio.sleep(0.2)
        ids = [uuid.uuid4().hex for _ in range(4)]
        # In order: the lane waits for the main loop's handler before the next record.
        bodies = [{"id": i, "local": n < 2} for n, i in enumerate(ids)]
        publisher = threading.Thread(
            target=lambda: asyncio.run(_send(settings, topics.queries, bodies))
        )
        blocked_from = time.monotonic()
        publisher.start()
        time.sleep(BLOCK_SECONDS)  # noqa: ASYNC251 - the point: the main loop runs nothing
        blocked_until = time.monotonic()
        publisher.join()
        await _until(lambda: len(on_main) == 2)
    finally:
        lane.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lane
    for query_id in ids[:2]:
        when, thread = local[query_id]
        assert blocked_from < when < blocked_until, "not answered while the loop was blocked"
        assert thread == "query-lane"
    assert on_main == [(ids[2], True), (ids[3], True)]
    assert sorted(await _read(settings, topics.results, 2)) == sorted(i.encode() for i in ids[2:])
    assert senders[-1] is None, "the main loop still holds a sender of a stopped lane"
    assert not any(t.name == "query-lane" for t in threading.enumerate())
