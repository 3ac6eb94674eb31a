"""The per-node containers of a graph partition: flat lists while small, hashed when large.

Most nodes have a few edges, a few hubs have millions. A set of pairs costs a tuple (56
bytes) per entry plus a sparse table; a dict keyed by pairs the same. So a node's entries
live in one flat list while there are at most :data:`SMALL` of them (8 bytes per field,
nothing per entry), and in a set or dict beyond that, where a hub's lookups stay O(1):

- :data:`PairEntries` (in entries and both reverse indexes): pair ``(type, node)`` as two
  list items ``type, node``; more than :data:`SMALL` pairs: a set of tuples.
- :data:`OutEntries` (out entries): ``(type, dst) -> props`` as three list items
  ``type, dst, props``; more than :data:`SMALL`: a dict keyed by ``(type, dst)``.

The form is a function of the count alone (a list exactly while the count is at most
:data:`SMALL`, also after deletes), so two partitions with the same entries have the same
layout however they were built. The order of a list means nothing. A lookup in a list
searches the entries' node ids (a slice of the list) at C speed, where ids are interned, so
a match is usually an identity check, and then confirms the type. ``None`` stands for a node
without entries everywhere a container is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "SMALL",
    "OutEntries",
    "PairEntries",
    "out_add",
    "out_count",
    "out_counts",
    "out_get",
    "out_items",
    "out_pairs",
    "out_pop",
    "out_put",
    "pairs",
    "pairs_add",
    "pairs_count",
    "pairs_counts",
    "pairs_discard",
    "pairs_has",
    "pairs_insert",
]

SMALL = 32
"""Entries a flat list holds; one more turns it into a set (pairs) or dict (out entries)."""

PairEntries = list[str] | set[tuple[str, str]]
OutEntries = list[Any] | dict[tuple[str, str], bytes]


def _find(flat: list[Any], etype: str, node: str, width: int) -> int:
    """Index of the entry ``(etype, node, ...)`` in a flat list of ``width``-item entries, or -1."""
    ends = flat[1::width]  # the node of every entry: no type or props compared below
    if node not in ends:  # the usual miss, without raising ValueError
        return -1
    index = ends.index
    at = index(node)
    while True:
        if flat[at * width] == etype:
            return at * width
        try:
            at = index(node, at + 1)
        except ValueError:
            return -1


# -- pairs: (type, node) ------------------------------------------------------------------


def pairs_count(entries: PairEntries | None) -> int:
    if entries is None:
        return 0
    return len(entries) if isinstance(entries, set) else len(entries) >> 1


def pairs_counts(containers: Iterable[PairEntries]) -> list[int]:
    """:func:`pairs_count` of each of ``containers`` (none ``None``), in order."""
    return [len(e) >> 1 if e.__class__ is list else len(e) for e in containers]


def pairs_has(entries: PairEntries | None, etype: str, node: str) -> bool:
    if entries is None:
        return False
    if isinstance(entries, set):
        return (etype, node) in entries
    return _find(entries, etype, node, 2) >= 0


def pairs(entries: PairEntries | None) -> list[tuple[str, str]]:
    """The entries as ``(type, node)`` pairs (a new list)."""
    if entries is None:
        return []
    if isinstance(entries, set):
        return list(entries)
    return list(zip(entries[::2], entries[1::2], strict=True))


def pairs_add(index: dict[str, PairEntries], key: str, etype: str, node: str) -> bool:
    """Add ``(etype, node)`` under ``key`` unless it is there; whether it was added."""
    entries = index.get(key)
    if entries is None:
        index[key] = [etype, node]
    elif isinstance(entries, set):
        size = len(entries)
        entries.add((etype, node))
        return len(entries) != size
    elif _find(entries, etype, node, 2) >= 0:
        return False
    elif len(entries) < 2 * SMALL:
        entries.append(etype)
        entries.append(node)
    else:
        index[key] = {*pairs(entries), (etype, node)}
    return True


def pairs_insert(index: dict[str, PairEntries], key: str, etype: str, node: str) -> None:
    """Add ``(etype, node)`` under ``key``, which does not hold it (no search)."""
    entries = index.get(key)
    if entries is None:
        index[key] = [etype, node]
    elif isinstance(entries, set):
        entries.add((etype, node))
    elif len(entries) < 2 * SMALL:
        entries += (etype, node)
    else:
        index[key] = {*pairs(entries), (etype, node)}


def pairs_discard(index: dict[str, PairEntries], key: str, etype: str, node: str) -> bool:
    """Remove ``(etype, node)`` from under ``key``; whether it was there."""
    entries = index.get(key)
    if entries is None:
        return False
    if isinstance(entries, set):
        if (etype, node) not in entries:
            return False
        entries.discard((etype, node))
        if len(entries) <= SMALL:
            index[key] = [s for pair in entries for s in pair]
        return True
    at = _find(entries, etype, node, 2)
    if at < 0:
        return False
    del entries[at : at + 2]
    if not entries:
        del index[key]
    return True


# -- out entries: (type, dst) -> props ----------------------------------------------------


def out_count(entries: OutEntries | None) -> int:
    if entries is None:
        return 0
    return len(entries) if isinstance(entries, dict) else len(entries) // 3


def out_counts(containers: Iterable[OutEntries]) -> list[int]:
    """:func:`out_count` of each of ``containers`` (none ``None``), in order."""
    return [len(e) // 3 if e.__class__ is list else len(e) for e in containers]


def out_get(entries: OutEntries | None, etype: str, dst: str) -> bytes | None:
    """The props of edge ``(etype, dst)``, or ``None`` if there is no such entry."""
    if entries is None:
        return None
    if isinstance(entries, dict):
        return entries.get((etype, dst))
    at = _find(entries, etype, dst, 3)
    return None if at < 0 else entries[at + 2]


def out_items(entries: OutEntries | None) -> list[tuple[str, str, bytes]]:
    """The entries as ``(type, dst, props)`` (a new list)."""
    if entries is None:
        return []
    if isinstance(entries, dict):
        return [(etype, dst, props) for (etype, dst), props in entries.items()]
    return list(zip(entries[::3], entries[1::3], entries[2::3], strict=True))


def out_pairs(entries: OutEntries | None) -> list[tuple[str, str]]:
    """The entries as ``(type, dst)`` pairs (a new list)."""
    if entries is None:
        return []
    if isinstance(entries, dict):
        return list(entries)
    return list(zip(entries[::3], entries[1::3], strict=True))


def out_put(out: dict[str, OutEntries], src: str, etype: str, dst: str, props: bytes) -> bool:
    """Set the props of ``src``'s entry ``(etype, dst)``; whether the entry is new."""
    entries = out.get(src)
    if entries is None:
        out[src] = [etype, dst, props]
        return True
    if isinstance(entries, dict):
        size = len(entries)
        entries[etype, dst] = props
        return len(entries) != size
    at = _find(entries, etype, dst, 3)
    if at >= 0:
        entries[at + 2] = props
        return False
    if len(entries) < 3 * SMALL:
        entries += (etype, dst, props)
    else:
        grown = {(t, d): p for t, d, p in out_items(entries)}
        grown[etype, dst] = props
        out[src] = grown
    return True


def out_add(out: dict[str, OutEntries], src: str, etype: str, dst: str, props: bytes) -> None:
    """Add ``src``'s entry ``(etype, dst)``, which it does not hold (no search)."""
    entries = out.get(src)
    if entries is None:
        out[src] = [etype, dst, props]
    elif isinstance(entries, dict):
        entries[etype, dst] = props
    elif len(entries) < 3 * SMALL:
        entries += (etype, dst, props)
    else:
        grown = {(t, d): p for t, d, p in out_items(entries)}
        grown[etype, dst] = props
        out[src] = grown


def out_pop(out: dict[str, OutEntries], src: str, etype: str, dst: str) -> bytes | None:
    """Remove ``src``'s entry ``(etype, dst)``; its props, or ``None`` if there was none."""
    entries = out.get(src)
    if entries is None:
        return None
    if isinstance(entries, dict):
        props = entries.pop((etype, dst), None)
        if props is not None and len(entries) <= SMALL:
            out[src] = [x for (t, d), p in entries.items() for x in (t, d, p)]
        return props
    at = _find(entries, etype, dst, 3)
    if at < 0:
        return None
    held: bytes = entries[at + 2]
    del entries[at : at + 3]
    if not entries:
        del out[src]
    return held
