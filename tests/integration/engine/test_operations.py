"""Operating a real worker: /metrics under load, /readyz through recovery, bounded SIGTERM
shutdown without loss, and ``project-engine status``."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from project_engine.commands import status
from project_engine.commands.worker import EXIT_SHUTDOWN_TIMEOUT
from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def get(worker: WorkerProcess, path: str, timeout: float = 20.0) -> tuple[int, str]:
    """Status and body of ``path`` on the worker's web port (status 0: nothing listening)."""
    url = f"http://127.0.0.1:{worker.web_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


async def scrape(worker: WorkerProcess) -> Samples:
    code, body = await asyncio.to_thread(get, worker, "/metrics")
    assert code == 200, worker.log_tail()
    parsed = status.parse_metrics(body)
    return {(name, frozenset(lab.items())): v for name, rows in parsed.items() for lab, v in rows}


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


def labelled(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(lab) for (n, lab), _ in samples.items() if n == name]


async def wait_ready(worker: WorkerProcess, timeout: float = 120.0) -> None:
    code = await eventually(
        lambda: asyncio.to_thread(lambda: get(worker, "/readyz")[0]),
        lambda c: c == 200,
        timeout=timeout,
        interval=0.2,
    )
    assert code == 200, f"never ready ({code})\n{worker.log_tail()}"


async def test_metrics_move_under_load(
    engine: Engine, worker: WorkerProcess, settings: Settings
) -> None:
    before = await scrape(worker)
    ops = conflict_free_edges(2_000, 6_000, seed=5, prefix="m")
    summary = await engine.add_graph(ops, chunk_size=500, wait=True)
    assert summary.items == len(ops) and not summary.failed
    stats = await engine.query({"type": "stats"}, timeout=10)
    await engine.query({"type": "stats"}, timeout=10)  # a cache hit
    await engine.query({"type": "khop", "id": "m1", "depth": 2}, timeout=10)
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings))
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.input, b'{"op": "explode", "id": "a"}')
    finally:
        await producer.stop()
    after = await eventually(
        lambda: scrape(worker),
        lambda s: (
            total(s, "engine_errors_total", code="unknown_op") >= 1
            and {lab.get("topic") for lab in labelled(s, "engine_consumer_lag")}
            >= {settings.topics.input, settings.topics.apply}
        ),
        timeout=30,
    )

    def grew(name: str, by: float = 1, **labels: str) -> None:
        delta = total(after, name, **labels) - total(before, name, **labels)
        assert delta >= by, (name, labels, delta)

    grew("engine_items_routed_total", len(ops))
    grew("engine_chunks_routed_total", len(ops) // 500)
    grew("engine_chunk_parts_applied_total", len(ops) // 500)
    grew("engine_steps_applied_total", len(ops))
    grew("engine_chunk_part_apply_seconds_count", len(ops) // 500)
    grew("engine_chunk_part_apply_seconds_sum", 1e-6)
    grew("engine_query_seconds_count", 2, type="stats")
    grew("engine_query_seconds_count", 1, type="khop")
    grew("engine_query_cache_hits_total")
    grew("engine_query_cache_misses_total")
    grew("engine_errors_total", 1, code="unknown_op")
    grew("engine_process_cpu_seconds_total", 0.01)
    grew("engine_event_loop_lag_seconds_count")
    assert total(after, "engine_graph_nodes") == stats["nodes"]
    assert total(after, "engine_graph_edges") == stats["edges"]
    assert {lab["partition"] for lab in labelled(after, "engine_graph_nodes")} == {
        str(p) for p in range(settings.partitions)
    }
    lags = [v for (n, _), v in after.items() if n == "engine_consumer_lag"]
    assert len(lags) == 2 * settings.partitions and all(v >= 0 for v in lags)
    assert total(after, "engine_process_resident_memory_bytes") > 20 * 2**20
    buckets = labelled(after, "engine_chunk_part_apply_seconds_bucket")
    assert {"0.001", "0.01", "0.1", "1.0", "+Inf"} <= {b["le"] for b in buckets}


async def test_readyz_is_503_during_recovery_and_200_once_state_is_rebuilt(
    engine: Engine, worker: WorkerProcess
) -> None:
    ops = conflict_free_edges(10_000, 60_000, seed=6, prefix="r")
    summary = await engine.add_graph(ops, ordered=False, chunk_size=2_000, wait=True)
    assert summary.items == len(ops) and not summary.failed
    stats = await engine.query({"type": "stats"}, timeout=10)
    await wait_ready(worker)
    assert await asyncio.to_thread(worker.stop) == 0
    worker.start()
    assert worker.log_path is not None
    seen: list[tuple[float, int, str, int]] = []  # (seconds, readyz, body, healthz)
    started = time.monotonic()
    rebuilt_when_ready = False
    while time.monotonic() - started < 180:
        code, body = await asyncio.to_thread(get, worker, "/readyz")
        health = (await asyncio.to_thread(get, worker, "/healthz"))[0] if code else 0
        seen.append((time.monotonic() - started, code, body, health))
        if code == 200:
            rebuilt_when_ready = "graph state rebuilt" in worker.log_path.read_text()
            break
        await asyncio.sleep(0.05)
    not_ready = [(t, body, h) for t, code, body, h in seen if code == 503]
    assert seen and seen[-1][1] == 200, f"{seen[-5:]}\n{worker.log_tail()}"
    assert not_ready, f"never saw 503: {seen[:5]}"
    assert json.loads(not_ready[0][1]) == {
        "ready": False,
        "reason": "waiting for partition assignment and table recovery",
    }
    assert len(not_ready) >= 3, "recovery too short to observe"  # a bulk read takes < 1 s
    assert any(h == 200 for *_, h in not_ready), "alive while recovering"
    assert json.loads(seen[-1][2]) == {"ready": True, "reason": "ready"}
    assert rebuilt_when_ready, "ready before the local graph was rebuilt"
    assert await engine.query({"type": "stats"}, timeout=10) == stats


@pytest.fixture
async def sdk(settings: Settings) -> AsyncIterator[Engine]:
    await ensure_topics(settings)
    eng = await create_project(settings, client_id="ops")
    yield eng
    await eng.close()


@pytest.mark.parametrize(
    ("bound", "expected_code"),
    [(None, 0), ("0.05", EXIT_SHUTDOWN_TIMEOUT)],
    ids=["graceful", "bound-exceeded"],
)
async def test_sigterm_mid_ingest_exits_within_bound_and_loses_nothing(
    sdk: Engine, settings: Settings, bound: str | None, expected_code: int
) -> None:
    env = {"PROJECT_ENGINE_SHUTDOWN_TIMEOUT": bound} if bound else {}
    worker = WorkerProcess(settings, extra_env=env).start()
    try:
        await wait_ready(worker)
        ops = conflict_free_edges(10_000, 50_000, seed=7, prefix="s")
        ref = reference_of(ops)
        publish = asyncio.create_task(sdk.add_graph(ops, ordered=False, chunk_size=1_000))
        progress = await eventually(
            lambda: sdk.query({"type": "stats"}, timeout=5),
            lambda v: isinstance(v, dict) and v["edges"] >= 10_000,
            timeout=120,
            interval=0.2,
        )
        assert isinstance(progress, dict) and progress["edges"] < 49_000, progress
        begun = time.monotonic()
        code = await asyncio.to_thread(worker.stop, 60.0)
        took = time.monotonic() - begun
        limit = float(bound) + 5.0 if bound else settings.shutdown_timeout
        assert code == expected_code and took < limit, (code, took, worker.log_tail())
        timed_out = "stop did not finish in time" in worker.log_tail(200)
        assert timed_out == (expected_code == EXIT_SHUTDOWN_TIMEOUT), worker.log_tail()
        worker.start()
        summary = await publish
        assert summary.items == len(ops) and not summary.failed
        expected = reference_digest(ref)
        got = await eventually(
            lambda: sdk.query({"type": "digest"}, timeout=20), lambda v: v == expected, timeout=240
        )
        assert got == expected, worker.log_tail()
    finally:
        worker.stop()


def test_status_prints_members_partitions_lag_and_worker_figures(
    worker: WorkerProcess, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(wait_ready(worker))
    parser = argparse.ArgumentParser()
    status.register(parser.add_subparsers())
    web = f"http://127.0.0.1:{worker.web_port}"
    args = parser.parse_args(
        ["status", "--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix,
         "--app-id", settings.app_id, "--partitions", str(settings.partitions),
         "--web", web, "--interval", "0.5"]
    )  # fmt: skip
    assert args.func(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"group {settings.app_id}: Stable, 1 member(s)", out
    assert f" web {web}" in lines[1], out
    assert f"    {settings.topics.input}: 0-3" in lines, out
    assert f"    {settings.topics.apply}: 0-3" in lines, out
    assert f"input {settings.topics.input}: lag 0" in lines, out
    assert all(f"  partition {p}: end " in out for p in range(settings.partitions)), out
    assert f"worker {web}" in lines and "  ready" in lines, out
    assert any(line.startswith("  rates: items/s ") for line in lines), out
