"""Whole-partition scans (``digest``, ``top_degree``) in steps, through a real worker.

The worker reads one node or edge per step (``scan_slice`` 1), so every scan gives the event
loop thousands of turns while the ingest agents change the partitions it reads. Its answers
match networkx once the graph holds still, and an answer computed while the graph changed
is never served from the worker's result cache afterwards.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.integration.engine.test_queries_two_workers import RawQueries, edge
from tests.support.graphs import Wire, reference_of
from tests.support.query_reference import QueryReference
from tests.support.workers import WorkerProcess, eventually, unique_settings

pytestmark = pytest.mark.integration

SCANS: list[dict[str, Any]] = [
    {"type": "digest"},
    {"type": "top_degree", "k": 10, "direction": "both"},
    {"type": "top_degree", "k": 5, "direction": "in"},
]


def edges(seed: int, count: int, nodes: int) -> list[Wire]:
    rng = random.Random(seed)
    return [
        edge(f"n{rng.randrange(nodes)}", f"n{rng.randrange(nodes)}", "T", {"w": rng.randrange(9)})
        for _ in range(count)
    ]


def expected(ref: QueryReference, query: dict[str, Any]) -> Any:
    if query["type"] == "digest":
        return ref.digest()
    return ref.top_degree(query["k"], query["direction"])


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return unique_settings(kafka_bootstrap, tmp_path, partitions=4)


@pytest.fixture
def worker(settings: Settings) -> Iterator[WorkerProcess]:
    w = WorkerProcess(settings, extra_env={"PROJECT_ENGINE_SCAN_SLICE": "1"}).start()
    yield w
    w.stop()


@pytest.fixture
async def engine(settings: Settings, worker: WorkerProcess) -> AsyncIterator[Engine]:
    await ensure_topics(settings)
    eng = await create_project(settings, client_id="scans", caching=False)
    answer = await eventually(
        lambda: eng.query({"type": "stats"}, timeout=5), lambda v: isinstance(v, dict), timeout=90
    )
    assert isinstance(answer, dict), f"worker never answered: {answer!r}\n{worker.log_tail()}"
    yield eng
    await eng.close()


async def test_scans_in_steps_during_an_ingest_answer_and_are_not_cached_stale(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    first = edges(seed=1, count=4_000, nodes=600)
    summary = await engine.add_graph(first, wait=True, timeout=120)
    assert summary.items == len(first) and not summary.failed, summary
    ref = QueryReference(reference_of(first))
    for query in SCANS:
        assert await engine.query(query, timeout=30) == expected(ref, query), query

    more = edges(seed=2, count=30_000, nodes=3_000)
    async with RawQueries(settings) as raw:
        ingest = asyncio.create_task(engine.add_graph(more, wait=True, timeout=180))
        during: list[dict[str, Any]] = []
        while not ingest.done():
            for query in SCANS:
                during.append(await raw.ask(query))
        summary = await ingest
        assert summary.items == len(more) and not summary.failed, summary
        assert len(during) >= 3 and all(a["status"] == "ok" for a in during), during[-3:]

        ref = QueryReference(reference_of(first, more))
        for query in SCANS:
            fresh = await raw.ask(query)
            assert fresh["result"] == expected(ref, query), query
            again = await raw.ask(query)  # the graph holds still: now from the cache
            assert again.get("cached") is True and again["result"] == fresh["result"], query
    assert worker.alive, worker.log_tail()
