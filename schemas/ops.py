"""The mutation ops accepted on the input topic, the chunk that carries them, and their wire form.

Ops are immutable values produced by :mod:`schemas.validation`; ``props`` maps are handed
over as decoded and must be treated as read-only. A ``None`` prop value means "remove this
prop". :func:`op_to_wire` is the inverse of parsing, for publishers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from schemas.codec import Encoding

__all__ = [
    "Chunk",
    "DeleteEdge",
    "DeleteNode",
    "Op",
    "UpsertEdge",
    "UpsertNode",
    "chunk_to_wire",
    "op_to_wire",
]


@dataclass(frozen=True, slots=True)
class UpsertNode:
    """Create or update a node: add ``labels``, set ``props`` (a ``None`` value removes one)."""

    OP: ClassVar[str] = "upsert_node"
    id: str
    labels: tuple[str, ...] = ()
    props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UpsertEdge:
    """Create or update the edge (src, dst, type) and set its ``props`` (``None`` removes one)."""

    OP: ClassVar[str] = "upsert_edge"
    src: str
    dst: str
    type: str = ""
    props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeleteEdge:
    """Delete the edge (src, dst, type)."""

    OP: ClassVar[str] = "delete_edge"
    src: str
    dst: str
    type: str = ""


@dataclass(frozen=True, slots=True)
class DeleteNode:
    """Delete the node ``id``."""

    OP: ClassVar[str] = "delete_node"
    id: str


Op: TypeAlias = UpsertNode | UpsertEdge | DeleteEdge | DeleteNode


@dataclass(frozen=True, slots=True)
class Chunk:
    """One accepted input message: its ops in order, its chunk id and its encoding."""

    chunk_id: str | None
    items: tuple[Op, ...]
    encoding: Encoding


def op_to_wire(op: Op) -> dict[str, Any]:
    """The wire map for ``op``; empty labels, props and edge type are left out."""
    wire: dict[str, Any] = {"op": op.OP}
    if isinstance(op, UpsertNode | DeleteNode):
        wire["id"] = op.id
    else:
        wire["src"] = op.src
        wire["dst"] = op.dst
        if op.type:
            wire["type"] = op.type
    if isinstance(op, UpsertNode) and op.labels:
        wire["labels"] = list(op.labels)
    if isinstance(op, UpsertNode | UpsertEdge) and op.props:
        wire["props"] = dict(op.props)
    return wire


def chunk_to_wire(items: Iterable[Op], chunk_id: str | None = None) -> dict[str, Any]:
    """The wire map of a chunk holding ``items`` (``chunk_id`` left out when ``None``)."""
    wire: dict[str, Any] = {"items": [op_to_wire(op) for op in items]}
    if chunk_id is not None:
        wire["chunk_id"] = chunk_id
    return wire
