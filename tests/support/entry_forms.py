"""The container form :mod:`pipeline.entries` gives a node's entries, from the entries alone."""

from __future__ import annotations

from collections.abc import Collection

from pipeline.entries import SMALL

__all__ = ["expected_form"]


def expected_form(types: Collection[str], hashed: type) -> type:
    """The class holding entries of ``types`` (one per entry): ``hashed`` (set or dict)
    beyond :data:`SMALL` entries, a tuple when they share one type, else a list."""
    if len(types) > SMALL:
        return hashed
    return tuple if len(set(types)) == 1 else list
