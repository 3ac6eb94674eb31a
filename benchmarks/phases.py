"""The steps of the ingest benchmark, each adding its measurements to the :class:`Report`.

In run order: prepare the data, then the pure core and its cost growth (no broker running,
so it has the machine to itself), then the transport limit (broker, no worker), then the
textbook Faust app on the first edges (broker and that app), then the engine's cost growth
on the smaller graphs, the engine end to end, its cost growth on the whole graph and its hub
cost (broker and worker). :mod:`benchmarks.ingest` owns the processes; the functions
here only use them.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from dataclasses import dataclass

from benchmarks.baselines import pure_core, transport_limit, worker_collector
from benchmarks.data import (
    EncodedChunk,
    GraphCounts,
    Op,
    encode_chunks,
    expected_counts,
    total_bytes,
    uniform_edge_ops,
)
from benchmarks.engine_run import connected_engine, engine_hub_cost, engine_ingest
from benchmarks.growth import (
    GrowthPlan,
    SizeTiming,
    core_growth_largest,
    core_growth_smaller,
    growth_rows,
    growth_sizes,
    shown_sizes,
)
from benchmarks.growth_engine import (
    GROWTH_CLIENT_ID,
    engine_growth_largest,
    engine_growth_smaller,
)
from benchmarks.harness import EngineWorker
from benchmarks.hub import HubPlan, HubTiming, core_hub_cost
from benchmarks.report import (
    CORE,
    ENGINE,
    TEXTBOOK,
    TRANSPORT,
    Measurement,
    Report,
    hub_pair,
)
from benchmarks.textbook_run import TextbookFaustApp, textbook_ingest
from project_engine.localkafka import LocalKafka
from schemas.settings import Settings

__all__ = [
    "CLIENT_ID",
    "Data",
    "Sizes",
    "core_phase",
    "engine_phase",
    "prepare",
    "progress",
    "textbook_label",
    "textbook_phase",
    "transport_phase",
]

CLIENT_ID = "bench-ingest"  # the engine run's client id, hence its chunk ids


@dataclass(frozen=True)
class Sizes:
    edges: int
    nodes: int
    partitions: int
    chunk_size: int
    hub_size: int
    hub_repeats: int
    seed: int
    time_limit: float
    textbook_edges: int = 0  # edges the textbook Faust app gets (the first ones); 0: skipped


@dataclass(frozen=True)
class Data:
    ops: list[Op]
    chunks: list[EncodedChunk]
    expected: GraphCounts
    plan: HubPlan
    growth: GrowthPlan | None  # None: too few edges for two graph sizes


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(sizes: Sizes, report: Report) -> Data:
    progress(f"generating {sizes.edges:,} edges over {sizes.nodes:,} nodes (seed {sizes.seed})")
    ops = uniform_edge_ops(sizes.nodes, sizes.edges, sizes.seed)
    chunks = encode_chunks(ops, sizes.chunk_size, CLIENT_ID)
    plan = HubPlan(sizes.hub_size, sizes.partitions, repeats=sizes.hub_repeats)
    growth_at = growth_sizes(len(ops))
    growth = GrowthPlan(growth_at, seed=sizes.seed) if growth_at else None
    data = Data(ops, chunks, expected_counts(ops), plan, growth)
    report.params["expected_stats"] = data.expected.as_stats()
    report.params["input_messages"] = len(chunks)
    report.params["input_bytes"] = total_bytes(chunks)
    # The input stays alive all run long; keep the collector from walking it again and again.
    gc.collect()
    gc.freeze()
    return data


def _hub_rows(report: Report, name: str, label: str, t: HubTiming) -> None:
    small, large = f"hub_{name}_small", f"hub_{name}_large"
    for key, (lo, hi), seconds, batches in (
        (small, t.small_degrees, t.small_seconds, t.small_batches),
        (large, t.large_degrees, t.large_seconds, t.large_batches),
    ):
        details: dict[str, object] = {"batch_seconds": [round(b, 4) for b in batches]}
        details["median_seconds"] = round(statistics.median(batches), 4)
        details["hub_degrees"] = [lo, hi]
        if key == large:
            details["final_degree"] = t.final_degree
        row = f"{label}, hub {_k(lo)}..{_k(hi)}, best of {len(batches)}"
        report.add(Measurement(key, row, t.batch, seconds, True, details))
    report.cost_pairs.append(hub_pair(name, small, large))
    small_times = " ".join(f"{b:.3f}" for b in t.small_batches)
    large_times = " ".join(f"{b:.3f}" for b in t.large_batches)
    report.notes.append(f"{label}, every batch (s): small hubs {small_times}; large {large_times}")


def _rounded(stages: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in stages.items()}


def _k(n: int) -> str:
    return f"{n // 1000:,}k" if n % 1000 == 0 and n else f"{n:,}"


def core_phase(sizes: Sizes, data: Data, report: Report) -> None:
    with worker_collector():
        _core_phase(sizes, data, report)


def _core_phase(sizes: Sizes, data: Data, report: Report) -> None:
    progress("pure core: parse, route, apply, records to write")
    run, state = pure_core(data.chunks, sizes.partitions)
    if (state.nodes, state.edges) != (data.expected.nodes, data.expected.edges):
        raise AssertionError(f"the pure core built {state.nodes} nodes and {state.edges} edges")
    label = "pure core (parse+route+apply+writes)"
    details = {"writes": run.writes, "stage_seconds": _rounded(run.stages)}
    report.add(Measurement(CORE, label, run.items, run.seconds, details=details))
    growth, largest = data.growth, None
    if growth is not None:
        progress(f"pure core: cost growth at {shown_sizes(growth, largest=True)}")
        largest = core_growth_largest(growth, state, data.ops, sizes.chunk_size)
    del state
    gc.collect()
    if growth is not None and largest is not None:
        progress(f"pure core: cost growth at {shown_sizes(growth)}")
        smaller = core_growth_smaller(growth, data.ops, sizes.partitions, sizes.chunk_size)
        growth_rows(report, "core", "pure core", growth, [*smaller, largest])
    progress("pure core with the apply parts encoded and decoded")
    run, state = pure_core(data.chunks, sizes.partitions, part_codec=True)
    del state
    details = {"writes": run.writes, "stage_seconds": _rounded(run.stages)}
    label = "pure core + part encode/decode"
    report.add(Measurement("core_codec", label, run.items, run.seconds, details=details))
    per_edge = ", ".join(f"{k} {1e6 * v / run.items:.2f}" for k, v in run.stages.items())
    report.notes.append(f"pure core + part codec, µs per edge by stage: {per_edge}")
    progress(f"pure core: hub of {data.plan.size:,} edges")
    timing = core_hub_cost(data.plan, sizes.chunk_size)
    _hub_rows(report, "core", f"+{_k(data.plan.batch)} hub edges, pure core", timing)
    gc.collect()


async def transport_phase(sizes: Sizes, data: Data, settings: Settings, report: Report) -> None:
    progress(f"transport: {len(data.chunks):,} messages, no processing")
    # A first pass on a topic of its own warms the broker up (a fresh JVM compiles its hot
    # paths during the first seconds of load); the second pass is the one timed.
    warm_topic = f"{settings.topic_prefix}transport-warm-up"
    warm = await transport_limit(settings, data.chunks, warm_topic, timeout=sizes.time_limit)
    topic = f"{settings.topic_prefix}transport"
    run = await transport_limit(settings, data.chunks, topic, timeout=sizes.time_limit)
    report.add(
        Measurement(
            TRANSPORT,
            "transport limit (aiokafka produce+consume)",
            run.items,
            run.seconds,
            details={
                "produce_seconds": round(run.produce_seconds, 4),
                "messages": run.messages,
                "warm_up_seconds": round(warm.seconds, 4),
            },
        )
    )


def textbook_label(edges: int) -> str:
    return f"textbook Faust (1 msg + 1 table write per edge), first {edges:,} edges"


async def textbook_phase(
    sizes: Sizes,
    data: Data,
    settings: Settings,
    app: TextbookFaustApp,
    kafka: LocalKafka,
    report: Report,
) -> None:
    ops = data.ops[: sizes.textbook_edges]
    progress(f"textbook Faust: {len(ops):,} edges, one message and one table write each")
    run = await textbook_ingest(settings, app, ops, timeout=sizes.time_limit, broker_pid=kafka.pid)
    details = {
        "publish_seconds": round(run.publish_seconds, 4),
        "messages": run.items,
        "changelog_records": run.changelog_records,
        "table_entries": run.table_entries,
        "cpu_seconds": run.cpu_seconds,
        "cpu_share_of_one_core": run.cpu_share,
    }
    label = textbook_label(run.items)
    report.add(Measurement(TEXTBOOK, label, run.items, run.seconds, details=details))
    shares = ", ".join(f"{k} {v:.0%}" for k, v in run.cpu_share.items() if v is not None)
    report.notes.append(f"CPU during the textbook Faust run, share of one core: {shares}")
    progress(f"textbook Faust: {run.items / run.seconds:,.0f} edges/s")


async def engine_phase(
    sizes: Sizes,
    data: Data,
    settings: Settings,
    worker: EngineWorker,
    kafka: LocalKafka,
    report: Report,
) -> None:
    pids = {"worker": worker.pid, "broker": kafka.pid, "publisher": os.getpid()}
    limit = sizes.time_limit
    growth, timings = data.growth, list[SizeTiming]()
    if growth is not None:
        progress(f"engine: cost growth at {shown_sizes(growth)}, on a graph deleted afterwards")
        async with connected_engine(settings, worker, GROWTH_CLIENT_ID) as engine:
            timings = await engine_growth_smaller(
                engine, growth, nodes=sizes.nodes, chunk_size=sizes.chunk_size, timeout=limit
            )
    async with connected_engine(settings, worker, CLIENT_ID) as engine:
        progress(f"engine: publishing {len(data.ops):,} edges, waiting for every ack")
        run = await engine_ingest(
            engine,
            data.ops,
            data.expected,
            chunk_size=sizes.chunk_size,
            timeout=sizes.time_limit,
            pids=pids,
        )
        report.add(
            Measurement(
                ENGINE,
                "engine end to end (SDK -> worker -> acks)",
                run.items,
                run.seconds,
                details={
                    "chunks": run.chunks,
                    "stats": run.stats,
                    "cpu_seconds": run.cpu_seconds,
                    "cpu_share_of_one_core": run.cpu_share,
                },
            )
        )
        shares = ", ".join(f"{k} {v:.0%}" for k, v in run.cpu_share.items() if v is not None)
        report.notes.append(f"CPU during the engine run, share of one core: {shares}")
        report.notes.append(f"stats after the engine run: {run.stats} (as expected)")
        progress(f"engine: {run.items / run.seconds:,.0f} edges/s")
        if growth is not None:
            progress(f"engine: cost growth at {shown_sizes(growth, largest=True)}")
            timings.append(
                await engine_growth_largest(
                    engine, growth, data.ops, chunk_size=sizes.chunk_size, timeout=limit
                )
            )
        progress(f"engine: hub of {data.plan.size:,} edges")
        hub = await engine_hub_cost(
            engine, data.plan, sizes.chunk_size, timeout=sizes.time_limit, seed=sizes.seed
        )
    if growth is not None:
        growth_rows(report, "engine", "engine", growth, timings)
    _hub_rows(report, "engine", f"+{_k(data.plan.batch)} hub edges, engine", hub)
