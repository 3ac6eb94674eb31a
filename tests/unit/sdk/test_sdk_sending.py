"""Chunk sending logic (ordering on retry, skipping, fail-fast) over a scripted producer.

The producer here is a stand-in that only records sends and resolves delivery futures as
scripted; broker behaviour itself is covered by the integration tests.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import errors as kerr

from project_engine.sdk.chunking import ChunkIds, as_async_chunks
from project_engine.sdk.errors import ChunkSkipped, PermanentKafkaError, RetriesExhausted
from project_engine.sdk.retry import RetryPolicy
from project_engine.sdk.sending import ChunkSender, SendOptions
from project_engine.sdk.summary import EngineMetrics
from project_engine.sdk.wire import decode_value


class ScriptedProducer:
    """Accepts sends, resolves each delivery shortly after, failing scripted attempts."""

    def __init__(self, failures: dict[str, list[BaseException]] | None = None) -> None:
        self.failures = failures or {}
        self.sent: list[str] = []
        self.attempts: Counter[str] = Counter()

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Any = None,
    ) -> asyncio.Future[Any]:
        chunk_id = decode_value(value)["chunk_id"]
        self.attempts[chunk_id] += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        planned = self.failures.get(chunk_id, [])
        outcome = planned.pop(0) if planned else None
        if outcome is None:
            self.sent.append(chunk_id)
        loop = asyncio.get_running_loop()
        loop.call_later(0.002, _resolve, fut, outcome)
        return fut


def _resolve(fut: asyncio.Future[Any], outcome: BaseException | None) -> None:
    if fut.done():
        return
    if outcome is None:
        fut.set_result(None)
    else:
        fut.set_exception(outcome)


def ops(n: int) -> list[dict[str, Any]]:
    return [{"op": "delete_node", "id": str(i)} for i in range(n)]


async def send(
    producer: ScriptedProducer, *, n_chunks: int, ordered: bool = True, attempts: int = 3
) -> tuple[ChunkSender, EngineMetrics]:
    metrics = EngineMetrics()
    sender = ChunkSender(
        producer,
        SendOptions("in", b"k" if ordered else None, ordered, True, "msgpack", False),
        semaphore=asyncio.Semaphore(4),
        metrics=metrics,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.001, max_delay=0.002, deadline=5),
        next_partition=lambda: 0,
        acks=None,
    )
    chunks: AsyncIterator[Any] = as_async_chunks(ops(n_chunks * 2), 2, ChunkIds("c"))
    await sender.run(chunks)
    return sender, metrics


def last_write_order(sent: list[str]) -> list[str]:
    last = {cid: i for i, cid in enumerate(sent)}
    return sorted(last, key=last.__getitem__)


async def test_ordered_transient_failure_resends_it_and_every_later_chunk_in_order() -> None:
    producer = ScriptedProducer({"c-2": [kerr.KafkaTimeoutError()]})
    sender, metrics = await send(producer, n_chunks=8)
    assert sender.summary.ok
    assert last_write_order(producer.sent) == [f"c-{i}" for i in range(8)]
    # c-3 was in flight (and landed) when c-2 failed: it is written again after c-2.
    assert producer.sent.count("c-3") == 2
    resent_from = producer.sent.index("c-2")
    assert producer.sent[resent_from:] == [f"c-{i}" for i in range(2, 8)]
    assert metrics.send_retries == 2
    assert metrics.in_flight == 0


async def test_unordered_transient_failure_resends_only_that_chunk() -> None:
    producer = ScriptedProducer({"c-2": [kerr.RequestTimedOutError()]})
    sender, _ = await send(producer, n_chunks=6, ordered=False)
    assert sender.summary.ok
    assert sorted(producer.sent) == sorted(f"c-{i}" for i in range(6))
    assert producer.attempts["c-2"] == 2
    assert all(producer.attempts[f"c-{i}"] == 1 for i in (0, 1, 3, 4, 5))


async def test_exhausted_retries_fail_the_chunk_and_skip_later_ordered_chunks() -> None:
    down = [kerr.KafkaConnectionError("down") for _ in range(10)]
    producer = ScriptedProducer({"c-1": down})
    sender, _ = await send(producer, n_chunks=20, attempts=3)
    failed = dict(sender.summary.failed)
    assert isinstance(failed["c-1"], RetriesExhausted)
    skipped = [cid for cid, err in sender.summary.failed if isinstance(err, ChunkSkipped)]
    assert skipped, "chunks after the failed one must not be sent"
    assert set(skipped).isdisjoint(producer.sent)
    assert sender.summary.failed_items == 2 * len(sender.summary.failed)
    assert sender.summary.chunks == 20


async def test_permanent_topic_error_on_delivery_raises_at_once() -> None:
    producer = ScriptedProducer({"c-0": [kerr.TopicAuthorizationFailedError()]})
    with pytest.raises(PermanentKafkaError, match="not authorized"):
        await send(producer, n_chunks=3)
    assert producer.attempts["c-0"] == 1
