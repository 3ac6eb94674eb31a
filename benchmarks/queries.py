"""Query benchmark: latency of every query type through Kafka, cold and cached, and queries
per second under concurrency, side by side with a raw Kafka request/reply round trip.

Usage::

    python -m benchmarks.queries [--edges 1000000] [--nodes 100000] [--queries 1000]
                                 [--concurrency 32,128] [--seconds 10] [--with-ingest]
                                 [--ingest-edges 1000000] [--ingest-slice 64]
                                 [--quick] [--json-out bench-results/queries.json]

It starts a local Kafka broker and one worker process (memory store, 4 partitions) of its
own, loads a seeded random graph through the SDK, then measures: the floor (a plain
aiokafka request/reply echo doing no work, lingering as the engine does), each query type's
p50/p95/p99 over sequential queries cold (evaluated afresh) and cached (repeated), node and
neighbors queries from concurrent callers, and optionally the same queries at a fixed
offered rate while another process ingests more edges (next to echo round trips offered at
the same rate, the floor under that load). It stops everything it started,
whatever happens, and asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from benchmarks.harness import (
    BenchmarkTimeout,
    bench_settings,
    run_and_report,
)
from benchmarks.phases import progress
from benchmarks.query_echo import ENGINE_LINGER_MS
from benchmarks.query_floor import echo_floor, floor_sequential
from benchmarks.query_phases import Plan, load_graph, machine_pids, query_phase
from benchmarks.query_rate import ingest_phase, load_phase
from benchmarks.query_report import FLOOR, QueryReport
from benchmarks.query_worker import WebWorker
from benchmarks.report import machine_info
from project_engine.localkafka import KAFKA_VERSION, LocalKafka, free_port
from schemas.settings import Settings

__all__ = ["main", "parse_args", "run_benchmark"]

LINGER_BEFORE_MS = 5  # the producer linger of the SDK and the worker until commit 520c56a


def _counts(text: str) -> tuple[int, ...]:
    """``"32,128"`` as ``(32, 128)``."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 32,128, got {text!r}") from None
    if not counts:
        raise argparse.ArgumentTypeError("expected at least one number")
    return counts


def parse_args(argv: list[str] | None = None) -> tuple[Plan, Path, bool]:
    """The plan to run, where to write the JSON, and whether ``--quick`` was given."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.queries",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--edges", type=int, help="edge upserts (1,000,000; --quick: 100,000)")
    parser.add_argument("--nodes", type=int, help="distinct node ids (edges / 10)")
    parser.add_argument("--partitions", type=int, default=4, help="graph partitions (4)")
    parser.add_argument("--chunk-size", type=int, default=1000, help="ops per chunk (1000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of edges and arguments (1)")
    parser.add_argument("--queries", type=int, help="sequential queries per row (1000; 200)")
    parser.add_argument(
        "--concurrency",
        type=_counts,
        default=(32, 128),
        help="concurrent callers, comma-separated: one measurement each (32,128)",
    )
    parser.add_argument("--seconds", type=float, help="seconds per load measurement (10; 5)")
    parser.add_argument(
        "--with-ingest", action="store_true", help="also measure queries during an ingest"
    )
    parser.add_argument("--ingest-edges", type=int, help="edges of that ingest (1,000,000; 50,000)")
    parser.add_argument("--rate", type=float, default=50.0, help="offered queries/s then (50)")
    parser.add_argument(
        "--ingest-slice",
        type=int,
        default=Settings().ingest_slice,
        help=f"the worker's ingest_slice setting ({Settings().ingest_slice})",
    )
    parser.add_argument(
        "--query-priority-turns",
        type=int,
        default=Settings().query_priority_turns,
        help="the worker's query_priority_turns setting "
        f"({Settings().query_priority_turns}; 0: no extra turns)",
    )
    parser.add_argument("--query-timeout", type=float, default=30.0, help="per query, s (30)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 3 minutes")
    parser.add_argument("--time-limit", type=float, help="stop everything after this (3600; 600)")
    parser.add_argument(
        "--json-out",
        type=Path,
        default=Path("bench-results/queries.json"),
        help="where to write the results (bench-results/queries.json)",
    )
    a = parser.parse_args(argv)
    quick = bool(a.quick)
    edges = a.edges if a.edges is not None else (100_000 if quick else 1_000_000)
    queries = a.queries if a.queries is not None else (200 if quick else 1000)
    ingest_edges = (
        a.ingest_edges if a.ingest_edges is not None else (50_000 if quick else 1_000_000)
    )
    positive = (
        edges, a.partitions, a.chunk_size, queries, *a.concurrency, ingest_edges, a.ingest_slice
    )  # fmt: skip
    if min(positive) < 1 or (a.nodes is not None and a.nodes < 1):
        parser.error("sizes, counts and --concurrency must be positive")
    if not 1 <= a.chunk_size <= Settings().max_items_per_chunk:
        parser.error(f"--chunk-size must be at most {Settings().max_items_per_chunk}")
    if queries > Settings().query_cache_size:
        parser.error(
            f"--queries must fit the worker's result cache ({Settings().query_cache_size})"
        )
    if a.query_priority_turns < 0:
        parser.error("--query-priority-turns must be 0 or more")
    if a.rate <= 0 or a.query_timeout <= 0 or (a.seconds is not None and a.seconds <= 0):
        parser.error("--rate, --query-timeout and --seconds must be positive")
    plan = Plan(
        edges=edges,
        nodes=a.nodes or max(edges // 10, 1),
        partitions=a.partitions,
        chunk_size=a.chunk_size,
        seed=a.seed,
        queries=queries,
        concurrency=a.concurrency,
        load_seconds=a.seconds or (5.0 if quick else 10.0),
        with_ingest=bool(a.with_ingest),
        ingest_edges=ingest_edges,
        ingest_slice=a.ingest_slice,
        query_priority_turns=a.query_priority_turns,
        rate=a.rate,
        query_timeout=a.query_timeout,
        time_limit=a.time_limit or (600.0 if quick else 3600.0),
    )
    return plan, a.json_out, quick


async def _cancelled_by_signals(work: Awaitable[None], time_limit: float) -> None:
    """Run ``work``; SIGINT, SIGTERM and the deadline's SIGALRM cancel it, so every
    ``finally`` and ``async with`` in it runs (clients closed, helpers stopped), and then
    raise ``KeyboardInterrupt`` or :class:`BenchmarkTimeout` as the handlers of
    :func:`interrupts_and_deadline` would have. Those handlers are back in place after."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    reasons: list[BaseException] = []

    def stop(reason: BaseException) -> None:
        reasons.append(reason)
        task.cancel()

    why = {
        signal.SIGINT: KeyboardInterrupt("signal SIGINT"),
        signal.SIGTERM: KeyboardInterrupt("signal SIGTERM"),
        signal.SIGALRM: BenchmarkTimeout(f"the benchmark ran longer than {time_limit:.0f}s"),
    }
    previous = {sig: signal.getsignal(sig) for sig in why}
    for sig, reason in why.items():
        loop.add_signal_handler(sig, stop, reason)
    try:
        await task
    except asyncio.CancelledError:
        if reasons:
            raise reasons[0] from None
        raise
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)


async def _measure(
    plan: Plan, settings: Settings, worker: WebWorker, kafka: LocalKafka, report: QueryReport,
    stack: ExitStack,
) -> None:  # fmt: skip
    await load_graph(settings, worker, plan, report)
    pids = machine_pids(worker=worker.pid, broker=kafka.pid)
    timeout = plan.query_timeout
    label = f"floor: echo, linger {ENGINE_LINGER_MS} ms"
    async with echo_floor(settings, stack, label, ENGINE_LINGER_MS, timeout) as echo:
        await query_phase(settings, worker, plan, report, pids, echo)
        await load_phase(settings, worker, plan, report, pids, echo)
        if plan.with_ingest:
            await ingest_phase(settings, worker, plan, report, stack, pids, echo)
    label = f"floor: echo, linger {LINGER_BEFORE_MS} ms both ways"
    async with echo_floor(settings, stack, label, LINGER_BEFORE_MS, timeout) as echo:
        await floor_sequential(
            echo, f"{FLOOR}_linger{LINGER_BEFORE_MS}", plan.queries, report, pids
        )


def run_benchmark(plan: Plan, report: QueryReport) -> None:
    """Start the broker and the worker, run every measurement, stop everything."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="engine-qbench-")))
        progress("starting a local Kafka broker")
        kafka = stack.enter_context(LocalKafka(free_port(), data_dir=workdir / "kafka"))
        settings = bench_settings(kafka.bootstrap, workdir, plan.partitions).replace(
            ingest_slice=plan.ingest_slice, query_priority_turns=plan.query_priority_turns
        )
        progress("starting a worker")
        worker = WebWorker(settings)
        stack.enter_context(worker)
        try:
            measure = _measure(plan, settings, worker, kafka, report, stack)
            asyncio.run(_cancelled_by_signals(measure, plan.time_limit))
        except Exception:
            progress(f"worker log (last lines):\n{worker.log_tail()}")
            raise
        finally:
            progress("stopping what the benchmark started")


def _commit() -> str | None:
    """The commit checked out where this file is (the code measured), if git can tell."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    plan, json_out, quick = parse_args(argv)
    params = {**asdict(plan), "quick": quick, "json_out": str(json_out), "commit": _commit()}
    report = QueryReport(machine_info(KAFKA_VERSION), params)
    return run_and_report(lambda: run_benchmark(plan, report), report, json_out, plan.time_limit)


if __name__ == "__main__":
    sys.exit(main())
