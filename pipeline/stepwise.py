"""Work done in steps: a generator that yields between steps and returns its result.

Whole-partition scans (a digest, ``top_degree``) read every node of a partition. A worker
runs them on its one event loop, where a scan of a large partition in one go would hold
ingest, queries and health checks for seconds; as a generator it can give the loop a turn
after each step (:func:`stepping`). :func:`run_through` runs such work to its end at once,
for callers without a loop.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TypeVar

__all__ = ["Steps", "run_through", "stepping"]

T = TypeVar("T")
Steps = Generator[None, None, T]
"""Work that yields ``None`` between its steps and returns a ``T``."""


def stepping(work: Steps[T], result: list[T]) -> Iterator[None]:
    """The steps of ``work`` as a plain iterator, which appends its result to ``result``
    when it ends."""
    result.append((yield from work))


def run_through(work: Steps[T]) -> T:
    """Run ``work`` to its end without pausing; its result."""
    result: list[T] = []
    for _ in stepping(work, result):
        pass
    return result[0]
