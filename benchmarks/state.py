"""State benchmark: worker memory per edge, restart time and scale-out, on seeded random edges.

Usage::

    python -m benchmarks.state [--quick] [--edges N] [--scale-edges N] [--scale-rounds N]
                               [--large-edges N] [--large-growth-from N] [--phase NAME ...]
                               [--json-out bench-results/state.json]

It starts a local Kafka broker of its own (a free port, a temporary directory) and, phase by
phase, the worker processes each phase needs, and stops them all whatever happens:

- ``memory`` and ``rocksdb``: one worker with that table store (4 partitions). Its RSS
  (``VmRSS``) idle with an empty graph, then with every edge applied, gives resident bytes
  per edge; then it is stopped with SIGTERM and started again (same data directory) and
  timed until ``/readyz`` answers 200 and ``stats`` answers with the full counts.
- ``rocksdb-large``: one RocksDB worker's RSS, empty and with ``--large-edges`` upserts
  applied (10^7 in a full run: the size of the RocksDB memory target), without a restart;
  and the cost of a chunk as that graph grows, from ``--large-growth-from`` edges (10^4) to
  all of them (:mod:`benchmarks.state_growth`).
- ``scale``: the ingest rate (SDK ``add_graph(ordered=False, wait=True)``: until every
  chunk is reported applied; ``stats`` then confirms every edge) of one worker process and
  of two in one consumer group (8 partitions), in ``--scale-rounds`` rounds alternating the
  order (1, 2, then 2, 1, ...), with the CPU of every process meanwhile. Run alone, it is
  preceded by a warm-up ingest that loads the fresh broker first.

It prints one table (measurement, figure, target, verdict) and writes the JSON. The RocksDB
target at 10^7 edges is judged on the ``rocksdb-large`` phase: measured when it ingested 10^7
upserts, else on a linear extrapolation of its size (of the ``rocksdb`` phase's without
it), labelled so.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from benchmarks.data import Op, expected_counts, uniform_edge_ops
from benchmarks.harness import run_and_report
from benchmarks.report import machine_info
from benchmarks.state_growth import GROWTH_FROM
from benchmarks.state_phases import Env, StateSizes, progress, scale_phase, store_phase
from benchmarks.state_report import StateReport
from benchmarks.state_rows import (
    LARGE_PHASE,
    ROCKSDB_TARGET_EDGES,
    scale_notes,
    scale_order,
    scale_rows,
    store_notes,
    store_rows,
)
from project_engine.localkafka import KAFKA_VERSION, LocalKafka, free_port
from schemas.settings import Settings

__all__ = ["PHASES", "main", "parse_args", "run_benchmark"]

STORES = ("memory", "rocksdb")
PHASES = (*STORES, LARGE_PHASE, "scale")  # in the order they run


def parse_args(argv: list[str] | None = None) -> tuple[StateSizes, Path, bool]:
    """The sizes to run with, where to write the JSON, and whether ``--quick`` was given."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.state",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--edges", type=int, help="edge upserts (1,000,000; --quick: 50,000)")
    parser.add_argument("--nodes", type=int, help="distinct node ids (edges / 10)")
    parser.add_argument("--scale-edges", type=int, help="edges of the scale-out phase (--edges)")
    parser.add_argument(
        "--large-edges",
        type=int,
        help=f"edges of the {LARGE_PHASE} phase (10,000,000; --quick: 200,000)",
    )
    parser.add_argument(
        "--large-growth-from",
        type=int,
        default=GROWTH_FROM,
        help=f"smallest graph the {LARGE_PHASE} phase times chunk windows on (10,000)",
    )
    parser.add_argument(
        "--scale-rounds",
        type=int,
        help="scale-out rounds, each a 1-worker and a 2-worker run, alternating (2; --quick: 1)",
    )
    parser.add_argument("--chunk-size", type=int, default=1000, help="ops per chunk (1000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random edges (1)")
    parser.add_argument(
        "--phase", action="append", choices=PHASES, help="run only this phase (repeatable; all)"
    )
    parser.add_argument("--settle", type=float, help="seconds of quiet before reading RSS (5; 3)")
    parser.add_argument(
        "--recovery-timeout", type=float, help="seconds a restart may take (1800; 300)"
    )
    parser.add_argument("--quick", action="store_true", help="50,000 edges, about 3 minutes")
    parser.add_argument(
        "--time-limit", type=float, help="stop everything after this many seconds (7200; 900)"
    )
    parser.add_argument(
        "--json-out",
        type=Path,
        default=Path("bench-results/state.json"),
        help="where to write the results (bench-results/state.json)",
    )
    a = parser.parse_args(argv)
    edges = a.edges if a.edges is not None else (50_000 if a.quick else 1_000_000)
    scale_edges = a.scale_edges if a.scale_edges is not None else edges
    large_edges = a.large_edges
    if large_edges is None:
        large_edges = 200_000 if a.quick else ROCKSDB_TARGET_EDGES
    scale_rounds = a.scale_rounds if a.scale_rounds is not None else (1 if a.quick else 2)
    if min(
        edges, scale_edges, large_edges, a.large_growth_from, a.chunk_size, scale_rounds
    ) < 1 or (a.nodes is not None and a.nodes < 1):
        parser.error(
            "--edges, --scale-edges, --scale-rounds, --large-edges, --large-growth-from, --nodes "
            "and --chunk-size must be positive"
        )
    if a.chunk_size > Settings().max_items_per_chunk:
        parser.error(f"--chunk-size must be at most {Settings().max_items_per_chunk}")
    for name in ("settle", "recovery_timeout", "time_limit"):
        if getattr(a, name) is not None and getattr(a, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    sizes = StateSizes(
        edges=edges,
        nodes=a.nodes or max(edges // 10, 1),
        scale_edges=scale_edges,
        scale_rounds=scale_rounds,
        large_edges=large_edges,
        large_growth_from=a.large_growth_from,
        partitions=4,
        scale_partitions=8,
        chunk_size=a.chunk_size,
        seed=a.seed,
        settle=a.settle or (3.0 if a.quick else 5.0),
        recovery_timeout=a.recovery_timeout or (300.0 if a.quick else 1800.0),
        time_limit=a.time_limit or (900.0 if a.quick else 7200.0),
        phases=tuple(p for p in PHASES if p in (a.phase or PHASES)),
    )
    return sizes, a.json_out, a.quick


def run_benchmark(sizes: StateSizes, report: StateReport) -> None:
    """Run the phases asked for, starting and stopping the broker and workers they need."""
    progress(f"generating {sizes.edges:,} edges over {sizes.nodes:,} nodes (seed {sizes.seed})")
    ops = uniform_edge_ops(sizes.nodes, sizes.edges, sizes.seed)
    expected = expected_counts(ops)
    scale_ops, scale_expected = ops, expected
    if sizes.scale_edges != sizes.edges and "scale" in sizes.phases:
        scale_nodes = max(sizes.scale_edges // 10, 1)
        scale_ops = uniform_edge_ops(scale_nodes, sizes.scale_edges, sizes.seed)
        scale_expected = expected_counts(scale_ops)
    report.params["expected_stats"] = expected.as_stats()
    gc.collect()
    gc.freeze()  # the ops live all run long: keep the collector from walking them
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="engine-state-")))
        progress("starting a local Kafka broker")
        kafka = stack.enter_context(LocalKafka(free_port(), data_dir=workdir / "kafka"))
        env = Env(kafka.bootstrap, workdir, stack, kafka.pid)
        large = LARGE_PHASE in sizes.phases
        for store in STORES:
            if store in sizes.phases:
                figures = asyncio.run(store_phase(sizes, ops, expected, env, store))
                report.stores.append(figures)
                report.rows += store_rows(figures, judge_at_target=not large)
                report.notes += store_notes(figures)
        if large:
            _large_phase(sizes, env, report)
        if "scale" in sizes.phases:
            if sizes.phases[0] == "scale":  # the broker's first load
                _warm_up(sizes, scale_ops, env, report)
            for workers in scale_order(sizes.scale_rounds):
                report.scale.append(
                    asyncio.run(scale_phase(sizes, scale_ops, scale_expected, env, workers))
                )
            report.rows += scale_rows(report.scale, cores=report.machine.get("cores"))
            report.notes += scale_notes(report.scale)
        progress("stopping the broker")


def _warm_up(sizes: StateSizes, ops: list[Op], env: Env, report: StateReport) -> None:
    """Run a quarter of the scale-out ingest through one worker, figures dropped, when no
    other phase has loaded the broker yet: a fresh broker spends the first seconds of load
    compiling its hot paths (its CPU share is twice its later one), which would slow
    whichever run came first."""
    warm = ops[: max(len(ops) // 4, 1)]
    progress(f"scale-out: warming the broker up with {len(warm):,} edges")
    figures = asyncio.run(scale_phase(sizes, warm, expected_counts(warm), env, 1))
    if figures.error:
        report.notes.append(f"scale-out warm-up failed: {figures.error}")


def _large_phase(sizes: StateSizes, env: Env, report: StateReport) -> None:
    """A RocksDB worker's RSS with ``large_edges`` upserts (the 10^7 target's size in a full
    run) over a tenth as many nodes; these ops are dropped when the phase ends."""
    nodes = max(sizes.large_edges // 10, 1)
    progress(f"{LARGE_PHASE}: generating {sizes.large_edges:,} edges over {nodes:,} nodes")
    ops = uniform_edge_ops(nodes, sizes.large_edges, sizes.seed)
    expected = expected_counts(ops)
    figures = asyncio.run(store_phase(sizes, ops, expected, env, "rocksdb", LARGE_PHASE))
    report.stores.append(figures)
    report.rows += store_rows(figures)
    report.notes += store_notes(figures)


def main(argv: list[str] | None = None) -> int:
    sizes, json_out, quick = parse_args(argv)
    params = {**asdict(sizes), "quick": quick, "json_out": str(json_out)}
    report = StateReport(machine_info(KAFKA_VERSION), params)
    report.notes.append(
        "RSS = VmRSS of the worker process; per edge = (loaded - empty) / edges in the graph; "
        "recovery = new process start -> /readyz 200 and stats answering the full counts"
    )
    code = run_and_report(lambda: run_benchmark(sizes, report), report, json_out, sizes.time_limit)
    return code or (1 if report.failed else 0)


if __name__ == "__main__":
    sys.exit(main())
