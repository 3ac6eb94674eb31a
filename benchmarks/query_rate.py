"""Node and neighbors queries under load: from concurrent callers, and at a fixed offered
rate, first on an idle engine, then during an ingest.

:func:`load_phase` runs, for each number of callers, the echo floor and then the engine
with that many callers, each calling again as soon as it has its answer. In
:func:`ingest_phase`, queries start every ``1 / rate`` seconds whether or not earlier ones
are answered, so their latencies include any queueing behind the ingest in the worker.
The ingest is published by a child process (:class:`~benchmarks.query_ingest.IngestProcess`)
so that its chunk encoding does not hold up the event loop that times the queries. At the
end, a ``stats`` query must count the graph plus the ingested edges.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from typing import Any

from benchmarks.data import GraphCounts
from benchmarks.engine_run import CpuUse
from benchmarks.phases import progress
from benchmarks.query_floor import REQUEST, Echo, floor_concurrent
from benchmarks.query_ingest import IngestProcess
from benchmarks.query_load import closed_loop, open_loop
from benchmarks.query_phases import (
    INGEST_SEED_OFFSET,
    Plan,
    load_queries,
    mix_label,
    open_engine,
    stats_equal,
    warm_up,
    worker_means_ms,
)
from benchmarks.query_report import FLOOR, LoadRow, QueryReport
from benchmarks.query_worker import (
    Marks,
    ReplyClock,
    WebWorker,
    marking_probe,
    scrape_query_times,
    split_round_trips,
)
from schemas.settings import Settings

__all__ = ["LOADED_FLOOR", "ingest_phase", "load_phase"]

LOADED_FLOOR = f"{FLOOR}_rate_ingest"


async def load_phase(
    settings: Settings,
    worker: WebWorker,
    plan: Plan,
    report: QueryReport,
    pids: dict[str, Any],
    echo: Echo,
) -> None:
    """Node and neighbors queries (cold) from each number of concurrent callers in turn,
    for ``load_seconds`` each, each right after the echo floor with as many callers."""
    mix = mix_label()
    async with (
        await open_engine(settings, "load-cold", caching=False) as engine,
        ReplyClock(settings) as clock,
    ):
        await warm_up(engine, plan)
        for callers in plan.concurrency:
            floor = await floor_concurrent(echo, callers, plan.load_seconds, report, pids)
            progress(f"{mix}: {callers} concurrent callers for {plan.load_seconds:g} s")
            before = await scrape_query_times(worker)
            marks: Marks = {}
            cpu = CpuUse(pids)
            cpu.start()
            samples = await closed_loop(
                marking_probe(engine, plan.query_timeout, marks),
                load_queries(plan),
                concurrency=callers,
                seconds=plan.load_seconds,
            )
            cpu.stop()
            after = await scrape_query_times(worker)
            await clock.wait_for(list(marks))
            details = {
                "worker_mean_ms": worker_means_ms(before, after),
                "split": split_round_trips(marks, clock.created),
            }
            load = f"{callers} callers"
            row = LoadRow(f"concurrent_{callers}", f"{mix}, cold", load, samples, floor, details)
            report.loads.append(row)
            report.cpu[f"{row.label}, {load}"] = cpu.share_of_core(samples.seconds)


async def ingest_phase(
    settings: Settings,
    worker: WebWorker,
    plan: Plan,
    report: QueryReport,
    stack: ExitStack,
    pids: dict[str, Any],
    echo: Echo,
) -> None:
    """Node and neighbors queries offered at ``rate`` per second: first while idle, then
    while a child process publishes ``ingest_edges`` more edges. During the ingest, echo
    round trips are offered at the same rate alongside: the floor under the same broker and
    machine load, which the queries' ratio refers to (the idle floor's ratio is kept too)."""
    mix = mix_label()
    how = f"{plan.rate:g}/s offered"
    queries = load_queries(plan)
    publisher = IngestProcess(
        settings, plan.ingest_edges, plan.nodes, plan.seed + INGEST_SEED_OFFSET, plan.chunk_size
    )
    stack.callback(publisher.stop)
    progress(f"starting a publisher of {plan.ingest_edges:,} more edges")
    await asyncio.to_thread(publisher.start)
    try:
        async with (
            await open_engine(settings, "rate-cold", caching=False) as engine,
            ReplyClock(settings) as clock,
        ):
            await warm_up(engine, plan)
            progress(f"{mix}: {how} for {plan.load_seconds:g} s, idle")
            idle_stop = asyncio.Event()
            idle_stop.set()
            marks: Marks = {}
            t0 = await scrape_query_times(worker)
            idle = await open_loop(
                marking_probe(engine, plan.query_timeout, marks),
                queries,
                rate=plan.rate,
                stop=idle_stop,
                min_seconds=plan.load_seconds,
            )
            t1 = await scrape_query_times(worker)
            await clock.wait_for(list(marks))
            details: dict[str, Any] = {
                "worker_mean_ms": worker_means_ms(t0, t1),
                "split": split_round_trips(marks, clock.created),
            }
            report.loads.append(
                LoadRow("rate_idle", f"{mix}, cold, idle", how, idle, FLOOR, details)
            )
            progress(f"{mix}: {how} during the ingest")
            done = asyncio.Event()
            marks = {}
            cpu = CpuUse(pids | {"publisher": publisher.pid})
            cpu.start()
            publisher.go()
            outcome = asyncio.create_task(_ingest_outcome(publisher, plan, done))
            try:
                busy, loaded_floor = await asyncio.gather(
                    open_loop(
                        marking_probe(engine, plan.query_timeout, marks),
                        queries,
                        rate=plan.rate,
                        stop=done,
                        max_seconds=plan.time_limit,
                    ),
                    open_loop(
                        echo.probe, [REQUEST], rate=plan.rate, stop=done,
                        max_seconds=plan.time_limit,
                    ),
                )  # fmt: skip
            finally:
                if not outcome.done():
                    outcome.cancel()
            result = await outcome
            cpu.stop()
            t2 = await scrape_query_times(worker)
            await clock.wait_for(list(marks))
            split = split_round_trips(marks, clock.created)
            expected = report.params.get("expected_stats_after_ingest")
            if expected is not None:
                await stats_equal(engine, GraphCounts(**expected))
    finally:
        publisher.stop()
    seconds = float(result.get("seconds") or 0.0)
    rate = result.get("items", 0) / seconds if seconds > 0 else None
    details = {
        "ingest": result,
        "ingest_edges_per_second": None if rate is None else round(rate),
        "worker_mean_ms": worker_means_ms(t1, t2),
        "split": split,
    }
    label = f"{mix}, cold, during ingest of {plan.ingest_edges:,}"
    floor_label = f"{echo.label}, during ingest of {plan.ingest_edges:,}"
    report.loads.append(LoadRow(LOADED_FLOOR, floor_label, how, loaded_floor, LOADED_FLOOR))
    summary, idle_p99 = busy.summary(), report.floor_p99(FLOOR)
    if summary is not None and idle_p99:
        details["p99_vs_idle_floor_p99"] = round(summary.p99 / idle_p99, 2)
    report.loads.append(LoadRow("rate_ingest", label, how, busy, LOADED_FLOOR, details))
    report.cpu[f"{label}, {how}"] = cpu.share_of_core(busy.seconds)
    if rate is not None:
        report.notes.append(
            f"concurrent ingest: {result.get('items', 0):,} edges in {seconds:.1f} s "
            f"({rate:,.0f} edges/s) while queries ran at {how}"
        )


async def _ingest_outcome(publisher: IngestProcess, plan: Plan, done: asyncio.Event) -> Any:
    try:
        return await asyncio.to_thread(publisher.result, plan.time_limit)
    finally:
        done.set()
