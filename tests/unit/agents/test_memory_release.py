"""Freed heap goes back to the OS once per burst of work, when the worker has gone idle."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from agents.memory_release import IdleTrim, flush_write_buffers, malloc_trim


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


class _Flushes:
    def __init__(self, databases: int) -> None:
        self.databases = databases
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return self.databases


def test_an_idle_burst_flushes_write_buffers_first_and_trims_again_at_the_next_check() -> None:
    calls, flushes = _Calls(), _Flushes(4)
    idle = IdleTrim(calls, flushes)
    assert not idle.check(7)
    assert idle.check(7) and (flushes.count, calls.count) == (1, 1)
    assert idle.check(7) and (flushes.count, calls.count) == (1, 2)  # the freed buffers
    assert not idle.check(7) and calls.count == 2
    assert not idle.check(9)  # the next burst, still working
    assert idle.check(9) and (flushes.count, calls.count) == (2, 3)


def test_a_store_without_write_buffers_is_trimmed_once() -> None:
    calls, flushes = _Calls(), _Flushes(0)
    idle = IdleTrim(calls, flushes)
    idle.check(3)
    assert idle.check(3) and not idle.check(3)
    assert (flushes.count, calls.count) == (1, 1)


def test_flush_write_buffers_moves_a_rocksdb_memtable_to_disk(tmp_path: Path) -> None:
    from faust.stores.rocksdb import RocksDBOptions

    db = RocksDBOptions(write_buffer_size=8 << 20).open(tmp_path / "p0")
    for i in range(20_000):
        db[f"o{i}".encode()] = b"\x80"
    held = db.property_int_value("rocksdb.cur-size-all-mem-tables")
    assert held > 500_000

    class _Store:
        _dbs = {0: db}

    assert flush_write_buffers(_Store()) == 1
    deadline = time.monotonic() + 10
    while (
        db.property_int_value("rocksdb.num-immutable-mem-table")
        or db.property_int_value("rocksdb.cur-size-active-mem-table") > held // 10
    ):
        assert time.monotonic() < deadline, "the memtable was not flushed"
        time.sleep(0.02)
    assert db.property_int_value("rocksdb.cur-size-all-mem-tables") < held // 10
    assert list((tmp_path / "p0").glob("*.sst"))  # written to a table file
    assert db[b"o17"] == b"\x80"
    assert flush_write_buffers(object()) == 0  # a memory store has no databases
