"""Streams see every result and error once, in order, with bounded memory; replay, export and
import rebuild the live graph (or its state at a past time) in a fresh namespace."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiokafka import AIOKafkaProducer

from project_engine.commands.digest import fetch_digest, print_digest
from project_engine.commands.export import export_topic
from project_engine.commands.import_log import import_file
from project_engine.commands.replay import ReplayOptions, replay
from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import Engine, QueryError, StreamItem, open_stream
from project_engine.sdk.log_io import end_offsets
from project_engine.sdk.log_records import read_records
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.keyed_log import (
    by_partition,
    collect,
    create_topic,
    publish_two_batches,
    records_since,
)
from tests.support.malformed import MALFORMED_INPUTS
from tests.support.workers import WorkerProcess, eventually

pytestmark = pytest.mark.integration


async def test_streams_deliver_every_result_and_error_once_in_partition_order(
    engine: Engine, settings: Settings
) -> None:
    await asyncio.sleep(2)  # late answers to the fixture's start-up probes land first
    late = settings.topic_prefix + "late-topic"  # created while the stream runs
    topics = (settings.topics.results, settings.topics.errors, settings.topics.matches, late)
    before = {t: await end_offsets(settings, t) for t in topics[:3]}
    iterated = await engine.create_stream(topics=topics)
    seen: list[StreamItem] = []
    reading = asyncio.create_task(collect(iterated, seen))
    handled: list[StreamItem] = []
    handled_errors: list[Any] = []

    async def on_error(x: Any) -> None:
        handled_errors.append(x)

    pushed = (await engine.create_stream(("results", "errors"))).on("data", handled.append)
    pushed.on("error", on_error)
    good = [{"type": "node", "id": f"n{i}"} for i in range(80)] + [{"type": "stats"}] * 20
    bad_queries = [{"type": "no-such-type", "query_id": f"bad-{i}"} for i in range(10)]
    await engine.add_graph([{"op": "upsert_node", "id": f"n{i}"} for i in range(20)], wait=True)

    async def steady_queries() -> None:
        for i in range(0, len(good), 4):
            await asyncio.gather(*(engine.query(q) for q in good[i : i + 4]))
            await asyncio.sleep(0.1)

    querying = asyncio.create_task(steady_queries())  # results flow while topics change
    await asyncio.sleep(1)
    await create_topic(settings, late)
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks="all")
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(late, json.dumps({"late": i}).encode(), partition=0)
        await querying
        for q in bad_queries:
            with pytest.raises(QueryError):
                await engine.query(q)
        for i, (_, raw, _, _) in enumerate(MALFORMED_INPUTS[:8]):
            await producer.send_and_wait(settings.topics.input, raw, key=f"bad{i}".encode())
    finally:
        await producer.stop()
    want = {"results": len(good) + len(bad_queries), "errors": len(bad_queries) + 8, late: 3}

    async def all_seen() -> bool:
        kinds = [i.kind for i in seen]
        return all(kinds.count(k) >= n for k, n in want.items())

    await eventually(all_seen, bool, timeout=90)
    await asyncio.sleep(2)  # duplicates would show up here
    reading.cancel()
    await iterated.close()
    await pushed.close()

    truth = {t: await records_since(settings, t, before.get(t, {})) for t in topics}
    assert [len(truth[t]) for t in (topics[1], late)] == [want["errors"], want[late]]
    assert len(truth[settings.topics.results]) >= want["results"]
    expected = [(r.topic, r.partition, r.offset) for t in topics for r in truth[t]]
    pushed_items = handled + [e for e in handled_errors if isinstance(e, StreamItem)]
    pushed_expected = [c for c in expected if c[0] in topics[:2]]
    for got, among in ((seen, expected), (pushed_items, pushed_expected)):
        coords = [(i.topic, i.partition, i.offset) for i in got]
        assert len(coords) == len(set(coords)), "an item was delivered twice"
        assert set(coords) == set(among)
        assert by_partition(coords) == by_partition(among), "out of partition order"
    assert all(isinstance(e, StreamItem) and e.kind == "errors" for e in handled_errors)
    assert {i.key for i in handled} >= {q["query_id"] for q in bad_queries}
    assert [i.value["late"] for i in seen if i.kind == late] == [0, 1, 2]
    codes = {i.value["code"] for i in seen if i.kind == "errors"}
    assert {"undecodable", "unknown_query_type"} <= codes


async def test_a_slow_stream_reader_keeps_memory_bounded_while_the_producer_runs_ahead(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    total, bound = 200_000, 1000
    stream = await open_stream(settings, kinds=("results",), buffer_size=bound)
    consumed = 0
    peak_buffered = 0

    async def slow_reader() -> None:
        nonlocal consumed, peak_buffered
        async for _ in stream:
            consumed += 1
            peak_buffered = max(peak_buffered, stream.buffered + 1)
            await asyncio.sleep(0.002)

    reader = asyncio.create_task(slow_reader())
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks=1, linger_ms=20)
    await producer.start()
    pad = "x" * 300
    rss = psutil.Process().memory_info

    async def produce(start: int, stop: int) -> None:
        for low in range(start, stop, 5000):
            futures = []
            for i in range(low, min(low + 5000, stop)):
                doc = {"query_id": f"q{i}", "status": "ok", "result": {"i": i, "pad": pad}}
                futures.append(
                    await producer.send(settings.topics.results, json.dumps(doc).encode())
                )
            await asyncio.gather(*futures)

    try:
        await produce(0, 5000)
        await asyncio.sleep(2)
        gc.collect()
        baseline = peak = rss().rss
        started = time.monotonic()
        producing = asyncio.create_task(produce(5000, total))
        while not producing.done():
            peak = max(peak, rss().rss)
            await asyncio.sleep(0.05)
        await producing
        produce_seconds = time.monotonic() - started
        for _ in range(40):
            peak = max(peak, rss().rss)
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()
        reader.cancel()
        await stream.close()
    growth_mb = (peak - baseline) / 2**20
    print(
        f"\nproduced {total} in {produce_seconds:.1f} s; slow reader consumed {consumed}; "
        f"buffer peak {stream.max_buffered}/{bound}, {stream.pauses} pauses; "
        f"RSS growth {growth_mb:.1f} MiB"
    )
    assert stream.max_buffered <= bound and peak_buffered <= bound
    assert stream.pauses > 0
    assert consumed < total // 4, "the reader was not slow: nothing was held back"
    assert growth_mb < 40, f"RSS grew by {growth_mb:.1f} MiB"


async def live_digest(engine: Engine, expected: dict[str, Any]) -> dict[str, Any]:
    got = await eventually(
        lambda: engine.query({"type": "digest"}, timeout=20), lambda v: v == expected
    )
    assert got == expected
    return dict(got)


async def test_replay_rebuilds_the_live_graph_and_up_to_a_time_the_graph_of_then(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    before, after, boundary = await publish_two_batches(settings)
    live = await live_digest(engine, after)
    assert before != after
    live_ends = await end_offsets(settings, settings.topics.input)
    for name, until, expected in (("r1-", None, live), ("r2-", boundary, before)):
        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        options = ReplayOptions(
            into=settings.topic_prefix + name, until_ms=until, data_dir=tmp_path / name, timeout=180
        )
        code = await replay(settings, options, out=out, err=err)
        print(
            f"\nreplay {name} until={until}: {time.monotonic() - started:.1f} s\n{err.getvalue()}"
        )
        assert code == 0, err.getvalue()
        assert json.loads(out.getvalue()) == expected
    assert await end_offsets(settings, settings.topics.input) == live_ends
    shown = io.StringIO()
    assert await print_digest(settings, out=shown) == 0
    assert json.loads(shown.getvalue()) == live


async def test_export_then_import_into_a_fresh_namespace_rebuilds_the_same_graph(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _, after, _ = await publish_two_batches(settings)
    live = await live_digest(engine, after)
    files = {fmt: tmp_path / f"input.{fmt}" for fmt in ("jsonl", "msgpack")}
    for fmt, path in files.items():
        with path.open("wb") as f:
            code = await export_topic(settings, settings.topics.input, f, fmt, err=io.StringIO())
            assert code == 0
    with files["jsonl"].open("rb") as a, files["msgpack"].open("rb") as b:
        exported = sorted(read_records(a), key=lambda r: r.partition)  # stable: offset order
        assert exported == sorted(read_records(b), key=lambda r: r.partition)
    assert len(exported) == 4 * 2 * 12 + 1
    offsets = by_partition([(r.topic, r.partition, r.offset) for r in exported])
    assert all(v == sorted(v) for v in offsets.values())

    target = settings.replace(
        topic_prefix=settings.topic_prefix + "imp-",
        app_id=settings.app_id + "-imp",
        data_dir=tmp_path / "imp",
    )
    with files["msgpack"].open("rb") as f:
        assert await import_file(target, f, out=io.StringIO(), err=io.StringIO()) == 0
    copied = await records_since(target, target.topics.input, {})
    strip = [(r.partition, r.key, r.value, r.headers) for r in exported]
    assert sorted(strip, key=lambda x: x[0]) == [
        (r.partition, r.key, r.value, r.headers) for r in sorted(copied, key=lambda r: r.partition)
    ]
    worker = WorkerProcess(target, name="imported").start()
    try:
        got = await eventually(
            lambda: fetch_digest(target, timeout=10), lambda v: v == live, timeout=120
        )
        assert got == live, worker.log_tail()
    finally:
        worker.stop()


async def test_streams_sharing_a_group_split_the_partitions_and_resume_from_commits(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    topic, group = settings.topics.results, f"{settings.app_id}-readers"
    first = await open_stream(settings, kinds=("results",), group_id=group, start="earliest")
    second = await open_stream(settings, kinds=("results",), group_id=group, start="earliest")
    got: dict[str, list[StreamItem]] = {"first": [], "second": []}
    readers = [
        asyncio.create_task(collect(first, got["first"])),
        asyncio.create_task(collect(second, got["second"])),
    ]

    async def send(start: int, stop: int) -> None:
        producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks="all")
        await producer.start()
        try:
            for i in range(start, stop):
                await producer.send(topic, json.dumps({"i": i}).encode(), key=f"k{i}".encode())
            await producer.flush()
        finally:
            await producer.stop()

    def values(name: str) -> list[int]:
        return [item.value["i"] for item in got[name]]

    async def delivered() -> int:
        return len(got["first"]) + len(got["second"])

    await send(0, 200)
    await eventually(delivered, lambda n: n >= 200, timeout=60)
    readers[0].cancel()
    await first.close()  # commits what it delivered; its partitions move to the second
    await asyncio.sleep(1)
    assert sorted(values("first") + values("second")) == list(range(200))
    assert values("first") and values("second"), "one member got every partition"
    parts = {n: {i.partition for i in got[n]} for n in got}
    assert not parts["first"] & parts["second"]

    before = len(got["second"])
    await send(200, 260)
    await eventually(delivered, lambda n: n >= 260, timeout=60)
    await asyncio.sleep(2)
    readers[1].cancel()
    await second.close()
    assert sorted(values("second")[before:]) == list(range(200, 260)), "re-read or lost records"
