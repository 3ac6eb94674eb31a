"""The engine end to end: publish through the SDK to a real worker and wait for every ack.

:func:`connected_engine` opens an SDK engine once the worker answers a ``stats`` query and
warms it up (topic metadata, the ack reader) without publishing anything, so the timed call
starts with the first send. :func:`engine_ingest` times ``add_graph(wait=True)`` from its
first send until every chunk is reported applied, then checks the graph's counts with a
``stats`` query. CPU seconds of the worker, the broker and this process over the timed
span tell which of them was busy. :func:`engine_hub_cost` runs a
:class:`~benchmarks.hub.HubPlan` through the engine; its way of timing one batch
(:func:`timed_batch`, with a trickle of other edges) also times the growth windows of
:mod:`benchmarks.growth_engine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks.data import GraphCounts, Op, uniform_edge_ops
from benchmarks.harness import EngineWorker, cpu_seconds, machine_busy_seconds, wait_for
from benchmarks.hub import LARGE_HUB, HubPlan, HubTiming, hub_timing
from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings

__all__ = [
    "CpuUse",
    "EngineRun",
    "connected_engine",
    "engine_hub_cost",
    "engine_ingest",
    "publish",
    "timed_batch",
    "trickle_batches",
]

STARTUP_TIMEOUT = 180.0
TRICKLE_NODES = 10_000
TRICKLE_EDGES = 10
TRICKLE_INTERVAL = 0.02
MACHINE = "all processes"
OTHERS = "other processes"


@dataclass
class CpuUse:
    """CPU seconds per process over a timed span, read from the kernel's counters, plus
    those of the whole machine and of the processes not named (load that is not ours)."""

    pids: dict[str, int | None]
    before: dict[str, float | None] = field(default_factory=dict)
    seconds: dict[str, float | None] = field(default_factory=dict)

    def _read(self) -> dict[str, float | None]:
        used = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        used[MACHINE] = machine_busy_seconds()
        return used

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> None:
        for name, now in self._read().items():
            then = self.before.get(name)
            self.seconds[name] = None if now is None or then is None else round(now - then, 2)
        ours = [self.seconds.get(name) for name in self.pids]
        total = self.seconds.get(MACHINE)
        if total is not None and None not in ours:
            self.seconds[OTHERS] = round(max(total - sum(s or 0.0 for s in ours), 0.0), 2)

    def share_of_core(self, wall: float) -> dict[str, float | None]:
        """Each process's CPU time over ``wall`` seconds (1.0 = one core fully busy)."""
        return {
            name: None if sec is None or wall <= 0 else round(sec / wall, 3)
            for name, sec in self.seconds.items()
        }


@dataclass(frozen=True)
class EngineRun:
    seconds: float
    items: int
    chunks: int
    stats: dict[str, Any]
    cpu_seconds: dict[str, float | None]
    cpu_share: dict[str, float | None]


@asynccontextmanager
async def connected_engine(
    settings: Settings, worker: EngineWorker, client_id: str
) -> AsyncIterator[Engine]:
    """An SDK engine on ``settings`` once ``worker`` answers queries; closed on exit."""
    await ensure_topics(settings)
    engine = await create_project(settings, client_id=client_id)
    try:
        await wait_for(
            lambda: engine.query({"type": "stats"}, timeout=5),
            lambda answer: isinstance(answer, dict),
            timeout=STARTUP_TIMEOUT,
            alive=lambda: worker.pid is not None,
        )
        await engine.add_graph([], wait=True)  # looks up the input topic, starts the ack reader
        yield engine
    finally:
        await engine.close()


async def engine_ingest(
    engine: Engine,
    ops: Sequence[Op],
    expected: GraphCounts,
    *,
    chunk_size: int,
    timeout: float,
    pids: dict[str, int | None],
) -> EngineRun:
    """Publish ``ops`` unordered, wait until all are applied, check the graph's counts."""
    cpu = CpuUse(pids)
    cpu.start()
    started = time.perf_counter()
    summary = await engine.add_graph(
        ops, wait=True, ordered=False, chunk_size=chunk_size, timeout=timeout
    )
    seconds = time.perf_counter() - started
    cpu.stop()
    if summary.failed:
        raise RuntimeError(f"{len(summary.failed)} chunks failed, first: {summary.failed[:3]!r}")
    stats = await wait_for(
        lambda: engine.query({"type": "stats"}, timeout=60),
        lambda answer: answer == expected.as_stats(),
        timeout=60,
    )
    return EngineRun(
        seconds=seconds,
        items=summary.items,
        chunks=summary.chunks,
        stats=stats,
        cpu_seconds=cpu.seconds,
        cpu_share=cpu.share_of_core(seconds),
    )


async def publish(
    engine: Engine, ops: AsyncIterable[Op] | list[Op], chunk_size: int, timeout: float
) -> float:
    """Seconds from the first send of ``ops`` (unordered) until all of them are applied."""
    started = time.perf_counter()
    summary = await engine.add_graph(
        ops, wait=True, ordered=False, chunk_size=chunk_size, timeout=timeout
    )
    seconds = time.perf_counter() - started
    if summary.failed:
        raise RuntimeError(f"{len(summary.failed)} chunks failed: {summary.failed[:3]!r}")
    return seconds


async def _then_set(ops: list[Op], sent: asyncio.Event) -> AsyncIterator[Op]:
    for op in ops:
        yield op
    sent.set()  # the SDK asked for more after the last op: every chunk is handed over


def trickle_batches(seed: int) -> Iterator[list[Op]]:
    """Small batches of new edges between nodes (``t<i>``) no hub or other graph touches."""
    for n in itertools.count():
        yield uniform_edge_ops(TRICKLE_NODES, TRICKLE_EDGES, seed * 1_000_003 + n, prefix="t")


async def timed_batch(
    engine: Engine, ops: list[Op], trickle: Iterator[list[Op]], chunk_size: int, timeout: float
) -> float:
    """Seconds from the first send of ``ops`` until all of them are applied; once they are
    all sent, a trickle of other edges goes on until then."""
    sent = asyncio.Event()
    done = asyncio.Event()

    async def follow() -> None:
        await sent.wait()
        while not done.is_set():
            await engine.add_graph(next(trickle), ordered=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), TRICKLE_INTERVAL)

    follower = asyncio.create_task(follow())
    try:
        return await publish(engine, _then_set(ops, sent), chunk_size, timeout)
    finally:
        done.set()
        sent.set()
        await follower  # returns within one trickle interval: both events are set


async def engine_hub_cost(
    engine: Engine, plan: HubPlan, chunk_size: int, *, timeout: float, seed: int = 1
) -> HubTiming:
    """Run ``plan`` through a running engine; each timed batch is one ``add_graph`` call
    with ``wait=True``, and the next batch starts once everything before it is applied.

    While a timed batch waits for its acks, a trickle of a few edges between other nodes
    (``TRICKLE_EDGES`` every ``TRICKLE_INTERVAL`` seconds, about 2% of what a worker
    applies) keeps the input topic moving, as an ingest goes on around a hub. Without it,
    the last parts of a batch usually wait out the worker consumer's fetch long-poll (up
    to 1.5 s in Faust), which has nothing to do with the hub and would decide the result.
    """
    trickle = trickle_batches(seed)
    seconds: dict[str, list[float]] = {"warm": [], "small": [], "large": []}
    for side, ops in plan.schedule():
        if side == "warm":
            seconds[side].append(await publish(engine, ops, chunk_size, timeout))
        else:
            seconds[side].append(await timed_batch(engine, ops, trickle, chunk_size, timeout))
    node = await engine.query({"type": "node", "id": LARGE_HUB}, timeout=60)
    degree = node.get("out_degree") if isinstance(node, dict) else None
    found = degree if isinstance(degree, int) else -1
    return hub_timing(plan, seconds["small"], seconds["large"], found)
