"""Partition-local graph state and the application of steps to it.

A :class:`GraphPartition` holds the nodes this partition owns (labels, props), the out
entries of edges whose source it owns (with the edge's props), the in entries of edges
whose destination it owns, and two reverse indexes so a node delete can find every local
entry that points at the deleted node. The reverse indexes are derived from the entries and
built on the first node delete (:meth:`GraphPartition._build_indexes`), so a partition that
only ever gains edges never holds them; they are dropped again when the partition's last
entry goes. Every step is idempotent under replay of a suffix of the step log: each one
assigns fields rather than counting, so re-applying steps after a crash (at-least-once
delivery) converges to the same state.

Applying records which keys changed; :meth:`GraphPartition.take_dirty` hands them over
once per part so the caller writes each touched key at most once.

Memory: a partition may hold millions of edges, so their entries share what they can. Node
ids, edge types and labels are interned (:func:`sys.intern`) where they enter the partition
(the step handlers and the ``load_*`` methods), so every structure refers to one string
object per distinct id or type however many entries name it (strings decoded from a part
or a record are fresh objects otherwise). An edge's props are held msgpack-encoded
(:data:`PackedProps`, read with :func:`edge_props`): one small bytes object instead of a
dict and its values (37 bytes for ``{"w": 5}`` against about 210), exactly the bytes of the
edge's table record, so writing the record encodes nothing and a rebuild decodes nothing.
Every edge without props holds :data:`NO_PROPS`, every node without labels and props
:data:`BARE`. A node's entries are flat while there are few of them (a tuple that names
their type once when they share one), a set or dict when there are many
(:mod:`pipeline.entries`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from pipeline.entries import (
    OutEntries,
    PairEntries,
    out_add,
    out_count,
    out_get,
    out_pairs,
    out_pop,
    out_put,
    pairs,
    pairs_add,
    pairs_count,
    pairs_discard,
    pairs_insert,
)
from pipeline.steps import Step, StepKind

__all__ = [
    "BARE",
    "NO_PROPS",
    "Dirty",
    "GraphPartition",
    "NodeRecord",
    "PackedProps",
    "edge_props",
    "pack_props",
    "shared_props",
]

PackedProps = bytes
"""An edge's props as the msgpack encoding of a map (``use_bin_type``), ``None`` values
left out; the value of the edge's out record in the table."""

NO_PROPS: PackedProps = msgpack.packb({})
"""The props of every edge that has none (the empty map)."""


SHARED_PROPS_LIMIT = 1 << 16
"""Distinct small packed props kept for sharing (about 10 MB at most), process-wide."""
_SHARED_PROPS_SIZE = 64  # bytes: larger props are rarely repeated
_shared_props: dict[bytes, bytes] = {NO_PROPS: NO_PROPS}


def shared_props(packed: PackedProps) -> PackedProps:
    """One bytes object for every edge whose props pack the same, as ids are interned: edges
    often repeat a few props (a weight, a kind, a flag), and each bytes object costs 33 bytes
    over its content. The first :data:`SHARED_PROPS_LIMIT` distinct small props are kept;
    others are held as they come."""
    held = _shared_props.get(packed)
    if held is not None:
        return held
    if len(packed) <= _SHARED_PROPS_SIZE and len(_shared_props) < SHARED_PROPS_LIMIT:
        _shared_props[packed] = packed
    return packed


_pack = msgpack.Packer(use_bin_type=True).pack
"""One packer for every edge's props: ``msgpack.packb`` sets up a packer per call, which
costs more than packing a small map. Packing plain values runs without releasing the GIL,
so no two packs interleave."""


def pack_props(props: Mapping[str, Any]) -> PackedProps:
    """``props`` without its ``None`` values, packed (shared, :func:`shared_props`);
    :data:`NO_PROPS` when nothing is left."""
    if None in props.values():  # rare: a None only removes a prop of an existing edge
        props = {k: v for k, v in props.items() if v is not None}
    return shared_props(_pack(props)) if props else NO_PROPS


def edge_props(packed: PackedProps) -> dict[str, Any]:
    """The props of an edge, as a new dict."""
    props: dict[str, Any] = msgpack.unpackb(packed, raw=False)
    return props


_intern = sys.intern

_Mirror = tuple[
    dict[str, PairEntries], Mapping[str, Any], Callable[[Any], Iterable[tuple[str, str]]]
]
"""A reverse index being built, the entries it mirrors, and how to read their pairs."""


@dataclass(slots=True)
class NodeRecord:
    """A node's labels and properties."""

    labels: set[str] = field(default_factory=set)
    props: dict[str, Any] = field(default_factory=dict)


BARE = NodeRecord()
"""The one record of every node without labels and props (most nodes an edge brings in),
which would otherwise take ~340 bytes each for an empty set and dict. Shared, so never changed
in place: a node upsert gives the node a record of its own first."""


@dataclass(slots=True)
class Dirty:
    """Keys changed since the last :meth:`GraphPartition.take_dirty`."""

    nodes: set[str] = field(default_factory=set)
    # (src, type, dst) -> the edge's packed props now, None once deleted
    out_edges: dict[tuple[str, str, str], bytes | None] = field(default_factory=dict)
    # (dst, type, src) -> whether the in entry is there now
    in_edges: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    standing: set[str] = field(default_factory=set)
    watermarks: set[str] = field(default_factory=set)
    deferred: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(
            self.nodes
            or self.out_edges
            or self.in_edges
            or self.standing
            or self.watermarks
            or self.deferred
        )


def _merge_props(target: dict[str, Any], update: Mapping[str, Any]) -> bool:
    changed = False
    for key, value in update.items():
        if value is None:
            if key in target:
                del target[key]
                changed = True
        else:
            old = target.get(key, _MISSING)
            if old is _MISSING or not _identical(old, value):
                target[key] = value
                changed = True
    return changed


_MISSING: Any = object()


def _identical(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``[0] == [False]`` in Python, but a
    prop set from ``0`` to ``False`` has changed)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(v, b[k]) for k, v in a.items())
    return bool(a == b)


class GraphPartition:
    """The slice of the graph owned by one partition."""

    __slots__ = (
        "_dirty",
        "_edge_count",
        "_in_by_src",
        "_indexed",
        "_out_by_dst",
        "confirms",
        "deferred",
        "events",
        "in_edges",
        "nodes",
        "out_edges",
        "partition",
        "standing",
        "watermarks",
    )

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.nodes: dict[str, NodeRecord] = {}
        # Edge entries and reverse indexes (the latter for node deletes only, built on the
        # first one: see :attr:`out_by_dst`), each a node's container of :mod:`pipeline.entries`.
        self.out_edges: dict[str, OutEntries] = {}  # src -> {(type, dst): props}
        self.in_edges: dict[str, PairEntries] = {}  # dst -> {(type, src)}
        self._out_by_dst: dict[str, PairEntries] = {}  # dst -> {(type, src)} of out entries
        self._in_by_src: dict[str, PairEntries] = {}  # src -> {(type, dst)} of in entries
        self._indexed = False  # whether the two above are built (and kept up to date)
        self._edge_count = 0
        self._dirty = Dirty()
        self.standing: dict[str, dict[str, Any]] = {}  # standing query id -> pattern
        # Change events of the current part, collected only while standing queries exist.
        self.events: list[tuple[Any, ...]] | None = None
        self.confirms: list[tuple[str, str, dict[str, Any]]] = []
        # Input position applied last, per input topic partition ("topic:partition").
        self.watermarks: dict[str, int] = {}
        # Confirmations that arrived before the part they depend on: match id -> step args.
        self.deferred: dict[str, tuple[str, str, dict[str, Any]]] = {}

    # -- reading ---------------------------------------------------------------------------

    @property
    def node_count(self) -> int:
        return len(self.nodes)

    @property
    def edge_count(self) -> int:
        """Edges whose source this partition owns (each edge counted once graph-wide)."""
        return self._edge_count

    def out_degree(self, node_id: str) -> int:
        return out_count(self.out_edges.get(node_id))

    def in_degree(self, node_id: str) -> int:
        return pairs_count(self.in_edges.get(node_id))

    def out_props(self, src: str, etype: str, dst: str) -> PackedProps | None:
        """The packed props of edge ``src -[etype]-> dst`` held here, or ``None``."""
        return out_get(self.out_edges.get(src), etype, dst)

    # -- reverse indexes -------------------------------------------------------------------

    @property
    def indexed(self) -> bool:
        """Whether the reverse indexes are built (from the first node delete or read until
        the partition holds no entry again)."""
        return self._indexed

    @property
    def out_by_dst(self) -> dict[str, PairEntries]:
        """dst -> ``(type, src)`` of every out entry held here, built on first use."""
        if not self._indexed:
            self._build_indexes()
        return self._out_by_dst

    @property
    def in_by_src(self) -> dict[str, PairEntries]:
        """src -> ``(type, dst)`` of every in entry held here, built on first use."""
        if not self._indexed:
            self._build_indexes()
        return self._in_by_src

    def _forget_indexes_if_empty(self) -> None:
        """Drop the reverse indexes once no entry is left: an emptied partition is back where
        a new one starts, and the edges it gains next do not pay for indexes (a third of the
        apply time) until another node delete needs them. So whether a partition holds
        indexes depends on its entries, not on whether it ever saw a node delete."""
        if self._indexed and not self.out_edges and not self.in_edges:
            self._out_by_dst, self._in_by_src, self._indexed = {}, {}, False

    def _build_indexes(self) -> None:
        """Build both reverse indexes at once (:meth:`build_indexes_stepwise`)."""
        for _ in self.build_indexes_stepwise(len(self.out_edges) + len(self.in_edges) + 1):
            pass

    def build_indexes_stepwise(self, size: int) -> Iterator[None]:
        """Build both reverse indexes from the entries, ``size`` nodes' entries at a time,
        yielding between; they take effect when the generator is exhausted, and from then on
        every change of an entry keeps them up to date. Nothing may change the entries while
        it runs (a caller that yields to an event loop holds the partition's only writer; a
        node added or dropped meanwhile stops the build with ``RuntimeError``).

        Only a node delete needs the indexes, so a partition that never sees one never holds
        them: they took 56% of an edge's memory and a third of its apply time. A build
        of one partition takes 79 ms at 10^5 edges, 2.0 s at 10^6.
        """
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        out_by_dst: dict[str, PairEntries] = {}
        in_by_src: dict[str, PairEntries] = {}
        done = 0
        # (index, entries it mirrors, their pairs): each entry node -[type]- other is filed
        # under other in its index.
        sources: tuple[_Mirror, ...] = (
            (out_by_dst, self.out_edges, out_pairs),
            (in_by_src, self.in_edges, pairs),
        )
        for index, entries, pairs_of in sources:
            for node, held in entries.items():
                for etype, other in pairs_of(held):
                    pairs_insert(index, other, etype, node)
                done += 1
                if done % size == 0:
                    yield
        self._out_by_dst, self._in_by_src, self._indexed = out_by_dst, in_by_src, True

    # -- applying --------------------------------------------------------------------------

    def apply(self, steps: Iterable[Step]) -> None:
        """Apply steps in order; unknown step kinds raise ``ValueError`` before any change."""
        handlers = self._handlers
        for step in steps:
            handler = handlers.get(step[0])
            if handler is None:
                raise ValueError(f"unknown step kind {step[0]!r}")
            handler(self, *step[1:])

    def take_dirty(self) -> Dirty:
        dirty, self._dirty = self._dirty, Dirty()
        return dirty

    def _ensure_node(self, node_id: str) -> NodeRecord:
        record = self.nodes.get(node_id)
        if record is None:
            record = self.nodes[node_id] = BARE
            self._dirty.nodes.add(node_id)
        return record

    def _node_upsert(self, node_id: str, labels: Iterable[str], props: Mapping[str, Any]) -> None:
        node_id = _intern(node_id)
        record = self._ensure_node(node_id)
        if record is BARE:
            record = self.nodes[node_id] = NodeRecord()
        changed = False
        events = self.events
        for label in labels:
            if label not in record.labels:
                label = _intern(label)
                record.labels.add(label)
                changed = True
                if events is not None:
                    events.append(("label", node_id, label))
        if events is not None:
            before = dict(record.props)
        if _merge_props(record.props, props) or changed:
            self._dirty.nodes.add(node_id)
            if events is not None:
                for key, value in props.items():
                    if value is not None and (key not in before or before[key] != value):
                        events.append(("prop", node_id, key, value))

    def _node_ensure(self, node_id: str) -> None:
        self._ensure_node(_intern(node_id))

    def _out_upsert(self, src: str, etype: str, dst: str, props: Mapping[str, Any]) -> None:
        src, etype, dst = _intern(src), _intern(etype), _intern(dst)
        if src not in self.nodes:
            self.nodes[src] = BARE
            self._dirty.nodes.add(src)
        current = out_get(self.out_edges.get(src), etype, dst)
        if current is None:
            packed = pack_props(props) if props else NO_PROPS
            out_add(self.out_edges, src, etype, dst, packed)
            self._edge_count += 1
            if self._indexed:
                pairs_insert(self._out_by_dst, dst, etype, src)
            self._dirty.out_edges[src, etype, dst] = packed
            if self.events is not None:
                self.events.append(("out+", src, etype, dst))
        elif props:
            merged = edge_props(current)
            if _merge_props(merged, props):
                packed = pack_props(merged)
                out_put(self.out_edges, src, etype, dst, packed)
                self._dirty.out_edges[src, etype, dst] = packed

    def _in_upsert(self, dst: str, etype: str, src: str) -> None:
        dst, etype, src = _intern(dst), _intern(etype), _intern(src)
        if dst not in self.nodes:
            self.nodes[dst] = BARE
            self._dirty.nodes.add(dst)
        if not pairs_add(self.in_edges, dst, etype, src):
            return
        if self._indexed:
            pairs_insert(self._in_by_src, src, etype, dst)
        self._dirty.in_edges[dst, etype, src] = True
        if self.events is not None:
            self.events.append(("in+", dst, etype, src))

    def _out_delete(self, src: str, etype: str, dst: str) -> None:
        if out_pop(self.out_edges, src, etype, dst) is None:
            return
        self._edge_count -= 1
        if self._indexed:
            pairs_discard(self._out_by_dst, dst, etype, src)
            self._forget_indexes_if_empty()
        self._dirty.out_edges[src, etype, dst] = None
        if self.events is not None:
            self.events.append(("out-", src, etype, dst))

    def _in_delete(self, dst: str, etype: str, src: str) -> None:
        if not pairs_discard(self.in_edges, dst, etype, src):
            return
        if self._indexed:
            pairs_discard(self._in_by_src, src, etype, dst)
            self._forget_indexes_if_empty()
        self._dirty.in_edges[dst, etype, src] = False
        if self.events is not None:
            self.events.append(("in-", dst, etype, src))

    def _node_delete(self, node_id: str) -> None:
        for etype, dst in out_pairs(self.out_edges.get(node_id)):
            self._out_delete(node_id, etype, dst)
        for etype, src in pairs(self.out_by_dst.get(node_id)):  # built here on first use
            self._out_delete(src, etype, node_id)
        for etype, src in pairs(self.in_edges.get(node_id)):
            self._in_delete(node_id, etype, src)
        for etype, dst in pairs(self.in_by_src.get(node_id)):
            self._in_delete(dst, etype, node_id)
        if self.nodes.pop(node_id, None) is not None:
            self._dirty.nodes.add(node_id)
        self._forget_indexes_if_empty()  # the loops above may have built them on an empty one

    def _standing_put(self, standing_id: str, pattern: Mapping[str, Any]) -> None:
        self.standing[standing_id] = dict(pattern)
        self._dirty.standing.add(standing_id)

    def _standing_del(self, standing_id: str) -> None:
        if self.standing.pop(standing_id, None) is not None:
            self._dirty.standing.add(standing_id)

    def _match_confirm(self, node_id: str, label: str, match: dict[str, Any]) -> None:
        src = match["source"]
        if self.watermarks.get(f"{src['topic']}:{src['partition']}", -1) < src["offset"]:
            # The part of the same input message for this partition is still on its way.
            self.deferred[match["match_id"]] = (node_id, label, match)
            self._dirty.deferred.add(match["match_id"])
            return
        record = self.nodes.get(node_id)
        if record is not None and label in record.labels:
            self.confirms.append((node_id, label, match))

    def mark_applied(self, topic: str, partition: int, offset: int) -> None:
        """Record that the input message at this position has been applied here, and settle
        confirmations that were waiting for it."""
        key = f"{topic}:{partition}"
        if self.watermarks.get(key, -1) >= offset:
            return
        self.watermarks[key] = offset
        self._dirty.watermarks.add(key)
        for mid, (node_id, label, match) in list(self.deferred.items()):
            src = match["source"]
            if f"{src['topic']}:{src['partition']}" == key and src["offset"] <= offset:
                del self.deferred[mid]
                self._dirty.deferred.add(mid)
                self._match_confirm(node_id, label, match)

    _handlers: dict[int, Any] = {
        StepKind.NODE_UPSERT: _node_upsert,
        StepKind.NODE_ENSURE: _node_ensure,
        StepKind.OUT_UPSERT: _out_upsert,
        StepKind.IN_UPSERT: _in_upsert,
        StepKind.OUT_DELETE: _out_delete,
        StepKind.IN_DELETE: _in_delete,
        StepKind.NODE_DELETE: _node_delete,
        StepKind.STANDING_PUT: _standing_put,
        StepKind.STANDING_DEL: _standing_del,
        StepKind.MATCH_CONFIRM: _match_confirm,
    }

    # -- loading from stored records -------------------------------------------------------

    def load_node(self, node_id: str, labels: Iterable[str], props: Mapping[str, Any]) -> None:
        record = NodeRecord(set(map(_intern, labels)), dict(props))
        self.nodes[_intern(node_id)] = record if record.labels or record.props else BARE

    def load_out_edge(self, src: str, etype: str, dst: str, props: PackedProps) -> None:
        src, etype, dst = _intern(src), _intern(etype), _intern(dst)
        if out_put(self.out_edges, src, etype, dst, shared_props(props)):
            self._edge_count += 1
            if self._indexed:
                pairs_insert(self._out_by_dst, dst, etype, src)

    def unload_out_edge(self, src: str, etype: str, dst: str) -> None:
        """Forget an out entry whose record was deleted (nothing is marked to write)."""
        if out_pop(self.out_edges, src, etype, dst) is not None:
            self._edge_count -= 1
            if self._indexed:
                pairs_discard(self._out_by_dst, dst, etype, src)
                self._forget_indexes_if_empty()

    def unload_in_edge(self, dst: str, etype: str, src: str) -> None:
        """Forget an in entry whose record was deleted (nothing is marked to write)."""
        if pairs_discard(self.in_edges, dst, etype, src) and self._indexed:
            pairs_discard(self._in_by_src, src, etype, dst)
            self._forget_indexes_if_empty()

    def load_standing(self, standing_id: str, pattern: Mapping[str, Any]) -> None:
        self.standing[standing_id] = dict(pattern)

    def load_watermark(self, key: str, offset: int) -> None:
        self.watermarks[key] = offset

    def load_deferred(self, match_id: str, node_id: str, label: str, match: dict[str, Any]) -> None:
        self.deferred[match_id] = (node_id, label, match)

    def load_in_edge(self, dst: str, etype: str, src: str) -> None:
        dst, etype, src = _intern(dst), _intern(etype), _intern(src)
        if pairs_add(self.in_edges, dst, etype, src) and self._indexed:
            pairs_insert(self._in_by_src, src, etype, dst)
