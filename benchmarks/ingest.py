"""Ingest benchmark: the engine end to end, the Kafka transport alone and the pure core, side by
side on the same seeded edges, plus the cost of adding edges to a small and a large hub.

Usage::

    python -m benchmarks.ingest [--edges 1000000] [--partitions 4] [--chunk-size 1000]
                                [--quick] [--json-out bench-results/ingest.json]

It starts a local Kafka broker and one worker process of its own (free ports, a temporary
directory) and stops them whatever happens. It prints one table of throughputs and ratios,
and asserts nothing about timings: only that the engine ends with the expected graph.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from benchmarks.harness import (
    BenchmarkTimeout,
    EngineWorker,
    bench_settings,
    interrupts_and_deadline,
)
from benchmarks.hub import HubPlan
from benchmarks.phases import (
    Sizes,
    core_phase,
    engine_phase,
    prepare,
    progress,
    transport_phase,
)
from benchmarks.report import Report, machine_info
from project_engine.localkafka import KAFKA_VERSION, LocalKafka, free_port
from project_engine.logs import configure_logging
from schemas.settings import Settings

__all__ = ["main", "parse_args", "run_benchmark"]


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
        progress("starting a worker")
        worker = stack.enter_context(EngineWorker(settings))
        try:
            asyncio.run(engine_phase(sizes, data, settings, worker, kafka, report))
        except Exception:
            progress(f"worker log (last lines):\n{worker.log_tail()}")
            raise
        finally:
            progress("stopping the worker and the broker")


def main(argv: list[str] | None = None) -> int:
    sizes, json_out, quick = parse_args(argv)
    configure_logging(Settings().replace(log_level="ERROR"))
    # The clients log transient errors (a new topic without a leader yet) that they retry.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    params = {**asdict(sizes), "quick": quick, "json_out": str(json_out)}
    report = Report(machine_info(KAFKA_VERSION), params)
    try:
        with interrupts_and_deadline(sizes.time_limit):
            run_benchmark(sizes, report)
    except BenchmarkTimeout as exc:
        print(f"benchmark stopped: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    print(report.table())
    report.write_json(json_out)
    print(f"\nwrote {json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
