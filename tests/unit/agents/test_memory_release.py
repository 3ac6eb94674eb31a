"""Freed heap goes back to the OS once per burst of work, when the worker has gone idle."""

from __future__ import annotations

import sys

import pytest

from agents.memory_release import IdleTrim, malloc_trim


class _Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return 1


def test_nothing_is_trimmed_before_any_work() -> None:
    calls = _Calls()
    idle = IdleTrim(calls)
    assert not idle.check(0)
    assert not idle.check(0)
    assert calls.count == 0


def test_a_burst_is_trimmed_once_after_a_still_interval() -> None:
    calls = _Calls()
    idle = IdleTrim(calls)
    assert [idle.check(n) for n in (5, 9, 12)] == [False, False, False]  # still working
    assert idle.check(12)  # stood still for an interval
    assert not idle.check(12)  # once per burst
    assert not idle.check(12)
    assert calls.count == 1
    assert not idle.check(20)
    assert idle.check(20)  # the next burst, once idle
    assert calls.count == 2


def test_a_trim_at_once_does_not_spend_the_next_burst() -> None:
    calls = _Calls()
    idle = IdleTrim(calls)
    assert idle.now()
    assert not idle.check(3)
    assert idle.check(3)
    assert calls.count == 2


def test_without_malloc_trim_nothing_is_called_and_nothing_is_claimed() -> None:
    idle = IdleTrim(None)
    assert not idle.check(1)
    assert not idle.check(1)
    assert not idle.now()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_glibc_malloc_trim_is_found_and_runs() -> None:
    trim = malloc_trim()
    assert trim is not None
    blocks = [bytearray(4096) for _ in range(20_000)]  # malloc'd, not pymalloc
    del blocks[::2]
    assert trim() in (0, 1)  # 1: memory was released, 0: nothing to release
