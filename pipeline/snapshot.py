"""A byte format for the graph partitions one worker holds, each with its store position.

A worker with a durable table store (RocksDB) rebuilds its partitions from the store's
records at start: ~4 us per record, seconds per million edges. Written at a clean stop, a
snapshot of the partitions as they are in memory loads several times faster (one
:mod:`marshal` load of plain containers, no per-record decoding; interned ids come back
interned; the reverse indexes a node delete uses are left out, as a partition builds them on
its first one), and stands for the store as long as the store has not moved since: each
partition carries the store's persisted changelog offset it matches, and the reader
(:mod:`agents.local_state`) uses a partition only if the store still reports that offset.

Layout: :data:`MAGIC`, a 4-byte big-endian header length, the header (JSON: format,
partition count, the graph's layout constant, the interpreter's version and marshal
version, the payload's length and CRC-32), then the payload. A header that does not match
this process, or a payload whose length or checksum is wrong, raises
:class:`SnapshotError`: marshal's format belongs to one Python version, and a damaged
payload is never handed to it.
"""

from __future__ import annotations

import json
import marshal
import struct
import sys
import zlib
from collections.abc import Mapping
from typing import IO, Any

from pipeline.entries import SMALL
from pipeline.graph import BARE, GraphPartition, NodeRecord

__all__ = ["FORMAT", "MAGIC", "SnapshotError", "read_snapshot", "write_snapshot"]

MAGIC = b"PEGRAPH\x00"
#: Bumped whenever the in-memory layout the payload mirrors changes.
FORMAT = 5

Offsets = Mapping[int, int | None]
_LENGTH = struct.Struct(">I")


class SnapshotError(ValueError):
    """The bytes are not a usable snapshot (damaged, another format, another layout)."""


def _expected_header(partitions: int) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "partitions": partitions,
        "small_entries": SMALL,
        "python": list(sys.version_info[:2]),
        "marshal": marshal.version,
    }


def _state(graph: GraphPartition) -> tuple[Any, ...]:
    nodes = {node_id: (record.labels, record.props) for node_id, record in graph.nodes.items()}
    return (
        nodes,
        graph.out_edges,
        graph.in_edges,
        graph.edge_count,
        graph.standing,
        graph.watermarks,
        graph.deferred,
    )


def write_snapshot(
    out: IO[bytes], graphs: Mapping[int, GraphPartition], offsets: Offsets, partitions: int
) -> None:
    """Write ``graphs`` (partition -> state) with ``offsets`` (partition -> store offset).

    ``partitions`` is the graph's partition count, which decides what each partition owns;
    a snapshot is never read under another count. The graphs must be settled: no part half
    applied, nothing left in their dirty sets.
    """
    payload = marshal.dumps({p: (offsets.get(p), _state(g)) for p, g in graphs.items()})
    header = _expected_header(partitions)
    header.update(length=len(payload), crc32=zlib.crc32(payload))
    encoded = json.dumps(header, sort_keys=True).encode()
    out.write(MAGIC + _LENGTH.pack(len(encoded)) + encoded)
    out.write(payload)


def read_snapshot(
    source: IO[bytes], partitions: int
) -> tuple[dict[int, GraphPartition], dict[int, int | None]]:
    """The partitions in a snapshot and the store offset each one matches.

    Raises :class:`SnapshotError` when the bytes are not a whole snapshot of this format
    and layout written by this Python version, or were written under another partition
    count.
    """
    if source.read(len(MAGIC)) != MAGIC:
        raise SnapshotError("not a graph snapshot")
    try:
        (size,) = _LENGTH.unpack(source.read(_LENGTH.size))
        header = json.loads(source.read(size))
        length, crc = header.pop("length"), header.pop("crc32")
    except (struct.error, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SnapshotError(f"damaged snapshot header: {exc}") from exc
    expected = _expected_header(partitions)
    if header != expected:
        raise SnapshotError(f"snapshot written as {header!r}, this process reads {expected!r}")
    payload = source.read(length + 1)
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise SnapshotError("snapshot payload damaged (length or checksum differs)")
    try:
        content = marshal.loads(payload)
        del payload
        graphs: dict[int, GraphPartition] = {}
        offsets: dict[int, int | None] = {}
        for partition, (offset, state) in content.items():
            graphs[partition] = _graph(partition, state)
            offsets[partition] = offset
    except (ValueError, TypeError, EOFError, AttributeError) as exc:
        raise SnapshotError(f"unreadable snapshot: {type(exc).__name__}: {exc}") from exc
    return graphs, offsets


def _graph(partition: int, state: tuple[Any, ...]) -> GraphPartition:
    (
        nodes,
        out_edges,
        in_edges,
        edge_count,
        standing,
        watermarks,
        deferred,
    ) = state
    graph = GraphPartition(partition)
    graph.nodes = {
        k: NodeRecord(labels, props) if labels or props else BARE
        for k, (labels, props) in nodes.items()
    }
    graph.out_edges = out_edges
    graph.in_edges = in_edges
    graph._edge_count = edge_count
    graph.standing = standing
    graph.watermarks = watermarks
    graph.deferred = deferred
    return graph
