"""The query lane against a real broker: nothing sent while no worker runs is skipped, and a
query that waited longer than its timeout is answered ``timeout`` instead of evaluated."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.integration


async def test_query_sent_before_any_worker_runs_is_answered_once_one_starts(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    engine = await create_project(settings, client_id="early")
    worker = WorkerProcess(settings)
    try:
        await engine.add_graph(
            [{"op": "upsert_edge", "src": "a", "dst": "b", "type": "E"}], wait=False
        )
        asked = asyncio.ensure_future(engine.query({"type": "node", "id": "a"}, timeout=120))
        await asyncio.sleep(2.0)
        assert not asked.done(), "answered with no worker running"
        worker.start()
        answer = await asked
        assert answer is not None and answer["id"] == "a", worker.log_tail()
    finally:
        await engine.close()
        worker.stop()


async def _raw_query(settings: Settings, body: dict[str, object], sent_ms: int) -> None:
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings))
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topics.queries,
            json.dumps(body).encode(),
            key=str(body["query_id"]).encode(),
            partition=0,
            timestamp_ms=sent_ms,
            headers=[("content-type", b"application/json")],
        )
    finally:
        await producer.stop()


async def _answer_for(settings: Settings, reply_to: str, query_id: str) -> dict[str, object]:
    consumer = AIOKafkaConsumer(reply_to, **aiokafka_kwargs(settings), auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    body = json.loads(record.value or b"{}")
                    if body.get("query_id") == query_id:
                        return dict(body)
        raise AssertionError(f"no answer for {query_id} on {reply_to}")
    finally:
        await consumer.stop()


async def test_query_older_than_its_timeout_is_answered_timeout_not_evaluated(
    settings: Settings, worker: WorkerProcess
) -> None:
    await ensure_topics(settings)
    reply_to = settings.topics.results
    fresh_id, stale_id = uuid.uuid4().hex, uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    base = {"type": "stats", "reply_to": reply_to, "timeout_ms": 5_000}
    await _raw_query(settings, base | {"query_id": stale_id}, now_ms - 60_000)
    await _raw_query(settings, base | {"query_id": fresh_id}, now_ms)
    stale = await _answer_for(settings, reply_to, stale_id)
    fresh = await _answer_for(settings, reply_to, fresh_id)
    assert stale.get("error", {}).get("code") == "timeout", stale  # type: ignore[union-attr]
    assert "result" in fresh and "error" not in fresh, fresh
