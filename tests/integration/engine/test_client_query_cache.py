"""The SDK's own result cache against a real worker: repeats answered without Kafka, other
clients' writes unseen until the entry expires, the client's own writes seen at once."""

from __future__ import annotations

import asyncio

import pytest

from project_engine.sdk import Engine, create_project
from schemas.settings import Settings
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.integration

NODE = {"type": "node", "id": "cc1"}


def props(answer: object) -> object:
    assert isinstance(answer, dict), answer
    return answer.get("props")


async def test_client_cache_serves_repeats_until_its_own_writes_or_the_ttl(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    ttl = 3.0
    await engine.add_graph([{"op": "upsert_node", "id": "cc1", "props": {"v": 1}}], wait=True)
    async with await create_project(settings, client_id="cached", cache_ttl=ttl) as cached:
        first = await cached.query(NODE)
        assert props(first) == {"v": 1}, worker.log_tail()
        sent = cached.metrics.queries_sent
        assert await cached.query({**NODE, "query_id": "another-id"}) == first
        assert cached.metrics.queries_sent == sent  # no round trip
        assert cached.metrics.client_cache_hits == 1

        # Another client's write: within the ttl this client may still answer from before.
        await engine.add_graph([{"op": "upsert_node", "id": "cc1", "props": {"v": 2}}], wait=True)
        assert props(await engine.query(NODE)) == {"v": 2}  # the worker has it
        assert props(await cached.query(NODE)) == {"v": 1}
        await asyncio.sleep(ttl)
        assert props(await cached.query(NODE)) == {"v": 2}  # expired: asked again

        # The client's own write clears its cache at once.
        await cached.add_graph([{"op": "upsert_node", "id": "cc1", "props": {"v": 3}}], wait=True)
        assert props(await cached.query(NODE)) == {"v": 3}
        assert cached.metrics.client_cache_hits == 2
