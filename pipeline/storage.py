"""How graph state maps onto changelog-backed table records, and back.

One record per node and one per edge half, so adding an edge to a hub writes two small
records however many edges the hub has:

- ``b"n" + id`` -> msgpack ``[labels, props]``
- ``b"o" + src + 0x00 + type + 0x00 + dst`` -> msgpack ``props`` (held by src's owner)
- ``b"i" + dst + 0x00 + type + 0x00 + src`` -> ``b"\\x01"`` (held by dst's owner)

Ids and types never hold control characters (validation rejects them), so 0x00 is a safe
separator. A record whose value is ``None`` is a deletion (a changelog tombstone).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgpack

from pipeline.graph import Dirty, GraphPartition
from pipeline.partitioning import partition_for

__all__ = [
    "TableWrite",
    "decode_record",
    "dirty_writes",
    "in_key",
    "node_key",
    "out_key",
    "owner_of_key",
    "rebuild_partitions",
]

TableWrite = tuple[bytes, bytes | None]
_SEP = "\x00"
_IN_VALUE = b"\x01"


def node_key(node_id: str) -> bytes:
    return b"n" + node_id.encode("utf-8")


def out_key(src: str, etype: str, dst: str) -> bytes:
    return b"o" + f"{src}{_SEP}{etype}{_SEP}{dst}".encode()


def in_key(dst: str, etype: str, src: str) -> bytes:
    return b"i" + f"{dst}{_SEP}{etype}{_SEP}{src}".encode()


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def dirty_writes(graph: GraphPartition, dirty: Dirty) -> list[TableWrite]:
    """The records to write for the keys in ``dirty``: current values, or ``None`` if gone."""
    writes: list[TableWrite] = []
    for node_id in dirty.nodes:
        record = graph.nodes.get(node_id)
        value = None if record is None else _pack([sorted(record.labels), record.props])
        writes.append((node_key(node_id), value))
    for src, etype, dst in dirty.out_edges:
        props = graph.out_edges.get(src, {}).get((etype, dst))
        writes.append((out_key(src, etype, dst), None if props is None else _pack(props)))
    for dst, etype, src in dirty.in_edges:
        present = (etype, src) in graph.in_edges.get(dst, ())
        writes.append((in_key(dst, etype, src), _IN_VALUE if present else None))
    return writes


def owner_of_key(key: bytes, partitions: int) -> int:
    """The partition whose state holds the record ``key``."""
    body = key[1:].decode("utf-8")
    first = body.split(_SEP, 1)[0] if key[:1] != b"n" else body
    return partition_for(first, partitions)


def decode_record(key: bytes, value: bytes, graph: GraphPartition) -> None:
    """Load one stored record into ``graph``; raises ``ValueError`` on an unknown record."""
    kind = key[:1]
    body = key[1:].decode("utf-8")
    if kind == b"n":
        labels, props = msgpack.unpackb(value, raw=False)
        graph.load_node(body, labels, props)
        return
    parts = body.split(_SEP)
    if len(parts) != 3:
        raise ValueError(f"malformed edge record key {key[:80]!r}")
    if kind == b"o":
        graph.load_out_edge(parts[0], parts[1], parts[2], msgpack.unpackb(value, raw=False))
    elif kind == b"i":
        graph.load_in_edge(parts[0], parts[1], parts[2])
    else:
        raise ValueError(f"unknown record kind {kind!r}")


def rebuild_partitions(
    records: Iterable[tuple[bytes, bytes | None]], partitions: int, wanted: set[int]
) -> dict[int, GraphPartition]:
    """Build the state of each partition in ``wanted`` from stored records (others skipped)."""
    graphs = {p: GraphPartition(p) for p in wanted}
    for key, value in records:
        if value is None:
            continue
        graph = graphs.get(owner_of_key(key, partitions))
        if graph is not None:
            decode_record(key, value, graph)
    return graphs
