"""The per-node containers of a graph partition: flat while small, hashed when large.

Most nodes have a few edges, a few hubs have millions. A set of pairs costs a tuple (56
bytes) per entry plus a sparse table; a dict keyed by pairs the same. So a node's entries
live in one flat sequence while there are at most :data:`SMALL` of them (8 bytes per field,
nothing per entry), and in a set or dict beyond that, where a hub's lookups stay O(1). Most
nodes' edges share one type (``FOLLOWS``, ``KNOWS``), so a small container whose entries all
have the same type names it once:

- :data:`PairEntries` (in entries and both reverse indexes), pairs ``(type, node)``:
  one type: the tuple ``(type, node, node, ...)``; two or more types: the list
  ``[type, node, type, node, ...]``; more than :data:`SMALL` pairs: a set of tuples.
- :data:`OutEntries` (out entries), ``(type, dst) -> props``: one type: the tuple
  ``(type, dst, props, dst, props, ...)``; two or more: the list
  ``[type, dst, props, ...]``; more than :data:`SMALL`: a dict keyed by ``(type, dst)``.

A one-type tuple of 10 out entries takes 208 bytes where the list form took 320 (a list
object, its over-allocated item array, a type per entry). The form is a function of the
entries alone (the count, and whether one type covers them), also after deletes, so two
partitions with the same entries have the same layout however they were built. The order
of a flat container means nothing. A lookup in one searches the entries' node ids at C
speed, where ids are interned, so a match is usually an identity check; props are bytes, so
an id never matches one. ``None`` stands for a node without entries everywhere a container
is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any

__all__ = [
    "SMALL",
    "OutEntries",
    "PairEntries",
    "entry_ends",
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
    "typed_ends",
]

SMALL = 32
"""Entries a flat container holds; one more turns it into a set (pairs) or dict (out)."""

PairEntries = tuple[str, ...] | list[str] | set[tuple[str, str]]
OutEntries = tuple[Any, ...] | list[Any] | dict[tuple[str, str], bytes]

_second = itemgetter(1)


def _find(flat: list[Any], etype: str, node: str, width: int) -> int:
    """Index of entry ``(etype, node, ...)`` in a mixed list of ``width``-item entries, or -1."""
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


def _find_one_type(flat: tuple[Any, ...], node: str, width: int) -> int:
    """Index of the entry of ``node`` in a one-type tuple of ``width``-item entries (after
    the type: 1 for pairs, 2 for out entries), or -1."""
    ends = flat[1::width] if width > 1 else flat  # ids only: no props compared below
    if node not in ends:  # the usual miss, without raising ValueError
        return -1
    try:
        return flat.index(node, 1)  # an id never equals props, so this is an id's place
    except ValueError:  # only the type equals node
        return -1


def _one_type(types: list[str]) -> bool:
    return types.count(types[0]) == len(types)


# -- pairs: (type, node) ------------------------------------------------------------------


def _small_pairs(items: Iterable[tuple[str, str]]) -> PairEntries:
    """The flat container of at most :data:`SMALL` pairs (at least one)."""
    flat = [s for pair in items for s in pair]
    types = flat[::2]
    return (types[0], *flat[1::2]) if _one_type(types) else flat


def pairs_count(entries: PairEntries | None) -> int:
    if entries is None:
        return 0
    if type(entries) is tuple:
        return len(entries) - 1
    return len(entries) if isinstance(entries, set) else len(entries) >> 1


def pairs_counts(containers: Iterable[PairEntries]) -> list[int]:
    """:func:`pairs_count` of each of ``containers`` (none ``None``), in order."""
    return [
        len(e) - 1 if type(e) is tuple else len(e) >> 1 if type(e) is list else len(e)
        for e in containers
    ]


def pairs_has(entries: PairEntries | None, etype: str, node: str) -> bool:
    if entries is None:
        return False
    if isinstance(entries, tuple):
        return entries[0] == etype and _find_one_type(entries, node, 1) > 0
    if isinstance(entries, set):
        return (etype, node) in entries
    return _find(entries, etype, node, 2) >= 0


def pairs(entries: PairEntries | None) -> list[tuple[str, str]]:
    """The entries as ``(type, node)`` pairs (a new list)."""
    if entries is None:
        return []
    if isinstance(entries, tuple):
        return list(zip(repeat(entries[0]), entries[1:]))
    if isinstance(entries, set):
        return list(entries)
    return list(zip(entries[::2], entries[1::2], strict=True))


def pairs_add(index: dict[str, PairEntries], key: str, etype: str, node: str) -> bool:
    """Add ``(etype, node)`` under ``key`` unless it is there; whether it was added."""
    entries = index.get(key)
    if entries is None:
        index[key] = (etype, node)
        return True
    if type(entries) is tuple:
        if entries[0] == etype:
            if node in entries and _find_one_type(entries, node, 1) > 0:
                return False
            if len(entries) <= SMALL:
                index[key] = (*entries, node)
                return True
    elif type(entries) is list:
        if _find(entries, etype, node, 2) >= 0:
            return False
        if len(entries) < 2 * SMALL:
            entries += (etype, node)
            return True
    elif isinstance(entries, set):
        size = len(entries)
        entries.add((etype, node))
        return len(entries) != size
    _grow_pairs(index, key, entries, etype, node)
    return True


def pairs_insert(index: dict[str, PairEntries], key: str, etype: str, node: str) -> None:
    """Add ``(etype, node)`` under ``key``, which does not hold it (no search)."""
    entries = index.get(key)
    if entries is None:
        index[key] = (etype, node)
    elif isinstance(entries, set):
        entries.add((etype, node))
    else:
        _grow_pairs(index, key, entries, etype, node)


def _grow_pairs(
    index: dict[str, PairEntries], key: str, entries: PairEntries, etype: str, node: str
) -> None:
    """Add a new pair to the flat ``entries`` held under ``key``."""
    if pairs_count(entries) >= SMALL:
        index[key] = {*pairs(entries), (etype, node)}
    elif isinstance(entries, list):
        entries += (etype, node)
    elif isinstance(entries, tuple) and entries[0] == etype:
        index[key] = (*entries, node)
    else:  # a second type: the list form
        assert isinstance(entries, tuple)
        flat = [entries[0]] * (2 * len(entries) - 2)
        flat[1::2] = entries[1:]
        index[key] = [*flat, etype, node]


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
            index[key] = _small_pairs(entries)
        return True
    if isinstance(entries, tuple):
        at = _find_one_type(entries, node, 1) if entries[0] == etype else -1
        if at < 0:
            return False
        if len(entries) > 2:
            index[key] = entries[:at] + entries[at + 1 :]
        else:
            del index[key]
        return True
    at = _find(entries, etype, node, 2)
    if at < 0:
        return False
    del entries[at : at + 2]
    types = entries[::2]  # two types at least before, so not empty
    if _one_type(types):
        index[key] = (types[0], *entries[1::2])
    return True


# -- out entries: (type, dst) -> props ----------------------------------------------------


def _small_out(items: Iterable[tuple[str, str, bytes]]) -> OutEntries:
    """The flat container of at most :data:`SMALL` out entries (at least one)."""
    flat: list[Any] = [x for item in items for x in item]
    types = flat[::3]
    if not _one_type(types):
        return flat
    del flat[::3]
    return (types[0], *flat)


def out_count(entries: OutEntries | None) -> int:
    if entries is None:
        return 0
    if type(entries) is tuple:
        return len(entries) >> 1
    return len(entries) if isinstance(entries, dict) else len(entries) // 3


def out_counts(containers: Iterable[OutEntries]) -> list[int]:
    """:func:`out_count` of each of ``containers`` (none ``None``), in order."""
    return [
        len(e) >> 1 if type(e) is tuple else len(e) // 3 if type(e) is list else len(e)
        for e in containers
    ]


def out_get(entries: OutEntries | None, etype: str, dst: str) -> bytes | None:
    """The props of edge ``(etype, dst)``, or ``None`` if there is no such entry."""
    if entries is None:
        return None
    if type(entries) is tuple:
        if entries[0] != etype:
            return None
        ends = entries[1::2]
        return entries[2 + 2 * ends.index(dst)] if dst in ends else None
    if type(entries) is list:
        at = _find(entries, etype, dst, 3)
        return None if at < 0 else entries[at + 2]
    assert isinstance(entries, dict)
    return entries.get((etype, dst))


def out_items(entries: OutEntries | None) -> list[tuple[str, str, bytes]]:
    """The entries as ``(type, dst, props)`` (a new list)."""
    if entries is None:
        return []
    if isinstance(entries, tuple):
        return list(zip(repeat(entries[0]), entries[1::2], entries[2::2]))
    if isinstance(entries, dict):
        return [(etype, dst, props) for (etype, dst), props in entries.items()]
    return list(zip(entries[::3], entries[1::3], entries[2::3], strict=True))


def out_pairs(entries: OutEntries | None) -> list[tuple[str, str]]:
    """The entries as ``(type, dst)`` pairs (a new list)."""
    if entries is None:
        return []
    if isinstance(entries, tuple):
        return list(zip(repeat(entries[0]), entries[1::2]))
    if isinstance(entries, dict):
        return list(entries)
    return list(zip(entries[::3], entries[1::3], strict=True))


def out_put(out: dict[str, OutEntries], src: str, etype: str, dst: str, props: bytes) -> bool:
    """Set the props of ``src``'s entry ``(etype, dst)``; whether the entry is new."""
    entries = out.get(src)
    if entries is None:
        out[src] = (etype, dst, props)
        return True
    if type(entries) is tuple:
        if entries[0] == etype:
            ends = entries[1::2]
            if dst in ends:
                at = 2 + 2 * ends.index(dst)  # where its props are
                if entries[at] is not props:
                    out[src] = (*entries[:at], props, *entries[at + 1 :])
                return False
    elif type(entries) is list:
        at = _find(entries, etype, dst, 3)
        if at >= 0:
            entries[at + 2] = props
            return False
    elif isinstance(entries, dict):
        size = len(entries)
        entries[etype, dst] = props
        return len(entries) != size
    _grow_out(out, src, entries, etype, dst, props)
    return True


def out_add(out: dict[str, OutEntries], src: str, etype: str, dst: str, props: bytes) -> None:
    """Add ``src``'s entry ``(etype, dst)``, which it does not hold (no search)."""
    entries = out.get(src)
    if entries is None:
        out[src] = (etype, dst, props)
    elif type(entries) is tuple and entries[0] == etype and len(entries) <= 2 * SMALL:
        out[src] = (*entries, dst, props)
    elif type(entries) is list and len(entries) < 3 * SMALL:
        entries += (etype, dst, props)
    elif type(entries) is dict:
        entries[etype, dst] = props
    else:
        _grow_out(out, src, entries, etype, dst, props)


def _grow_out(
    out: dict[str, OutEntries], src: str, entries: OutEntries, etype: str, dst: str, props: bytes
) -> None:
    """Add a new entry to the flat ``entries`` held under ``src``."""
    if out_count(entries) >= SMALL:
        out[src] = {**{(t, d): p for t, d, p in out_items(entries)}, (etype, dst): props}
    elif isinstance(entries, list):
        entries += (etype, dst, props)
    elif isinstance(entries, tuple) and entries[0] == etype:
        out[src] = (*entries, dst, props)
    else:  # a second type: the list form
        assert isinstance(entries, tuple)
        flat = [entries[0]] * (3 * (len(entries) >> 1))
        flat[1::3], flat[2::3] = entries[1::2], entries[2::2]
        out[src] = [*flat, etype, dst, props]


def out_pop(out: dict[str, OutEntries], src: str, etype: str, dst: str) -> bytes | None:
    """Remove ``src``'s entry ``(etype, dst)``; its props, or ``None`` if there was none."""
    entries = out.get(src)
    if entries is None:
        return None
    if isinstance(entries, dict):
        props = entries.pop((etype, dst), None)
        if props is not None and len(entries) <= SMALL:
            out[src] = _small_out((t, d, p) for (t, d), p in entries.items())
        return props
    if isinstance(entries, tuple):
        at = _find_one_type(entries, dst, 2) if entries[0] == etype else -1
        if at < 0:
            return None
        held: bytes = entries[at + 1]
        if len(entries) > 3:
            out[src] = entries[:at] + entries[at + 2 :]
        else:
            del out[src]
        return held
    at = _find(entries, etype, dst, 3)
    if at < 0:
        return None
    held = entries[at + 2]
    del entries[at : at + 3]
    if _one_type(entries[::3]):  # two types at least before, so not empty
        out[src] = _small_out(out_items(entries))  # new: a scan holding this list reads it whole
    return held


# -- reading ends, for neighbor queries ----------------------------------------------------


def entry_ends(entries: PairEntries | OutEntries, width: int) -> Iterable[str]:
    """The other end of every entry of a container (``width``: 2 for pairs, 3 for out
    entries); flat containers give a new list, hashed ones an iterator."""
    if isinstance(entries, tuple):
        return entries[1 :: width - 1]
    if isinstance(entries, list):
        return entries[1::width]
    return map(_second, entries)


def typed_ends(entries: PairEntries | OutEntries, width: int) -> Iterator[tuple[str, str]]:
    """``(type, other end)`` of every entry of a container (``width`` as in
    :func:`entry_ends`); a set or dict is iterated lazily, so a caller that stops early
    touches only what it read."""
    if isinstance(entries, tuple):
        return zip(repeat(entries[0]), entries[1 :: width - 1])
    if isinstance(entries, list):
        return zip(entries[::width], entries[1::width], strict=True)
    return iter(entries)
