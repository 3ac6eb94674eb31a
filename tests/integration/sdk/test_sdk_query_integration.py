"""``Engine.query`` against the real broker, answered by a responder loop in the test."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from project_engine.sdk import EngineTimeout, QueryError, TopicNotFound, create_project
from project_engine.sdk.wire import decode_value, encode_value, parse_encoding
from schemas.settings import Settings

pytestmark = pytest.mark.integration
PARTITIONS = 4


@pytest.fixture
async def settings(kafka_bootstrap: str) -> Settings:
    settings = Settings(bootstrap=kafka_bootstrap, topic_prefix=f"q{uuid.uuid4().hex[:10]}-")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        topics = [*settings.topics.all(), f"{settings.topic_prefix}my-replies"]
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics])
    finally:
        await admin.close()
    return settings


def answer(q: dict[str, Any], attempts: Counter[str]) -> dict[str, Any]:
    qid = q["query_id"]
    attempts[qid] += 1
    if q["type"] == "fail":
        error = {"code": "bad_arguments", "message": "no such thing", "retryable": False}
        return {"query_id": qid, "status": "error", "error": error}
    if q["type"] == "flaky" and attempts[qid] == 1:
        error = {"code": "unavailable", "message": "rebalancing", "retryable": True}
        return {"query_id": qid, "status": "error", "error": error}
    if q["type"] == "silent":
        return {}
    return {"query_id": qid, "status": "ok", "result": {"n": q.get("n"), "type": q["type"]}}


@contextlib.asynccontextmanager
async def responder(
    settings: Settings, *, batch: int = 1
) -> AsyncIterator[tuple[list[dict[str, Any]], Counter[str]]]:
    """Answer queries, holding them until ``batch`` have arrived and replying in reverse."""
    received: list[dict[str, Any]] = []
    attempts: Counter[str] = Counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    tps = [TopicPartition(settings.topics.queries, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)

    async def loop() -> None:
        held: list[tuple[dict[str, Any], bytes]] = []
        while True:
            got = await consumer.getmany(timeout_ms=100)
            for msgs in got.values():
                for m in msgs:
                    q = decode_value(m.value, m.headers)
                    received.append(q)
                    held.append((q, dict(m.headers)["content-type"]))
            if len(held) < batch:
                continue
            for q, ctype in reversed(held):
                reply = answer(q, attempts)
                if not reply:
                    continue
                encoding = parse_encoding("json" if ctype == b"application/json" else "msgpack")
                await producer.send_and_wait(
                    q.get("reply_to") or settings.topics.results,
                    encode_value(reply, encoding),
                    key=q["query_id"].encode(),
                    headers=[("content-type", ctype)],
                )
            held.clear()

    task = asyncio.create_task(loop())
    try:
        yield received, attempts
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await producer.stop()


async def test_concurrent_queries_answered_out_of_order_get_their_own_results(
    settings: Settings,
) -> None:
    count = 12
    async with (
        responder(settings, batch=count) as (received, _),
        await create_project(settings) as engine,
    ):
        results = await asyncio.gather(
            *(engine.query({"type": "echo", "n": n}, timeout=20) for n in range(count))
        )
    assert results == [{"n": n, "type": "echo"} for n in range(count)]
    assert len({q["query_id"] for q in received}) == count
    assert all(isinstance(q["timeout_ms"], int) and q["timeout_ms"] > 0 for q in received)


async def test_query_keeps_a_given_query_id_and_uses_reply_to(settings: Settings) -> None:
    reply_to = f"{settings.topic_prefix}my-replies"
    async with (
        responder(settings) as (received, _),
        await create_project(settings, encoding="json") as engine,
    ):
        result = await engine.query(
            {"type": "echo", "n": 7, "query_id": "mine-1", "reply_to": reply_to}
        )
    assert result == {"n": 7, "type": "echo"}
    assert [q["query_id"] for q in received] == ["mine-1"]


async def test_error_reply_raises_query_error_with_code_and_message(settings: Settings) -> None:
    async with (
        responder(settings) as (received, _),
        await create_project(settings) as engine,
    ):
        with pytest.raises(QueryError) as info:
            await engine.query({"type": "fail"}, timeout=10)
    assert (info.value.code, info.value.message, info.value.retryable) == (
        "bad_arguments",
        "no such thing",
        False,
    )
    assert len(received) == 1, "a non-retryable error must not be retried"


async def test_retryable_error_is_retried_until_an_answer(settings: Settings) -> None:
    async with (
        responder(settings) as (received, attempts),
        await create_project(settings) as engine,
    ):
        result = await engine.query({"type": "flaky", "n": 3}, timeout=20)
    assert result == {"n": 3, "type": "flaky"}
    assert list(attempts.values()) == [2]
    assert len(received) == 2


async def test_unanswered_query_raises_engine_timeout_after_its_timeout(
    settings: Settings,
) -> None:
    async with (
        responder(settings),
        await create_project(settings) as engine,
    ):
        started = time.monotonic()
        with pytest.raises(EngineTimeout):
            await engine.query({"type": "silent"}, timeout=1.5)
    assert 1.4 < time.monotonic() - started < 10


async def test_query_to_missing_topics_fails_fast_with_a_clear_message(
    kafka_bootstrap: str,
) -> None:
    settings = Settings(bootstrap=kafka_bootstrap, topic_prefix=f"none{uuid.uuid4().hex[:8]}-")
    async with await create_project(settings) as engine:
        started = time.monotonic()
        with pytest.raises(TopicNotFound, match="does not exist"):
            await engine.query({"type": "echo"}, timeout=30)
    assert time.monotonic() - started < 10
