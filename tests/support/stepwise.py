"""Driving work that yields between its steps (generators), counting the steps."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

T = TypeVar("T")


def drive(steps: Generator[Any, None, T]) -> tuple[T, int]:
    """The generator's result and how many times it paused."""
    pauses = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: T = done.value
            return result, pauses
        pauses += 1
