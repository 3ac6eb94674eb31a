"""Splitting a stream of graph ops into chunks with ids, and turning ops into wire maps.

Ops may be given in wire form (maps with an ``op`` field) or as ``schemas.ops`` objects.
Chunks keep the input order, hold at most ``chunk_size`` ops each, and get the ids
``<client_id>-<seq>`` from a :class:`ChunkIds` counter shared by one engine.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.ops import DeleteEdge, DeleteNode, UpsertEdge, UpsertNode, op_to_wire

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Chunk",
    "ChunkIds",
    "aiter_chunks",
    "as_async_chunks",
    "iter_chunks",
    "op_to_wire_map",
]

DEFAULT_CHUNK_SIZE = 1000
_OP_CLASSES = (UpsertNode, UpsertEdge, DeleteEdge, DeleteNode)


@dataclass(frozen=True)
class Chunk:
    """One message's worth of ops, in input order; ``first_index`` is the first op's index."""

    chunk_id: str
    items: list[dict[str, Any]]
    first_index: int

    def to_wire(self) -> dict[str, Any]:
        return {"chunk_id": self.chunk_id, "items": self.items}


class ChunkIds:
    """Hands out ``<client_id>-<seq>`` ids, ``seq`` counting up from 0 per engine."""

    def __init__(self, client_id: str, start: int = 0) -> None:
        self.client_id = client_id
        self._seq = itertools.count(start)

    def next(self) -> str:
        return f"{self.client_id}-{next(self._seq)}"


def op_to_wire_map(op: Any, index: int) -> dict[str, Any]:
    """Return the wire map of ``op`` (a map with an ``op`` field or a ``schemas.ops`` object).

    Raises ``TypeError`` naming the op's index when it is neither.
    """
    if type(op) is dict or isinstance(op, Mapping):  # a plain dict skips the ABC check
        kind = op.get("op")
        if not isinstance(kind, str):
            raise TypeError(f"item {index}: a map op needs a string 'op' field, got {op!r:.200}")
        return dict(op)
    if isinstance(op, _OP_CLASSES):
        return op_to_wire(op)
    raise TypeError(
        f"item {index}: expected an op map or a schemas.ops object, got {type(op).__name__}"
    )


def _as_items(items: Iterable[Any] | Mapping[str, Any]) -> Iterable[Any]:
    # A single op map is one item, not an iterable of its keys.
    if isinstance(items, Mapping):
        return (items,)
    return items


def iter_chunks(
    items: Iterable[Any] | Mapping[str, Any], chunk_size: int, ids: ChunkIds
) -> Iterator[Chunk]:
    """Yield chunks of at most ``chunk_size`` ops, in order; consumes ``items`` lazily."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    batch: list[dict[str, Any]] = []
    first = 0
    for index, op in enumerate(_as_items(items)):
        batch.append(op_to_wire_map(op, index))
        if len(batch) == chunk_size:
            yield Chunk(ids.next(), batch, first)
            batch = []
            first = index + 1
    if batch:
        yield Chunk(ids.next(), batch, first)


async def aiter_chunks(
    items: AsyncIterable[Any], chunk_size: int, ids: ChunkIds
) -> AsyncIterator[Chunk]:
    """The asynchronous twin of :func:`iter_chunks` for async iterables of ops."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    batch: list[dict[str, Any]] = []
    first = 0
    index = 0
    async for op in items:
        batch.append(op_to_wire_map(op, index))
        index += 1
        if len(batch) == chunk_size:
            yield Chunk(ids.next(), batch, first)
            batch = []
            first = index
    if batch:
        yield Chunk(ids.next(), batch, first)


def as_async_chunks(
    items: Iterable[Any] | AsyncIterable[Any] | Mapping[str, Any], chunk_size: int, ids: ChunkIds
) -> AsyncIterator[Chunk]:
    """Chunks of a sync or async iterable of ops, as one async iterator."""
    if isinstance(items, AsyncIterable):
        return aiter_chunks(items, chunk_size, ids)
    return _wrap_sync(iter_chunks(items, chunk_size, ids))


async def _wrap_sync(chunks: Iterator[Chunk]) -> AsyncIterator[Chunk]:
    for chunk in chunks:
        yield chunk
