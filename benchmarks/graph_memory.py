"""Resident memory per edge of ``GraphPartition`` state, and the time to build it two ways.

Usage::

    python -m benchmarks.graph_memory [--edges N] [--nodes N] [--partitions N] [--types N]
                                      [--chunk-size N] [--seed N]

It builds the graph partitions of one worker process (all ``--partitions`` of them) from
seeded edge upserts without props (ids ``n<i>``, types such as ``KNOWS``), in two phases,
each in a fresh child process so that neither reuses memory the other freed:

- ``apply``: the ops are routed chunk by chunk with ``route_chunk``; every part is encoded
  with ``encode_part`` beforehand and decoded with ``decode_part`` right before it is
  applied, so each step carries freshly decoded strings, as parts read from the internal
  apply topic do. The table records each part changes (``dirty_writes`` after
  ``take_dirty``) go to a temporary file as they are produced.
- ``rebuild``: the latest record of every key is read back into memory and
  ``rebuild_partitions`` builds fresh partitions from them, as a restarting worker does
  (collector run first, off during the rebuild, then frozen).

For each phase it prints the growth of the process RSS (after ``gc.collect()``, against the
same process right before building) per edge, and the CPU time of the process
(``time.process_time``, which other load on the machine sways less than the wall clock) per
edge spent in ``GraphPartition.apply`` (decoding parts and computing records not included,
collections of the garbage collector during ``apply`` included), or per record spent in
``rebuild_partitions``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import psutil

from pipeline.graph import GraphPartition
from pipeline.routing import route_chunk
from pipeline.steps import Part, decode_part, encode_part
from pipeline.storage import dirty_writes, rebuild_partitions
from schemas.ops import Op, UpsertEdge

__all__ = ["main", "parse_args"]

EDGE_TYPES = ("KNOWS", "LIKES", "FOLLOWS", "WORKS_WITH", "MENTIONS", "REPLIES_TO")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.graph_memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--edges", type=int, default=1_000_000, help="edge upserts (10^6)")
    parser.add_argument("--nodes", type=int, help="distinct node ids (edges / 10)")
    parser.add_argument("--partitions", type=int, default=4, help="graph partitions (4)")
    parser.add_argument("--types", type=int, default=3, help=f"edge types, 1..{len(EDGE_TYPES)}")
    parser.add_argument("--chunk-size", type=int, default=1000, help="ops per chunk (1000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random edges (1)")
    parser.add_argument(
        "--props",
        action="store_true",
        help='each edge carries {"w": 0..999}, as in benchmarks.data',
    )
    parser.add_argument("--phase", choices=("apply", "rebuild"), help=argparse.SUPPRESS)
    parser.add_argument("--records", type=Path, help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    a.nodes = a.nodes or max(a.edges // 10, 1)
    if min(a.edges, a.nodes, a.partitions, a.chunk_size) < 1:
        parser.error("--edges, --nodes, --partitions and --chunk-size must be at least 1")
    if not 1 <= a.types <= len(EDGE_TYPES):
        parser.error(f"--types must be between 1 and {len(EDGE_TYPES)}")
    return a


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def _encoded_parts(a: argparse.Namespace) -> list[bytes]:
    """Every routed part of every chunk, msgpack-encoded, in the order a worker applies them."""
    rng = random.Random(a.seed)
    draw = rng.randrange
    ids = [f"n{i}" for i in range(a.nodes)]
    types = EDGE_TYPES[: a.types]
    encoded: list[bytes] = []
    for start in range(0, a.edges, a.chunk_size):
        ops: list[Op] = [
            UpsertEdge(
                ids[draw(a.nodes)],
                ids[draw(a.nodes)],
                types[draw(a.types)],
                {"w": draw(1000)} if a.props else {},
            )
            for _ in range(min(a.chunk_size, a.edges - start))
        ]
        parts = route_chunk(ops, a.partitions)
        for index, partition in enumerate(sorted(parts)):
            part = Part(
                None, index, len(parts), False, "msgpack", ("in", 0, start), parts[partition]
            )
            encoded.append(bytes([partition]) + encode_part(part))
    return encoded


def _apply_phase(a: argparse.Namespace) -> dict[str, Any]:
    encoded = _encoded_parts(a)
    graphs = [GraphPartition(p) for p in range(a.partitions)]
    before = _rss()
    apply_seconds = 0.0
    clock = time.process_time
    with a.records.open("wb") as out:
        pack = msgpack.Packer(use_bin_type=True).pack
        for raw in encoded:
            graph = graphs[raw[0]]
            steps = decode_part(raw[1:]).steps
            t0 = clock()
            graph.apply(steps)
            apply_seconds += clock() - t0
            for key, value in dirty_writes(graph, graph.take_dirty()):
                out.write(pack((key, value)))
            del steps
    after = _rss()  # the encoded parts, allocated before ``before``, are still held
    edges = sum(g.edge_count for g in graphs)
    return {
        "edges": edges,
        "nodes": sum(g.node_count for g in graphs),
        "rss_bytes_per_edge": (after - before) / edges,
        "us_per_edge": apply_seconds / a.edges * 1e6,
    }


def _rebuild_phase(a: argparse.Namespace) -> dict[str, Any]:
    table: dict[bytes, bytes] = {}
    with a.records.open("rb") as f:
        for key, value in msgpack.Unpacker(f, raw=False, use_list=False):
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    records: list[tuple[bytes, bytes | None]] = list(table.items())
    del table
    before = _rss()
    gc.disable()
    t0 = time.process_time()
    graphs = rebuild_partitions(records, a.partitions, set(range(a.partitions)))
    seconds = time.process_time() - t0
    gc.freeze()
    gc.enable()
    after = _rss()
    edges = sum(g.edge_count for g in graphs.values())
    return {
        "edges": edges,
        "nodes": sum(g.node_count for g in graphs.values()),
        "records": len(records),
        "rss_bytes_per_edge": (after - before) / edges,
        "us_per_record": seconds / len(records) * 1e6,
    }


def _child(a: argparse.Namespace, phase: str, records: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.graph_memory", "--phase", phase]
    argv += ["--records", str(records), "--edges", str(a.edges), "--nodes", str(a.nodes)]
    argv += ["--partitions", str(a.partitions), "--types", str(a.types)]
    argv += ["--chunk-size", str(a.chunk_size), "--seed", str(a.seed)]
    argv += ["--props"] if a.props else []
    done = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.phase is not None:
        result = _apply_phase(a) if a.phase == "apply" else _rebuild_phase(a)
        print(json.dumps(result))
        return 0
    print(
        f"{a.edges:,} edge upserts over {a.nodes:,} nodes, {a.types} edge types, "
        f"{'props {w: 0..999}' if a.props else 'no props'}, {a.partitions} partitions, "
        f"chunks of {a.chunk_size}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="graph-memory-") as tmp:
        records = Path(tmp) / "records.msgpack"
        applied = _child(a, "apply", records)
        print(
            f"apply:   {applied['edges']:,} edges, {applied['nodes']:,} nodes: "
            f"{applied['rss_bytes_per_edge']:7.1f} RSS bytes/edge, "
            f"{applied['us_per_edge']:6.2f} us/edge in apply",
            flush=True,
        )
        rebuilt = _child(a, "rebuild", records)
    if (rebuilt["edges"], rebuilt["nodes"]) != (applied["edges"], applied["nodes"]):
        raise AssertionError(f"the rebuild holds other counts than the apply: {rebuilt}")
    print(
        f"rebuild: {rebuilt['records']:,} records: "
        f"{rebuilt['rss_bytes_per_edge']:7.1f} RSS bytes/edge, "
        f"{rebuilt['us_per_record']:6.2f} us/record in rebuild_partitions",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
