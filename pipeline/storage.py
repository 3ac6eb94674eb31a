"""How graph state maps onto changelog-backed table records, and back.

One record per node and one per edge half, so adding an edge to a hub writes two small
records however many edges the hub has:

- ``b"n" + id`` -> msgpack ``[labels, props]``
- ``b"o" + src + 0x00 + type + 0x00 + dst`` -> msgpack ``props`` (held by src's owner)
- ``b"i" + dst + 0x00 + type + 0x00 + src`` -> ``b"\\x01"`` (held by dst's owner)
- ``b"s" + standing query id`` -> msgpack pattern (every partition holds every one)
- ``b"w" + partition + 0x00 + "topic:partition"`` -> the input offset applied last there
- ``b"c" + partition + 0x00 + match id`` -> a confirmation waiting for its input message

Ids and types never hold control characters (validation rejects them), so 0x00 is a safe
separator. A record whose value is ``None`` is a deletion (a changelog tombstone).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from itertools import islice
from typing import Any
from zlib import crc32

import msgpack

from pipeline.graph import BARE, Dirty, GraphPartition
from pipeline.stepwise import Steps, run_through

__all__ = [
    "GraphRecordSink",
    "TableWrite",
    "apply_records",
    "decode_record",
    "dirty_writes",
    "in_key",
    "is_edge_record",
    "key_holder",
    "node_key",
    "out_key",
    "owner_of_key",
    "rebuild_partitions",
    "rebuild_partitions_stepwise",
    "remove_record",
    "standing_key",
]

TableWrite = tuple[bytes, bytes | None]
_SEP = "\x00"
_IN_VALUE = b"\x01"
_BARE_VALUE = msgpack.packb([[], {}], use_bin_type=True)  # a node without labels and props
_N, _O, _I, _S, _W, _C = b"noiswc"  # record kinds, as the first byte of a key


def node_key(node_id: str) -> bytes:
    return b"n" + node_id.encode("utf-8")


def out_key(src: str, etype: str, dst: str) -> bytes:
    return b"o" + f"{src}{_SEP}{etype}{_SEP}{dst}".encode()


def standing_key(standing_id: str) -> bytes:
    return b"s" + standing_id.encode("utf-8")


def in_key(dst: str, etype: str, src: str) -> bytes:
    return b"i" + f"{dst}{_SEP}{etype}{_SEP}{src}".encode()


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def dirty_writes(graph: GraphPartition, dirty: Dirty) -> list[TableWrite]:
    """The records to write for the keys in ``dirty``: current values, or ``None`` if gone."""
    writes: list[TableWrite] = []
    add = writes.append
    nodes = graph.nodes
    for node_id in dirty.nodes:
        record = nodes.get(node_id)
        if record is None:
            value = None
        elif record is BARE:
            value = _BARE_VALUE
        else:
            value = _pack([sorted(record.labels), record.props])
        add((node_key(node_id), value))
    # The dirty entries carry the current values: props held packed are the record's value.
    for (src, etype, dst), props in dirty.out_edges.items():
        add((f"o{src}\x00{etype}\x00{dst}".encode(), props))
    for (dst, etype, src), present in dirty.in_edges.items():
        add((f"i{dst}\x00{etype}\x00{src}".encode(), _IN_VALUE if present else None))
    owner = str(graph.partition)
    for key in dirty.watermarks:
        writes.append((b"w" + f"{owner}\x00{key}".encode(), _pack(graph.watermarks[key])))
    for mid in dirty.deferred:
        entry = graph.deferred.get(mid)
        record_key = b"c" + f"{owner}\x00{mid}".encode()
        writes.append((record_key, None if entry is None else _pack(list(entry))))
    for standing_id in dirty.standing:
        pattern = graph.standing.get(standing_id)
        writes.append((standing_key(standing_id), None if pattern is None else _pack(pattern)))
    return writes


def owner_of_key(key: bytes, partitions: int) -> int:
    """The partition whose state holds the record ``key``.

    A key holds its node id as UTF-8, so the CRC-32 of those bytes is
    :func:`pipeline.partitioning.partition_for` of the id, without decoding it.
    """
    kind = key[0]
    if kind in (_W, _C):  # partition-local bookkeeping: the owner is in the key
        return int(key[1 : key.index(0, 1)])
    end = len(key) if kind == _N else _separator(key)
    return crc32(key[1:end]) % partitions


def key_holder(key: bytes, partitions: int) -> int | None:
    """The changelog partition holding ``key``; ``None`` for records every partition holds."""
    return None if key[0] == _S else owner_of_key(key, partitions)


def _separator(key: bytes) -> int:
    sep = key.find(0, 1)
    return len(key) if sep < 0 else sep


def decode_record(key: bytes, value: bytes, graph: GraphPartition) -> None:
    """Load one stored record into ``graph``; raises ``ValueError`` on an unknown record."""
    kind = key[:1]
    body = key[1:].decode("utf-8")
    if kind == b"s":
        graph.load_standing(body, msgpack.unpackb(value, raw=False))
        return
    if kind in (b"w", b"c"):
        _owner, name = body.split(_SEP, 1)
        if kind == b"w":
            graph.load_watermark(name, int(msgpack.unpackb(value)))
        else:
            node_id, label, match = msgpack.unpackb(value, raw=False)
            graph.load_deferred(name, node_id, label, match)
        return
    if kind == b"n":
        labels, props = msgpack.unpackb(value, raw=False)
        graph.load_node(body, labels, props)
        return
    parts = body.split(_SEP)
    if len(parts) != 3:
        raise ValueError(f"malformed edge record key {key[:80]!r}")
    if kind == b"o":
        graph.load_out_edge(parts[0], parts[1], parts[2], value)
    elif kind == b"i":
        graph.load_in_edge(parts[0], parts[1], parts[2])
    else:
        raise ValueError(f"unknown record kind {kind!r}")


def is_edge_record(key: bytes) -> bool:
    """Whether ``key`` is an out or in record (nearly all records of a graph)."""
    return key[0] in (_O, _I)


def remove_record(key: bytes, graph: GraphPartition) -> None:
    """Forget what the deleted record ``key`` held; raises ``ValueError`` on an unknown record."""
    kind = key[:1]
    body = key[1:].decode("utf-8")
    if kind == b"n":
        graph.nodes.pop(body, None)
    elif kind == b"s":
        graph.standing.pop(body, None)
    elif kind in (b"w", b"c"):
        _owner, name = body.split(_SEP, 1)
        (graph.watermarks if kind == b"w" else graph.deferred).pop(name, None)
    elif kind in (b"o", b"i"):
        parts = body.split(_SEP)
        if len(parts) != 3:
            raise ValueError(f"malformed edge record key {key[:80]!r}")
        if kind == b"o":
            graph.unload_out_edge(parts[0], parts[1], parts[2])
        else:
            graph.unload_in_edge(parts[0], parts[1], parts[2])
    else:
        raise ValueError(f"unknown record kind {kind!r}")


def apply_records(records: Iterable[tuple[bytes, bytes | None]], graph: GraphPartition) -> None:
    """Bring ``graph`` to what a rebuild would give after ``records`` were written, in order,
    over the records it was built from: a value loads its record, ``None`` removes it."""
    for key, value in records:
        if value is None:
            remove_record(key, graph)
        else:
            decode_record(key, value, graph)


class GraphRecordSink:
    """Where a changelog read of one partition puts its records, in order (the two mapping
    operations a reader uses): each record goes into ``graph`` as it arrives, and only the
    records that are not edge records also into ``others`` (the table's store). So a graph
    is built while its partition is read, and its edge records are held once, by the graph.
    """

    __slots__ = ("graph", "others")

    def __init__(self, graph: GraphPartition, others: MutableMapping[bytes, bytes]) -> None:
        self.graph = graph
        self.others = others

    def __setitem__(self, key: bytes, value: bytes) -> None:
        if not is_edge_record(key):
            self.others[key] = value
        decode_record(key, value, self.graph)

    def pop(self, key: bytes, default: bytes | None = None) -> bytes | None:
        """Delete ``key`` (a tombstone); what ``others`` held for it, else ``default``."""
        held = default if is_edge_record(key) else self.others.pop(key, default)
        remove_record(key, self.graph)
        return held


def rebuild_partitions(
    records: Iterable[tuple[bytes, bytes | None]], partitions: int, wanted: set[int]
) -> dict[int, GraphPartition]:
    """Build the state of each partition in ``wanted`` from stored records (others skipped).

    Equivalent to :func:`decode_record` on each record of a wanted partition; node and edge
    records, nearly all of a graph, take a path that decodes the key once and finds the owner
    from it (an out record's value is the edge's packed props as it is: never unpacked).
    """
    return run_through(rebuild_partitions_stepwise(records, partitions, wanted, None))


def rebuild_partitions_stepwise(
    records: Iterable[tuple[bytes, bytes | None]],
    partitions: int,
    wanted: set[int],
    size: int | None,
) -> Steps[dict[int, GraphPartition]]:
    """:func:`rebuild_partitions`, reading ``size`` records at a time and yielding between
    (``None``: all at once). The records must not change meanwhile."""
    if size is not None and size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    graphs = {p: GraphPartition(p) for p in wanted}
    standing: dict[bytes, bytes] = {}
    if size is None:
        _load_records(records, partitions, graphs, standing)
    else:
        pending = iter(records)
        while batch := list(islice(pending, size)):
            _load_records(batch, partitions, graphs, standing)
            yield
    for key, value in standing.items():
        for graph in graphs.values():
            decode_record(key, value, graph)
    return graphs


def _load_records(
    records: Iterable[tuple[bytes, bytes | None]],
    partitions: int,
    graphs: dict[int, GraphPartition],
    standing: dict[bytes, bytes],
) -> None:
    """Load ``records`` into the ``graphs`` owning them; standing queries go to ``standing``."""
    get_graph = graphs.get
    unpack = msgpack.unpackb
    for key, value in records:
        if value is None:
            continue
        kind = key[0]
        if kind in (_O, _I):
            try:
                parts = key[1:].decode("utf-8").split(_SEP)
            except UnicodeDecodeError:
                if get_graph(owner_of_key(key, partitions)) is None:
                    continue  # another partition's record: skipped, as it is never decoded
                raise
            # The owner is the partition of the first id, whose UTF-8 bytes the key holds.
            graph = get_graph(crc32(parts[0].encode("utf-8")) % partitions)
            if graph is None:
                continue
            if len(parts) != 3:
                raise ValueError(f"malformed edge record key {key[:80]!r}")
            if kind == _O:
                graph.load_out_edge(parts[0], parts[1], parts[2], value)
            else:
                graph.load_in_edge(parts[0], parts[1], parts[2])
        elif kind == _N:
            graph = get_graph(crc32(key[1:]) % partitions)
            if graph is not None:
                labels, props = unpack(value, raw=False)
                graph.load_node(key[1:].decode("utf-8"), labels, props)
        elif kind == _S:  # every partition keeps every registration
            standing[key] = value
        else:
            graph = get_graph(owner_of_key(key, partitions))
            if graph is not None:
                decode_record(key, value, graph)
