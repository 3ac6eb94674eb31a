"""A stream over a fake source: bounded buffering, pausing, handler routing, failures, close."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from project_engine.sdk.stream import Stream
from project_engine.sdk.stream_items import StreamItem
from schemas.settings import Settings


class FakeSource:
    """Endless records (or a scripted list), recording how it was driven."""

    def __init__(self, script: list[Any] | None = None) -> None:
        self.script = script
        self.next_offset = 0
        self.asked: list[int] = []
        self.paused = False
        self.pause_count = 0
        self.fetched_while_paused = 0
        self.delivered_offsets: list[int] = []
        self.stopped = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def fetch(self, max_records: int, timeout_ms: int) -> list[StreamItem]:
        self.asked.append(max_records)
        if self.paused:
            self.fetched_while_paused += 1
        await asyncio.sleep(0)
        if self.script is not None:
            if not self.script:
                await asyncio.sleep(timeout_ms / 1000)
                return []
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            return list(step)[:max_records]
        out = []
        for _ in range(max_records):
            out.append(StreamItem("results", "t", 0, self.next_offset, 0, None, {}))
            self.next_offset += 1
        return out

    def pause(self) -> None:
        self.paused = True
        self.pause_count += 1

    def resume(self) -> None:
        self.paused = False

    def delivered(self, item: StreamItem) -> None:
        self.delivered_offsets.append(item.offset)


def make_stream(source: FakeSource, buffer_size: int = 50) -> Stream:
    stream = Stream(Settings(), kinds=("results", "errors"), buffer_size=buffer_size)
    stream._source = source  # type: ignore[assignment]
    return stream


def rec(kind: str, offset: int) -> StreamItem:
    return StreamItem(kind, f"graph-{kind}", 0, offset, 0, None, {"n": offset})


async def test_a_slow_reader_never_lets_the_buffer_exceed_its_size_and_pauses_fetching() -> None:
    source = FakeSource()
    async with await make_stream(source, buffer_size=50).start() as stream:
        seen = []
        async for item in stream:
            seen.append(item.offset)
            assert stream.buffered <= 50
            await asyncio.sleep(0.001)
            if len(seen) == 300:
                break
    assert seen == list(range(300))
    assert stream.max_buffered == 50
    assert max(source.asked) <= 50 and source.pause_count >= 5
    assert source.fetched_while_paused == 0
    assert source.stopped and source.delivered_offsets == list(range(300))


async def test_handlers_get_data_and_errors_apart_and_handler_failures_go_to_error() -> None:
    script: list[Any] = [[rec("results", 0), rec("errors", 0), rec("results", 1)]]
    stream = make_stream(FakeSource(script))
    data: list[Any] = []
    errors: list[Any] = []

    async def on_error(x: Any) -> None:
        errors.append(x)

    def on_data(item: StreamItem) -> None:
        data.append(item.offset)
        if item.offset == 1:
            raise RuntimeError("handler broke")

    stream.on("data", on_data).on("error", on_error)
    async with await stream.start():
        for _ in range(100):
            if len(errors) == 2:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError, match="handlers"):
            await stream.__anext__()
    assert data == [0, 1]
    assert errors[0].kind == "errors"
    assert isinstance(errors[1], RuntimeError) and str(errors[1]) == "handler broke"


async def test_without_error_handlers_error_items_go_to_the_data_handlers() -> None:
    stream = make_stream(FakeSource([[rec("errors", 4)]]))
    got: list[StreamItem] = []
    stream.on("data", got.append)
    async with await stream.start():
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
    assert [(i.kind, i.offset) for i in got] == [("errors", 4)]


async def test_transient_fetch_errors_are_reported_and_fetching_goes_on() -> None:
    script: list[Any] = [KafkaConnectionError("blip"), [rec("results", 9)]]
    stream = make_stream(FakeSource(script))
    reported: list[Any] = []
    stream.on("error", reported.append)
    async with await stream.start():
        item = await stream.get(timeout=5)
    assert item is not None and item.offset == 9
    assert len(reported) == 1 and isinstance(reported[0], KafkaConnectionError)


async def test_a_permanent_failure_ends_iteration_with_it_after_the_buffered_items() -> None:
    boom = ValueError("broken")
    stream = make_stream(FakeSource([[rec("results", 0)], boom]))
    reported: list[Any] = []
    stream.on("error", reported.append)
    await stream.start()
    first = await stream.__anext__()
    assert first.offset == 0
    with pytest.raises(ValueError, match="broken"):
        await stream.__anext__()
    assert stream.failure is boom and reported == [boom]
    await asyncio.wait_for(stream.wait_closed(), 1)
    await stream.close()


async def test_close_ends_a_waiting_iteration_and_stops_the_source() -> None:
    source = FakeSource([])
    stream = await make_stream(source).start()
    waiting = asyncio.create_task(stream.get())
    await asyncio.sleep(0.02)
    await stream.close()
    assert await asyncio.wait_for(waiting, 1) is None
    assert source.stopped
    await asyncio.wait_for(stream.wait_closed(), 1)
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


def test_kinds_or_topics_may_be_one_name_and_explicit_topics_keep_known_kinds() -> None:
    assert Stream(Settings(topic_prefix="p-"), kinds="errors").topics == {
        "p-graph-errors": "errors"
    }
    mixed = Stream(Settings(topic_prefix="p-"), topics=["p-graph-results", "other"]).topics
    assert mixed == {"p-graph-results": "results", "other": "other"}
