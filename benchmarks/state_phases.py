"""The phases of the state benchmark, each in a namespace (topics, app id) of its own.

- :func:`store_phase`: one worker with a given table store; its RSS with an empty graph,
  the ingest, its RSS with the graph loaded, a graceful stop (SIGTERM) and a restart on the
  same data directory, timed from the new process's start until ``/readyz`` answers 200
  and a ``stats`` query answers with the full counts.
- :func:`scale_phase`: ``workers`` worker processes in one consumer group; once the group
  has settled, the ingest is timed from the first send until every chunk is reported
  applied (acks), with the CPU time of every process meanwhile, then a ``stats`` query
  confirms every edge.

Every worker a phase starts is stopped when the phase ends, whatever happens; it is also
registered on the caller's exit stack, which outlives an interrupted event loop.
:mod:`benchmarks.state` owns the broker and the order of the phases.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.data import GraphCounts, Op
from benchmarks.engine_run import CpuUse
from benchmarks.growth_engine import engine_growth_largest
from benchmarks.harness import bench_settings
from benchmarks.state_growth import ingest_in_segments, large_growth_plan, with_trickle
from benchmarks.state_report import ScaleFigures, StoreFigures
from benchmarks.state_rows import LARGE_PHASE
from benchmarks.state_workers import (
    StoreWorker,
    process_memory,
    settled_rss,
    wait_group_settled,
    wait_ready,
    wait_stats,
)
from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings

__all__ = ["Env", "StateSizes", "progress", "scale_phase", "store_phase"]

STARTUP_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
EMPTY = GraphCounts(nodes=0, edges=0)


@dataclass(frozen=True)
class StateSizes:
    edges: int
    nodes: int
    scale_edges: int
    scale_rounds: int
    large_edges: int
    large_growth_from: int  # the smallest graph the large phase times windows on
    partitions: int
    scale_partitions: int
    chunk_size: int
    seed: int
    settle: float
    recovery_timeout: float
    time_limit: float
    phases: tuple[str, ...]


@dataclass(frozen=True)
class Env:
    """What every phase runs against: the broker, a scratch directory, the outer exit stack."""

    bootstrap: str
    workdir: Path
    outer: contextlib.ExitStack
    broker_pid: int | None = None


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _launch(stack: contextlib.AsyncExitStack, env: Env, workers: Sequence[StoreWorker]) -> None:
    """Start ``workers``, each stopped when the phase ends (or the whole run, at the latest)."""
    for worker in workers:
        stack.callback(worker.stop, STOP_TIMEOUT)
        env.outer.callback(worker.stop, STOP_TIMEOUT)
        worker.start()


async def _engine(stack: contextlib.AsyncExitStack, settings: Settings, client_id: str) -> Engine:
    engine = await create_project(settings, client_id=client_id)
    stack.push_async_callback(engine.close)
    return engine


async def _publish(engine: Engine, ops: Sequence[Op], sizes: StateSizes) -> float:
    """Seconds from the first send until every chunk is reported applied."""
    started = time.perf_counter()
    summary = await engine.add_graph(
        ops, wait=True, ordered=False, chunk_size=sizes.chunk_size, timeout=sizes.time_limit
    )
    if summary.failed:
        raise RuntimeError(f"{len(summary.failed)} chunks failed, first: {summary.failed[:3]!r}")
    return time.perf_counter() - started


async def _confirm(
    engine: Engine, expected: GraphCounts, sizes: StateSizes, workers: list[StoreWorker]
) -> float:
    """Seconds until a ``stats`` query answers with every edge. Generous: with two workers,
    replicating each other's state can hold queries back for a long time."""
    started = time.perf_counter()
    await wait_stats(engine, expected, workers, timeout=sizes.recovery_timeout, interval=0.05)
    return time.perf_counter() - started


def _failure(exc: Exception, workers: Sequence[StoreWorker]) -> str:
    for worker in workers:
        progress(f"{worker.name} log (last lines):\n{worker.log_tail()}")
    return f"{type(exc).__name__}: {exc}"


async def store_phase(
    sizes: StateSizes,
    ops: Sequence[Op],
    expected: GraphCounts,
    env: Env,
    store: str,
    phase: str | None = None,
) -> StoreFigures:
    """Memory and restart figures of one worker with table store ``store``; the
    :data:`~benchmarks.state_rows.LARGE_PHASE` measures memory only (no restart)."""
    settings = bench_settings(env.bootstrap, env.workdir, sizes.partitions).replace(store=store)
    figures = StoreFigures(store, len(ops), expected.edges, expected.nodes, phase=phase)
    name = figures.name
    worker = StoreWorker(settings, name=f"{name}-worker", store=store)
    async with contextlib.AsyncExitStack() as stack:
        try:
            await ensure_topics(settings)
            progress(f"{name}: starting a worker")
            _launch(stack, env, [worker])
            await wait_ready([worker], STARTUP_TIMEOUT)
            engine = await _engine(stack, settings, f"bench-state-{name}")
            await wait_stats(engine, EMPTY, [worker], STARTUP_TIMEOUT)
            await engine.add_graph([], wait=True)  # topic metadata and the ack reader
            figures.rss_empty = await settled_rss(worker.pid, sizes.settle)
            plan = None
            if phase == LARGE_PHASE:
                plan = large_growth_plan(len(ops), sizes.large_growth_from, sizes.seed)
            if plan is None:
                progress(f"{name}: publishing {len(ops):,} edges")
                figures.ingest_seconds = await _publish(engine, ops, sizes)
            else:
                progress(f"{name}: publishing {len(ops):,} edges, timing windows on the way")
                figures.growth_window = plan.window
                figures.ingest_seconds, figures.growth, trickle = await ingest_in_segments(
                    engine,
                    plan,
                    ops,
                    lambda segment: _publish(engine, segment, sizes),
                    chunk_size=sizes.chunk_size,
                    timeout=sizes.time_limit,
                )
                expected = with_trickle(expected, trickle)
                figures.edges, figures.nodes = expected.edges, expected.nodes
            await _confirm(engine, expected, sizes, [worker])
            figures.rss_loaded = await settled_rss(worker.pid, sizes.settle)
            figures.rss_peak = process_memory(worker.pid, "VmHWM")
            if phase == LARGE_PHASE:
                if plan is not None:
                    progress(f"{name}: timing windows on the whole graph")
                    figures.growth.append(
                        await engine_growth_largest(
                            engine,
                            plan,
                            ops,
                            chunk_size=sizes.chunk_size,
                            timeout=sizes.time_limit,
                        )
                    )
                return figures
            progress(f"{store} store: stopping the worker (SIGTERM) and starting it again")
            stopping = time.monotonic()
            figures.stop_exit_code = worker.stop(STOP_TIMEOUT)
            figures.stop_seconds = time.monotonic() - stopping
            worker.start()
            try:
                await wait_ready([worker], sizes.recovery_timeout)
                figures.ready_seconds = worker.since_start()
                figures.web_up_seconds = worker.web_up_seconds
                left = max(sizes.recovery_timeout - worker.since_start(), 1.0)
                await wait_stats(engine, expected, [worker], left)
                figures.recovered_seconds = worker.since_start()
            except TimeoutError:
                figures.recovery_gave_up_after = sizes.recovery_timeout
                progress(f"{store} store: not recovered within {sizes.recovery_timeout:.0f}s")
                return figures
            progress(f"{store} store: recovered in {figures.recovered_seconds:.1f}s")
            figures.rss_recovered = await settled_rss(worker.pid, sizes.settle)
        except Exception as exc:
            figures.error = _failure(exc, [worker])
    return figures


async def scale_phase(
    sizes: StateSizes, ops: Sequence[Op], expected: GraphCounts, env: Env, workers: int
) -> ScaleFigures:
    """Ingest rate of ``workers`` worker processes sharing ``scale_partitions`` partitions."""
    settings = bench_settings(env.bootstrap, env.workdir, sizes.scale_partitions)
    figures = ScaleFigures(workers, sizes.scale_partitions, len(ops))
    procs = [StoreWorker(settings, name=f"scale{workers}-w{i}") for i in range(workers)]
    async with contextlib.AsyncExitStack() as stack:
        try:
            await ensure_topics(settings)  # once, before the workers race to create them
            progress(f"scale-out: starting {workers} worker(s), waiting for the group to settle")
            _launch(stack, env, procs)
            figures.group_settle_seconds = await wait_group_settled(
                settings, procs, STARTUP_TIMEOUT
            )
            engine = await _engine(stack, settings, f"bench-state-scale{workers}")
            await wait_stats(engine, EMPTY, procs, STARTUP_TIMEOUT)
            await engine.add_graph([], wait=True)
            progress(f"scale-out: publishing {len(ops):,} edges to {workers} worker(s)")
            pids = {f"worker {i + 1}": w.pid for i, w in enumerate(procs)}
            cpu = CpuUse(pids | {"broker": env.broker_pid, "publisher": os.getpid()})
            cpu.start()
            figures.seconds = await _publish(engine, ops, sizes)
            cpu.stop()
            figures.cpu_share = cpu.share_of_core(figures.seconds)
            figures.stats_confirm_seconds = await _confirm(engine, expected, sizes, procs)
            rate = figures.items_per_second or 0.0
            progress(f"scale-out: {workers} worker(s) {rate:,.0f} items/s")
        except Exception as exc:
            figures.error = _failure(exc, procs)
    return figures
