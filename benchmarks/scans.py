"""Scan benchmark: queries that read whole partitions (``digest``, ``top_degree``) in steps
against in one go, and the digest's hashing against hashing the plain values.

Usage::

    python -m benchmarks.scans [--edges 1000000] [--nodes 100000] [--partitions 4]
                               [--scan-slice 2048] [--repeats 3] [--seed 1] [--quick]
                               [--json-out bench-results/scans.json]

A worker evaluates a query on the partitions it holds inside one callback of its event loop:
whatever the callback takes, ingest, other queries, Faust's timers and ``/healthz`` wait for
(``/healthz`` answers 503 after 5 s). So the figure that matters is the longest time the
evaluation holds the loop. The benchmark builds the query benchmark's seeded graph in this
process (no broker: the evaluation is the pure core's) and runs each scan both ways on the
same partitions, alternating which goes first:

- *one go*: each partition in one call (``scan_slice`` 0, the way the worker scanned before);
- *steps*: ``--scan-slice`` nodes or edges per step, the loop's turn between two steps.

For each it prints the longest hold and the total time, and the ratios. Then it times the
digest of the same partitions computed from the plain values (each node's labels and props,
each edge's decoded props, through the canonical JSON encoder: how a partition's digest was
computed before) against the engine's (:func:`pipeline.digest.partition_digest`). It asserts
only that both ways give the same answers.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.paths import aligned, build_graphs, graph_args, graph_parser, print_and_write
from benchmarks.query_stats import ratio
from benchmarks.report import machine_info
from pipeline.digest import edge_hash, merge_digests, node_hash, partition_digest
from pipeline.entries import out_items
from pipeline.graph import GraphPartition, edge_props
from pipeline.queries import Done, Failed, QueryRun, run_stepwise
from project_engine.localkafka import KAFKA_VERSION

__all__ = ["SCANS", "main", "parse_args", "plain_digest", "run_benchmark", "timed_steps"]

SCANS: dict[str, dict[str, Any]] = {
    "digest": {"type": "digest"},
    "top_degree k=10 out": {"type": "top_degree", "k": 10, "direction": "out"},
    "top_degree k=10 both": {"type": "top_degree", "k": 10, "direction": "both"},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = graph_parser("scans", __doc__)
    parser.add_argument("--scan-slice", type=int, help="nodes and edges per step (2048)")
    parser.add_argument("--repeats", type=int, help="runs of each scan each way (3; --quick: 2)")
    return graph_args(parser, argv, "scans", {"scan_slice": (2048, 2048), "repeats": (3, 2)})


def timed_steps(
    query: Mapping[str, Any], graphs: Mapping[int, GraphPartition], size: int | None
) -> tuple[Done | Failed, float, float, int]:
    """Evaluate ``query`` over ``graphs`` in steps of ``size`` (``None``: one go): the
    outcome, the longest step and the total, in seconds, and the number of steps."""
    args = {k: v for k, v in query.items() if k != "type"}
    steps = run_stepwise(QueryRun(query["type"], args, len(graphs)), graphs, size)
    clock = time.perf_counter
    longest = total = 0.0
    count = 0
    while True:
        t0 = clock()
        try:
            next(steps)
        except StopIteration as end:
            spent = clock() - t0
            outcome: Done | Failed = end.value
            return outcome, max(longest, spent), total + spent, count + 1
        spent = clock() - t0
        longest, total, count = max(longest, spent), total + spent, count + 1


def plain_digest(graphs: Mapping[int, GraphPartition]) -> dict[str, Any]:
    """The graph's digest hashed from plain values, one JSON encoding per node and edge
    (:func:`merge_digests` takes the sums modulo 2**64)."""
    partials = []
    for graph in graphs.values():
        total = 0
        for node_id, record in graph.nodes.items():
            total += node_hash(node_id, record.labels, record.props)
        for src, held in graph.out_edges.items():
            for etype, dst, props in out_items(held):
                total += edge_hash(src, etype, dst, edge_props(props))
        partials.append({"sum": total, "nodes": graph.node_count, "edges": graph.edge_count})
    return merge_digests(partials)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Every scan both ways and the digest's hashing both ways; the JSON document."""
    started = time.perf_counter()
    graphs = build_graphs(args.edges, args.nodes, args.partitions, args.seed)
    build_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # as a worker does after loading: the graph is not scanned again
    ways: dict[str, int | None] = {"one go": None, "steps": args.scan_slice}
    scans: dict[str, dict[str, Any]] = {}
    for name, query in SCANS.items():
        holds: dict[str, list[float]] = {way: [] for way in ways}
        totals: dict[str, list[float]] = {way: [] for way in ways}
        counts: dict[str, int] = {}
        for i in range(args.repeats):
            answers = {}
            for way in list(ways) if i % 2 == 0 else list(reversed(ways)):
                outcome, hold, total, counts[way] = timed_steps(query, graphs, ways[way])
                answers[way] = outcome
                holds[way].append(hold)
                totals[way].append(total)
            if not isinstance(answers["steps"], Done) or answers["steps"] != answers["one go"]:
                raise AssertionError(f"{name} answers differ by way: {answers}")
        scans[name] = {
            way: {
                "longest_hold_ms": _ms(min(holds[way])),
                "total_ms": _ms(min(totals[way])),
                "steps": counts[way],
            }
            for way in ways
        }
        one, steps = scans[name]["one go"], scans[name]["steps"]
        scans[name]["hold_ratio"] = ratio(one["longest_hold_ms"], steps["longest_hold_ms"])
        scans[name]["total_ratio"] = ratio(steps["total_ms"], one["total_ms"])
    hashing: dict[str, list[float]] = {"plain values": [], "engine": []}
    for i in range(args.repeats):
        digests = {}
        for way in list(hashing) if i % 2 == 0 else list(reversed(hashing)):
            t0 = time.perf_counter()
            if way == "engine":
                digests[way] = merge_digests(partition_digest(g) for g in graphs.values())
            else:
                digests[way] = plain_digest(graphs)
            hashing[way].append(time.perf_counter() - t0)
        if digests["engine"] != digests["plain values"]:
            raise AssertionError(f"the digests differ: {digests}")
    best = {way: _ms(min(values)) for way, values in hashing.items()}
    return {
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_info(KAFKA_VERSION),
        "graph": {
            "nodes": sum(g.node_count for g in graphs.values()),
            "edges": sum(g.edge_count for g in graphs.values()),
            "build_seconds": round(build_seconds, 1),
        },
        "scans": scans,
        "digest_hashing_ms": best,
        "digest_hashing_ratio": ratio(best["plain values"], best["engine"]),
    }


def format_table(doc: Mapping[str, Any]) -> str:
    """One row per scan and way (best of the repeats), the ratios, the digest's hashing."""
    header = ["scan", "way", "longest hold ms", "total ms", "steps"]
    rows: list[Sequence[str]] = [header]
    for name, got in doc["scans"].items():
        for way in ("one go", "steps"):
            w = got[way]
            rows.append(
                [name, way, f"{w['longest_hold_ms']:.2f}", f"{w['total_ms']:.1f}", f"{w['steps']}"]
            )
    lines = aligned(rows)
    for name, got in doc["scans"].items():
        hold, total = got["hold_ratio"], got["total_ratio"]
        lines.append(
            f"{name}: longest hold, one go / steps = {hold:.0f}x; total, steps / one go = "
            f"{total:.2f}x"
            if hold is not None and total is not None
            else f"{name}: n/a"
        )
    h = doc["digest_hashing_ms"]
    r = doc["digest_hashing_ratio"]
    lines.append(
        f"digest of all partitions: plain values {h['plain values']:.0f} ms, engine "
        f"{h['engine']:.0f} ms, plain / engine = " + (f"{r:.2f}x" if r is not None else "n/a")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"scans of whole partitions on {args.edges:,} edges over {args.nodes:,} nodes, "
        f"{args.partitions} partitions: in steps of {args.scan_slice} vs in one go",
        flush=True,
    )
    doc = run_benchmark(args)
    return print_and_write(format_table(doc), doc, args.json_out)


if __name__ == "__main__":
    sys.exit(main())
