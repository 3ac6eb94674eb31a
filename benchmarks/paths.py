"""Path benchmark: shortest_path searched from both ends (the engine) against a one-ended
breadth-first search (the baseline, :mod:`benchmarks.path_baseline`), side by side on the
query benchmark's seeded graph and shortest_path arguments.

Usage::

    python -m benchmarks.paths [--edges 1000000] [--nodes 100000] [--partitions 4]
                               [--queries 300] [--seed 1] [--quick]
                               [--json-out bench-results/paths.json]

It builds the graph partitions in this process, with no broker: the two differ only in the
search, which sends the same partition requests under the same limits (the worker's
defaults) either way, so the pure core is where the difference shows. Each query runs with
both plans, alternating which goes first. It prints, per plan, how many queries found a
path, found none, or failed with ``limit_exceeded``, the p50/p95/p99 time per query and the
ratios, and asserts only that both give the same answer wherever both answer.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.baselines import pure_core
from benchmarks.data import encode_chunks, uniform_edge_ops
from benchmarks.path_baseline import OneEndedShortestPath
from benchmarks.query_args import kind
from benchmarks.query_stats import ratio, summarize
from benchmarks.report import machine_info
from pipeline.graph import GraphPartition
from pipeline.queries import Done, Failed, QueryLimits, QueryRun, run_locally
from pipeline.queries.protocol import QueryPlan
from pipeline.queries.run import PLANS
from project_engine.localkafka import KAFKA_VERSION

__all__ = [
    "PLAN_SETS",
    "aligned",
    "build_graphs",
    "graph_args",
    "graph_parser",
    "main",
    "parse_args",
    "print_and_write",
    "run_benchmark",
]

PLAN_SETS: dict[str, Mapping[str, type[QueryPlan]]] = {
    "engine": PLANS,  # from both ends
    "one-ended": {**PLANS, "shortest_path": OneEndedShortestPath},
}
CHUNK = 1000


def graph_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The options of a pure-core benchmark on the query benchmark's seeded graph: size,
    partitions, seed, ``--quick`` and ``--json-out``; :func:`graph_args` completes them."""
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--edges", type=int, help="edge upserts (1,000,000; --quick: 100,000)")
    parser.add_argument("--nodes", type=int, help="distinct node ids (edges / 10)")
    parser.add_argument("--partitions", type=int, default=4, help="graph partitions (4)")
    parser.add_argument("--seed", type=int, default=1, help="seed of everything drawn (1)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    parser.add_argument("--json-out", type=Path, default=None, help=f"bench-results/{name}.json")
    return parser


def graph_args(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    name: str,
    counts: Mapping[str, tuple[int, int]],
) -> argparse.Namespace:
    """Parse ``argv`` with the defaults of :func:`graph_parser` filled in, and those of the
    options in ``counts`` (``(full, quick)``); all of them must be positive."""
    args = parser.parse_args(argv)
    args.edges = args.edges if args.edges is not None else (100_000 if args.quick else 1_000_000)
    args.nodes = args.nodes if args.nodes is not None else max(1, args.edges // 10)
    for option, (full, quick) in counts.items():
        if getattr(args, option) is None:
            setattr(args, option, quick if args.quick else full)
    if args.json_out is None:
        args.json_out = Path(f"bench-results/{name}{'-quick' if args.quick else ''}.json")
    for option in ("edges", "nodes", "partitions", *counts):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be positive")
    return args


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """``rows`` as lines of columns padded to the widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


def print_and_write(table: str, doc: Mapping[str, Any], path: Path) -> int:
    """Print ``table``, write ``doc`` as JSON to ``path``; the exit code."""
    print(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = graph_parser("paths", __doc__)
    parser.add_argument("--queries", type=int, help="shortest_path queries (300; --quick: 100)")
    return graph_args(parser, argv, "paths", {"queries": (300, 100)})


def build_graphs(edges: int, nodes: int, partitions: int, seed: int) -> dict[int, GraphPartition]:
    """The partitions of the query benchmark's graph, built by the pure core as a worker
    builds them from the messages the SDK publishes."""
    chunks = encode_chunks(uniform_edge_ops(nodes, edges, seed), CHUNK, "paths-bench")
    _, state = pure_core(chunks, partitions)
    return dict(enumerate(state.graphs))


def _outcome(step: Done | Failed) -> str:
    if isinstance(step, Failed):
        return step.code
    return "path" if step.result["path"] is not None else "no path"


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Both plans over the same queries; the JSON document of the results."""
    started = time.perf_counter()
    graphs = build_graphs(args.edges, args.nodes, args.partitions, args.seed)
    build_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # as a worker does after loading: the graph is not scanned again
    limits = QueryLimits()
    queries = kind("shortest_path").sample(args.queries, args.nodes, args.seed)
    seconds: dict[str, list[float]] = {name: [] for name in PLAN_SETS}
    outcomes: dict[str, dict[str, int]] = {name: {} for name in PLAN_SETS}
    both_answered = 0
    for i, query in enumerate(queries):
        query_args = {k: v for k, v in query.items() if k != "type"}
        order = list(PLAN_SETS) if i % 2 == 0 else list(reversed(PLAN_SETS))
        answers: dict[str, Done | Failed] = {}
        for name in order:
            run = QueryRun("shortest_path", query_args, args.partitions, limits, PLAN_SETS[name])
            t0 = time.perf_counter()
            answers[name] = run_locally(run, graphs)
            seconds[name].append(time.perf_counter() - t0)
            label = _outcome(answers[name])
            outcomes[name][label] = outcomes[name].get(label, 0) + 1
        done = [a for a in answers.values() if isinstance(a, Done)]
        if len(done) == len(answers):
            both_answered += 1
            if done[0] != done[1]:
                raise AssertionError(f"the plans disagree on {query}: {answers}")
    latency = {}
    for name, values in seconds.items():
        summary = summarize(values)
        assert summary is not None
        latency[name] = {**summary.to_json(), "total_s": round(sum(values), 3)}
    base, ours = latency["one-ended"], latency["engine"]
    return {
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_info(KAFKA_VERSION),
        "graph": {
            "nodes": sum(g.node_count for g in graphs.values()),
            "edges": sum(g.edge_count for g in graphs.values()),
            "build_seconds": round(build_seconds, 1),
        },
        "limits": {"max_visited": limits.max_visited, "max_frontier": limits.max_frontier},
        "outcomes": outcomes,
        "latency": latency,
        "both_answered_same": both_answered,
        "ratios": {
            "p50": ratio(base["p50_ms"], ours["p50_ms"]),
            "p99": ratio(base["p99_ms"], ours["p99_ms"]),
            "total": ratio(base["total_s"], ours["total_s"]),
        },
    }


def format_table(doc: Mapping[str, Any]) -> str:
    """One row per plan, then the ratios (one-ended over engine)."""
    header = ["plan", "path", "no path", "limit_exceeded", "p50 ms", "p95 ms", "p99 ms", "total s"]
    rows: list[Sequence[str]] = [header]
    for name, lat in doc["latency"].items():
        got = doc["outcomes"][name]
        rows.append(
            [
                name,
                str(got.get("path", 0)),
                str(got.get("no path", 0)),
                str(got.get("limit_exceeded", 0)),
                f"{lat['p50_ms']:.3f}",
                f"{lat['p95_ms']:.3f}",
                f"{lat['p99_ms']:.3f}",
                f"{lat['total_s']:.2f}",
            ]
        )
    lines = aligned(rows)
    r = doc["ratios"]
    lines.append(
        "one-ended / engine: "
        + ", ".join(f"{k} {v:.1f}x" if v is not None else f"{k} n/a" for k, v in r.items())
        + f"; same answer wherever both answered ({doc['both_answered_same']} queries)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"shortest_path, {args.queries} queries on {args.edges:,} edges over {args.nodes:,} "
        f"nodes, {args.partitions} partitions: from both ends vs one-ended",
        flush=True,
    )
    doc = run_benchmark(args)
    return print_and_write(format_table(doc), doc, args.json_out)


if __name__ == "__main__":
    sys.exit(main())
