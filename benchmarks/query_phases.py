"""The steps of the query benchmark, each adding its measurements to a :class:`QueryReport`.

In run order, with the broker and one worker running: load the graph; every query type
sequentially, cold (each after an echo round trip: the floor, :mod:`benchmarks.query_floor`)
and cached, by the workers' exact cache (a round trip still) and by the SDK's own cache
(``cache_ttl``: no round trip, may be stale by up to the ttl); then
(:mod:`benchmarks.query_rate`) node and neighbors queries from concurrent callers and,
optionally, at a fixed offered rate while idle and during an ingest.
:mod:`benchmarks.queries` owns the broker and the worker; the steps here start and stop
only their own helpers, registered on the given stack too.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.data import GraphCounts, expected_counts, uniform_edge_ops
from benchmarks.engine_run import CpuUse
from benchmarks.harness import wait_for
from benchmarks.phases import progress
from benchmarks.query_args import KINDS, LOAD_MIX, interleave, kind
from benchmarks.query_floor import Echo, interleaved_floor
from benchmarks.query_load import engine_probe, sequential
from benchmarks.query_report import FLOOR, LatencyRow, QueryReport
from benchmarks.query_worker import QueryTimes, WebWorker, mean_seconds, scrape_query_times
from project_engine.sdk import Engine, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings

__all__ = [
    "INGEST_SEED_OFFSET",
    "Plan",
    "load_graph",
    "load_queries",
    "machine_pids",
    "mix_label",
    "open_engine",
    "query_phase",
    "stats_equal",
    "warm_up",
    "worker_means_ms",
]

CLIENT = "bench-queries"
WARMUP = 20  # untimed round trips before each measurement series
INGEST_SEED_OFFSET = 1_000  # the concurrent ingest's edges differ from the graph's
CLIENT_CACHE_TTL = 3_600.0  # longer than a run: every timed repeat can be a hit


@dataclass(frozen=True)
class Plan:
    edges: int
    nodes: int
    partitions: int
    chunk_size: int
    seed: int
    queries: int  # sequential round trips per row
    concurrency: tuple[int, ...]  # concurrent callers, one measurement each
    load_seconds: float
    with_ingest: bool
    ingest_edges: int
    ingest_slice: int  # the worker's setting: graph steps applied per event-loop turn
    query_priority_turns: int  # the worker's setting: extra turns per slice while queried
    rate: float  # offered queries per second during the ingest
    query_timeout: float
    time_limit: float


async def open_engine(
    settings: Settings, name: str, *, caching: bool = True, client_ttl: float = 0.0
) -> Engine:
    return await create_project(
        settings, client_id=f"{CLIENT}-{name}", caching=caching, cache_ttl=client_ttl
    )


async def load_graph(
    settings: Settings, worker: WebWorker, plan: Plan, report: QueryReport
) -> None:
    """Publish the seeded edges through the SDK and check the graph's counts."""
    await ensure_topics(settings)
    async with await open_engine(settings, "load") as engine:
        await wait_for(
            lambda: engine.query({"type": "stats"}, timeout=5),
            lambda answer: isinstance(answer, dict),
            timeout=180.0,
            alive=lambda: worker.pid is not None,
        )
        progress(f"loading {plan.edges:,} edges over {plan.nodes:,} nodes (seed {plan.seed})")
        ops = uniform_edge_ops(plan.nodes, plan.edges, plan.seed)
        expected = expected_counts(ops)
        if plan.with_ingest:
            extra = uniform_edge_ops(plan.nodes, plan.ingest_edges, plan.seed + INGEST_SEED_OFFSET)
            report.params["expected_stats_after_ingest"] = expected_counts(ops + extra).as_stats()
            del extra
        summary = await engine.add_graph(
            ops, wait=True, ordered=False, chunk_size=plan.chunk_size, timeout=plan.time_limit
        )
        del ops
        if summary.failed:
            raise RuntimeError(f"{len(summary.failed)} chunks failed: {summary.failed[:3]!r}")
        stats = await stats_equal(engine, expected)
    rate = summary.items / summary.seconds if summary.seconds > 0 else 0.0
    report.params["graph_stats"] = stats
    report.params["graph_load_seconds"] = round(summary.seconds, 2)
    report.notes.append(
        f"graph: {plan.edges:,} seeded upsert_edge ops -> {stats['nodes']:,} nodes, "
        f"{stats['edges']:,} edges; loaded in {summary.seconds:.1f} s ({rate:,.0f} edges/s); "
        f"worker: ingest_slice {plan.ingest_slice}, query_priority_turns "
        f"{plan.query_priority_turns}"
    )


async def stats_equal(engine: Engine, expected: GraphCounts) -> dict[str, Any]:
    answer: dict[str, Any] = await wait_for(
        lambda: engine.query({"type": "stats"}, timeout=60),
        lambda answer: answer == expected.as_stats(),
        timeout=120.0,
    )
    return answer


async def warm_up(engine: Engine, plan: Plan) -> None:
    queries = kind("node").sample(WARMUP, plan.nodes, plan.seed + 1)
    await sequential(engine_probe(engine, plan.query_timeout), queries)


async def query_phase(
    settings: Settings,
    worker: WebWorker,
    plan: Plan,
    report: QueryReport,
    pids: dict[str, Any],
    echo: Echo,
) -> None:
    """Every query type: sequential cold (cache header 0), each query right after one echo
    round trip (the floor, :data:`FLOOR`); then cached: the queries answered without error
    once untimed, then all again timed, each expected to be served from the cache (the SDK
    counts answers marked ``cached``); then the same through an SDK client with its own
    cache (``cache_ttl``), filled once untimed, then timed (the SDK counts its hits)."""
    async with (
        await open_engine(settings, "cold", caching=False) as cold,
        await open_engine(settings, "cached") as cached,
        await open_engine(settings, "client-cached", client_ttl=CLIENT_CACHE_TTL) as client,
    ):
        await warm_up(cold, plan)
        await warm_up(cached, plan)
        cold_probe = engine_probe(cold, plan.query_timeout)
        cached_probe = engine_probe(cached, plan.query_timeout)
        client_probe = engine_probe(client, plan.query_timeout)
        floor, echo_once = interleaved_floor(echo)
        cpu = CpuUse(echo.pids(pids))
        cpu.start()
        started = time.perf_counter()
        for k in KINDS:
            queries = k.sample(plan.queries, plan.nodes, plan.seed)
            qtype = queries[0]["type"] if queries else k.key
            progress(f"{k.label}: {len(queries):,} cold, then the same cached")
            t0 = await scrape_query_times(worker)
            answered: list[Any] = []
            cold_samples = await sequential(cold_probe, queries, answered, echo_once)
            t1 = await scrape_query_times(worker)
            # Only results are cached (error answers never are): repeat the answered ones.
            await sequential(cached_probe, answered)  # fills the cache
            t2 = await scrape_query_times(worker)
            hits = cached.metrics.cache_hits
            cached_samples = await sequential(cached_probe, answered)
            served = cached.metrics.cache_hits - hits
            t3 = await scrape_query_times(worker)
            await sequential(client_probe, answered)  # fills the client's own cache
            client_hits = client.metrics.client_cache_hits
            client_samples = await sequential(client_probe, answered)
            client_served = client.metrics.client_cache_hits - client_hits
            worker_cold = mean_seconds(t0, t1, qtype) if t0 and t1 else None
            worker_cached = mean_seconds(t2, t3, qtype) if t2 and t3 else None
            report.latency.append(
                LatencyRow(
                    k.key,
                    k.label,
                    cold_samples,
                    cached_samples,
                    served,
                    worker_cold,
                    worker_cached,
                    client_cached=client_samples,
                    client_served=client_served,
                )
            )
            if served != len(cached_samples.latencies):
                report.notes.append(
                    f"{k.label}: only {served} of {len(cached_samples.latencies)} timed cached "
                    "queries were served from the cache"
                )
        cpu.stop()
        seconds = time.perf_counter() - started
        report.cpu["sequential queries, every type, cold and cached"] = cpu.share_of_core(seconds)
    label = f"{echo.label}, interleaved"
    report.latency.append(LatencyRow(FLOOR, label, floor, floor=True))


def mix_label() -> str:
    return " + ".join(kind(key).label for key in LOAD_MIX)


def load_queries(plan: Plan) -> list[dict[str, Any]]:
    count = max(plan.queries, 1000)
    return interleave(kind(key).sample(count, plan.nodes, plan.seed + 2) for key in LOAD_MIX)


def worker_means_ms(
    before: QueryTimes | None, after: QueryTimes | None
) -> dict[str, float | None] | None:
    """Mean ms per node and per neighbors query inside the worker between two scrapes."""
    if not before or not after:
        return None
    means = {t: mean_seconds(before, after, t) for t in ("node", "neighbors")}
    return {t: None if m is None else round(1000 * m, 3) for t, m in means.items()}


def machine_pids(**named: int | None) -> dict[str, int | None]:
    """Process ids to watch the CPU of, this process included as ``benchmark``."""
    return {**named, "benchmark": os.getpid()}
