"""Ingest benchmark: the engine end to end, the Kafka transport alone, the pure core and a
textbook Faust app, side by side on the same seeded edges, plus the cost of adding edges to a
small and a large hub, and to a graph of 10^4, 10^5 and 10^6 edges (--quick: 10^4 and 10^5;
see :mod:`benchmarks.growth`), in the pure core and through the engine.

Usage::

    python -m benchmarks.ingest [--edges 1000000] [--partitions 4] [--chunk-size 1000]
                                [--textbook-edges 100000 | --skip-textbook]
                                [--quick] [--json-out bench-results/ingest.json]

The textbook Faust app (:mod:`benchmarks.textbook_faust`: one message and one table write
per edge) gets only the first edges, at most 100,000 (--quick: 20,000), as it is slow.

It starts a local Kafka broker, the textbook Faust app and one worker process of its own
(free ports, a temporary directory) and stops them whatever happens. It prints one table of
throughputs and ratios, and asserts nothing about timings: only that the engine ends with the
expected graph and the textbook Faust app with the expected table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Coroutine
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    EngineWorker,
    bench_settings,
    run_and_report,
)
from benchmarks.hub import HubPlan
from benchmarks.phases import (
    Sizes,
    core_phase,
    engine_phase,
    prepare,
    progress,
    textbook_phase,
    transport_phase,
)
from benchmarks.report import Report, machine_info
from benchmarks.textbook_run import TextbookFaustApp, create_input_topic
from project_engine.localkafka import KAFKA_VERSION, LocalKafka, free_port
from schemas.settings import Settings

__all__ = ["TEXTBOOK_EDGES", "TEXTBOOK_EDGES_QUICK", "main", "parse_args", "run_benchmark"]

TEXTBOOK_EDGES = 100_000  # the most edges the textbook Faust app gets by default
TEXTBOOK_EDGES_QUICK = 20_000  # the same with --quick


def parse_args(argv: list[str] | None = None) -> tuple[Sizes, Path, bool]:
    """The sizes to run with, where to write the JSON, and whether ``--quick`` was given."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--edges", type=int, help="edge upserts (1,000,000; --quick: 100,000)")
    parser.add_argument("--nodes", type=int, help="distinct node ids (edges / 10)")
    parser.add_argument("--partitions", type=int, default=4, help="graph partitions (4)")
    parser.add_argument("--chunk-size", type=int, default=1000, help="ops per chunk (1000)")
    parser.add_argument("--hub-size", type=int, help="hub degree (1,000,000; --quick: 100,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random edges (1)")
    textbook = parser.add_mutually_exclusive_group()
    textbook.add_argument(
        "--textbook-edges",
        type=int,
        help="edges for the textbook Faust app, the first ones (at most 100,000; --quick: 20,000)",
    )
    textbook.add_argument(
        "--skip-textbook", action="store_true", help="do not run the textbook Faust app"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 2 minutes")
    parser.add_argument(
        "--time-limit", type=float, help="stop everything after this many seconds (3600; 600)"
    )
    parser.add_argument(
        "--json-out",
        type=Path,
        default=Path("bench-results/ingest.json"),
        help="where to write the results (bench-results/ingest.json)",
    )
    a = parser.parse_args(argv)
    edges = a.edges if a.edges is not None else (100_000 if a.quick else 1_000_000)
    hub_size = a.hub_size if a.hub_size is not None else (100_000 if a.quick else 1_000_000)
    if min(edges, a.partitions, a.chunk_size) < 1 or (a.nodes is not None and a.nodes < 1):
        parser.error("--edges, --nodes, --partitions and --chunk-size must be positive")
    if not 1 <= a.chunk_size <= Settings().max_items_per_chunk:
        parser.error(f"--chunk-size must be at most {Settings().max_items_per_chunk}")
    if a.skip_textbook:
        textbook_edges = 0
    elif a.textbook_edges is not None:
        textbook_edges = a.textbook_edges
        if not 1 <= textbook_edges <= edges:
            parser.error("--textbook-edges must be between 1 and --edges")
    else:
        textbook_edges = min(edges, TEXTBOOK_EDGES_QUICK if a.quick else TEXTBOOK_EDGES)
    repeats = 5
    try:
        HubPlan(hub_size, a.partitions, repeats=repeats)
    except ValueError as exc:
        parser.error(f"--hub-size: {exc}")
    sizes = Sizes(
        edges=edges,
        nodes=a.nodes or max(edges // 10, 1),
        partitions=a.partitions,
        chunk_size=a.chunk_size,
        hub_size=hub_size,
        hub_repeats=repeats,
        seed=a.seed,
        time_limit=a.time_limit or (600.0 if a.quick else 3600.0),
        textbook_edges=textbook_edges,
    )
    return sizes, a.json_out, a.quick


def run_benchmark(sizes: Sizes, report: Report) -> None:
    """Run every measurement, starting and stopping the broker and the worker it needs."""
    data = prepare(sizes, report)
    core_phase(sizes, data, report)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="engine-bench-")))
        progress("starting a local Kafka broker")
        kafka = stack.enter_context(LocalKafka(free_port(), data_dir=workdir / "kafka"))
        settings = bench_settings(kafka.bootstrap, workdir, sizes.partitions)
        asyncio.run(transport_phase(sizes, data, settings, report))
        if sizes.textbook_edges:
            app = TextbookFaustApp(settings)
            asyncio.run(create_input_topic(settings, app))
            progress("starting the textbook Faust app")
            with app:
                _logging_failure(app, textbook_phase(sizes, data, settings, app, kafka, report))
        progress("starting a worker")
        worker = stack.enter_context(EngineWorker(settings))
        try:
            _logging_failure(worker, engine_phase(sizes, data, settings, worker, kafka, report))
        finally:
            progress("stopping the worker and the broker")


def _logging_failure(process: EngineWorker, phase: Coroutine[Any, Any, None]) -> None:
    """Run ``phase``; if it fails, print the last lines of ``process``'s log first."""
    try:
        asyncio.run(phase)
    except Exception:
        progress(f"{process.name} log (last lines):\n{process.log_tail()}")
        raise


def main(argv: list[str] | None = None) -> int:
    sizes, json_out, quick = parse_args(argv)
    params = {**asdict(sizes), "quick": quick, "json_out": str(json_out)}
    report = Report(machine_info(KAFKA_VERSION), params)
    return run_and_report(lambda: run_benchmark(sizes, report), report, json_out, sizes.time_limit)


if __name__ == "__main__":
    sys.exit(main())
