"""The broker is stopped mid-ingest and started again on the same port and data dir. The SDK
(``add_graph``) and the worker must reconnect with backoff; every chunk whose ``add_graph``
returned without failure must be in the final state; chunks reported failed are sent again;
the final state equals the reference."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from project_engine.localkafka import LocalKafka, free_port
from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from tests.support.faults import report, require, scenario_timeout, wait_ready
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually, unique_settings

pytestmark = [pytest.mark.integration, pytest.mark.reliability, scenario_timeout()]

# (batches, items per batch, broker restarts, seconds the broker stays down)
SIZES = {"short": (40, 1_000, 1, 5.0), "long": (200, 2_000, 3, 15.0)}
CALL_TIMEOUT = 180.0  # an add_graph call that outlives this is hung


async def send_batches(
    engine: Engine, batches: list[list[dict[str, Any]]], acked: list[int], failed: list[int]
) -> None:
    for j, batch in enumerate(batches):
        try:
            summary = await asyncio.wait_for(
                engine.add_graph(batch, wait=True, timeout=120, chunk_size=250), CALL_TIMEOUT
            )
        except TimeoutError:
            raise
        except Exception as exc:  # reported failed: the test may send it again
            failed.append(j)
            print(f"\nbatch {j} failed: {exc!r}")
            continue
        (failed if summary.failed else acked).append(j)


async def test_broker_restart_mid_ingest_loses_nothing_acknowledged(
    tmp_path: Path, size: str, record_property: Any
) -> None:
    count, per_batch, restarts, down_for = SIZES[size]
    batches = [
        conflict_free_edges(per_batch // 2, per_batch, seed=j, prefix=f"b{j}-")
        for j in range(count)
    ]
    ref = reference_of(*batches)
    expected = reference_digest(ref)

    kafka = LocalKafka(free_port(), data_dir=tmp_path / "kafka")
    kafka.start()
    settings = unique_settings(kafka.bootstrap, tmp_path, partitions=4)
    await ensure_topics(settings)
    worker = WorkerProcess(settings, name="bw").start()
    engine = await create_project(settings, client_id="broker-restart")
    acked: list[int] = []
    failed: list[int] = []
    started = time.monotonic()
    try:
        await wait_ready(engine, worker)
        ingest = asyncio.create_task(send_batches(engine, batches, acked, failed))
        downtimes: list[float] = []
        for r in range(restarts):
            target = (r + 1) * count // (restarts + 2)
            progressed = await eventually(
                lambda: asyncio.sleep(0, len(acked)),
                lambda v, t=target: v >= t,
                timeout=120,  # type: ignore[misc]
            )
            require(progressed >= target, f"ingest stalled at {progressed}\n{worker.log_tail()}")
            down = time.monotonic()
            kafka.stop()
            await asyncio.sleep(down_for)
            kafka.start()
            downtimes.append(time.monotonic() - down)
        try:
            await asyncio.wait_for(ingest, CALL_TIMEOUT * 2)
        except TimeoutError:
            pytest.fail(f"add_graph hung after the broker restart\n{worker.log_tail(80)}")
        acked_before_resend = list(acked)
        resent = list(failed)
        if failed:
            retry_failed: list[int] = []
            await send_batches(engine, [batches[j] for j in failed], [], retry_failed)
            require(not retry_failed, f"batches still failing after the restart: {retry_failed}")
        got = await eventually(
            lambda: engine.query({"type": "digest"}, timeout=30),
            lambda v: v == expected,
            timeout=180,
        )
        require(got == expected, f"digest {got!r} != {expected!r}\n{worker.log_tail(80)}")
        for j in acked_before_resend:  # each acknowledged batch, node by node where it matters
            hub = max(
                (e["src"] for e in batches[j]),
                key=lambda n: ref.node(n)["out_degree"],  # type: ignore[index]
            )
            node = await engine.query({"type": "node", "id": hub}, timeout=30)
            require(node == ref.node(hub), f"batch {j}: {node!r} != {ref.node(hub)!r}")
        require(worker.alive, worker.log_tail(80))
        report(
            record_property,
            "broker_restart",
            {
                "items": count * per_batch,
                "broker_restarts": restarts,
                "broker_down_s": "/".join(f"{d:.1f}" for d in downtimes),
                "batches_acked": len(acked_before_resend),
                "batches_failed_then_resent": len(resent),
                "digest_equal": True,
                "worker_restarts": worker.starts - 1,
                "sdk_send_retries": engine.metrics.send_retries,
                "seconds": round(time.monotonic() - started, 1),
            },
        )
    finally:
        await engine.close()
        worker.stop()
        kafka.stop()
