"""The stream buffer never exceeds its capacity and signals pause at full, resume at half."""

from __future__ import annotations

import asyncio

import pytest

from project_engine.sdk.stream_items import StreamBuffer, StreamItem


def item(offset: int) -> StreamItem:
    return StreamItem("results", "t", 0, offset, 0, None, {"n": offset})


def test_free_slots_shrink_as_items_arrive_and_overfilling_is_refused() -> None:
    buf = StreamBuffer(4)
    buf.put_many([item(0), item(1), item(2)])
    assert (len(buf), buf.free, buf.full) == (3, 1, False)
    with pytest.raises(OverflowError):
        buf.put_many([item(3), item(4)])
    assert len(buf) == 3


def test_items_come_out_in_the_order_they_went_in() -> None:
    buf = StreamBuffer(10)
    buf.put_many(item(i) for i in range(5))
    out = [buf.get_nowait() for _ in range(6)]
    assert [i.offset if i else None for i in out] == [0, 1, 2, 3, 4, None]


async def test_a_full_buffer_holds_the_fetcher_until_drained_to_the_low_water_mark() -> None:
    buf = StreamBuffer(4)
    await asyncio.wait_for(buf.wait_for_room(), 1)  # not full: no wait
    buf.put_many(item(i) for i in range(4))
    assert buf.full and buf.pauses == 1
    waiter = asyncio.create_task(buf.wait_for_room())
    buf.get_nowait()  # 3 left: still above the mark (2)
    await asyncio.sleep(0.01)
    assert not waiter.done()
    buf.get_nowait()  # 2 left: resume
    await asyncio.wait_for(waiter, 1)
    assert buf.high_water == 4


async def test_readers_wait_for_items_and_get_none_once_closed_and_drained() -> None:
    buf = StreamBuffer(3)
    reader = asyncio.create_task(buf.get())
    await asyncio.sleep(0.01)
    assert not reader.done()
    buf.put_many([item(7), item(8)])
    got = await asyncio.wait_for(reader, 1)
    assert got is not None and got.offset == 7
    buf.close()
    last = await buf.get()
    assert last is not None and last.offset == 8
    assert await buf.get() is None


def test_capacity_must_be_positive_and_the_resume_mark_below_it() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StreamBuffer(0)
    assert StreamBuffer(1).resume_at == 0
    assert StreamBuffer(10, resume_at=50).resume_at == 9
