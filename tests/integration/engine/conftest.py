"""Fixtures that run real engine workers against the session's Kafka broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.workers import WorkerProcess, eventually, unique_settings


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Fresh topics and state namespace; ``indirect`` parametrization picks the store."""
    store = getattr(request, "param", "memory")
    return unique_settings(kafka_bootstrap, tmp_path, partitions=4, store=store)


@pytest.fixture
def worker(settings: Settings) -> Iterator[WorkerProcess]:
    w = WorkerProcess(settings).start()
    yield w
    w.stop()


@pytest.fixture
async def engine(settings: Settings, worker: WorkerProcess) -> AsyncIterator[Engine]:
    await ensure_topics(settings)
    eng = await create_project(settings, client_id="test")
    answer = await eventually(
        lambda: eng.query({"type": "stats"}, timeout=5), lambda v: isinstance(v, dict), timeout=90
    )
    assert isinstance(answer, dict), f"worker never answered: {answer!r}\n{worker.log_tail()}"
    yield eng
    await eng.close()
