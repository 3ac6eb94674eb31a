"""Fault injection and measurement helpers for the reliability suite.

- :func:`scale` reads ``PROJECT_ENGINE_RELIABILITY`` (``long`` scales sizes up).
- :class:`StatsProbe` sends a ``stats`` query every 0.25 s and records when answers arrive,
  giving the longest gap without an answer (the unavailability window) and latencies.
- :class:`RssSampler` samples a process's resident set size from ``/proc/<pid>/status``.
- :func:`topic_records`, :func:`end_offsets`, :func:`group_lag` read topics and offsets.
- :func:`hostile_inputs` / :func:`hostile_queries` generate malformed messages, seeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import Engine
from schemas.settings import Settings
from tests.support.malformed import MALFORMED_INPUTS

__all__ = [
    "REPORTED",
    "RssSampler",
    "StatsProbe",
    "end_offsets",
    "group_lag",
    "hostile_inputs",
    "hostile_queries",
    "report",
    "rss_kib",
    "scale",
    "topic_records",
    "unrouted_inputs",
]

SCALE_ENV = "PROJECT_ENGINE_RELIABILITY"


def scale() -> str:
    """``long`` when the on-demand long version is asked for, else ``short``."""
    return "long" if os.environ.get(SCALE_ENV, "").strip().lower() == "long" else "short"


def scenario_timeout() -> pytest.MarkDecorator:
    """A per-test timeout fitting the version that runs (long runs take many minutes)."""
    return pytest.mark.timeout(3600 if scale() == "long" else 600)


#: Every summary line of this session, printed at its end (tests/reliability/conftest.py).
REPORTED: list[str] = []


def report(record_property: Any, scenario: str, figures: dict[str, Any]) -> str:
    """Print a one-line summary of what a scenario survived and attach it to the report."""
    parts = ", ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
    line = f"[reliability:{scenario}:{scale()}] {parts}"
    print(f"\n{line}")
    REPORTED.append(line)
    for key, value in figures.items():
        record_property(f"{scenario}.{key}", value)
    return line


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# -- availability -------------------------------------------------------------------------


@dataclass
class StatsProbe:
    """Sends ``stats`` every ``interval`` seconds without waiting for earlier answers."""

    engine: Engine
    interval: float = 0.25
    query_timeout: float = 60.0
    answered_at: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    sent: int = 0
    _task: asyncio.Task[None] | None = None
    _pending: set[asyncio.Task[None]] = field(default_factory=set)
    _started: float = 0.0
    _stopped: float = 0.0

    def start(self) -> StatsProbe:
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            task = asyncio.create_task(self._one())
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            self.sent += 1
            await asyncio.sleep(self.interval)

    async def _one(self) -> None:
        asked = time.monotonic()
        try:
            await self.engine.query({"type": "stats"}, timeout=self.query_timeout)
        except Exception:
            self.failures += 1
            return
        now = time.monotonic()
        self.answered_at.append(now)
        self.latencies.append(now - asked)

    async def stop(self, drain: float = 5.0) -> None:
        self._stopped = time.monotonic()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=drain)
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    def longest_gap(self, since: float | None = None, until: float | None = None) -> float:
        """Longest time without an answer between ``since`` and ``until`` (probe start/stop)."""
        lo = self._started if since is None else since
        hi = self._stopped if until is None else until
        marks = [lo, *sorted(t for t in self.answered_at if lo <= t <= hi), hi]
        return max(b - a for a, b in itertools.pairwise(marks))

    def max_latency(self) -> float:
        return max(self.latencies) if self.latencies else float("inf")


# -- memory -------------------------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB, None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


@dataclass
class RssSampler:
    """Samples the RSS of one process every ``interval`` seconds."""

    pid: int
    interval: float = 0.5
    samples: list[tuple[float, int]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> RssSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            value = rss_kib(self.pid)
            if value is not None:
                self.samples.append((time.monotonic(), value))
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def peak_kib(self) -> int:
        return max((v for _, v in self.samples), default=0)


# -- topics and offsets -------------------------------------------------------------------


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> end offset of ``topic``."""
    from project_engine.sdk.log_io import end_offsets as log_end_offsets

    return dict(await log_end_offsets(settings, topic))


async def topic_records(settings: Settings, topic: str, *, timeout: float = 60.0) -> list[Any]:
    """Every record of ``topic`` up to its end offsets at call time."""
    ends = await end_offsets(settings, topic)
    want = {p: e for p, e in ends.items() if e > 0}
    if not want:
        return []
    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4_194_304,
        fetch_max_bytes=16_777_216,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        tps = [TopicPartition(topic, p) for p in want]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        done: set[int] = set()
        while len(done) < len(want) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5_000)
            for tp, msgs in batch.items():
                records.extend(m for m in msgs if m.offset < want[tp.partition])
            for tp in tps:
                if tp.partition not in done and await consumer.position(tp) >= want[tp.partition]:
                    done.add(tp.partition)
    finally:
        await consumer.stop()
    return records


async def group_lag(settings: Settings, group: str, topics: list[str]) -> dict[str, int]:
    """Per topic: end offsets minus the group's committed offsets, summed over partitions."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    lag: dict[str, int] = {}
    for topic in topics:
        ends = await end_offsets(settings, topic)
        total = 0
        for p, end in ends.items():
            meta = committed.get(TopicPartition(topic, p))
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            total += max(0, end - done)
        lag[topic] = total
    return lag


# -- hostile input ------------------------------------------------------------------------

_DOC_STARTS = b'{["-tfn0123456789'


def _pack(doc: Any, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return json.dumps(doc).encode()
    return msgpack.packb(doc, use_bin_type=True)  # type: ignore[no-any-return]


def _control_id(rng: random.Random) -> str:
    pos = rng.randrange(1, 6)
    ch = chr(rng.choice([*range(0, 32), 127]))
    return "id" + "x" * pos + ch + "y"


def _hostile_input(rng: random.Random, kind: int, i: int) -> tuple[str, bytes]:
    ok = {"op": "upsert_node", "id": f"ok{i}"}
    if kind == 0:  # random bytes that neither JSON nor msgpack accepts (0xc1 is never used)
        return "random bytes", b"\xc1" + rng.randbytes(rng.randrange(0, 200))
    if kind == 1:  # random bytes after a JSON-looking start
        start = bytes([rng.choice(_DOC_STARTS)])
        return "json-ish garbage", start + b"\xff" + rng.randbytes(rng.randrange(1, 100))
    if kind == 2:  # truncated msgpack of a valid chunk
        raw = msgpack.packb({"chunk_id": f"t{i}", "items": [ok] * rng.randrange(1, 5)})
        return "truncated msgpack", raw[: rng.randrange(1, len(raw) - 1)]
    if kind == 3:  # invalid UTF-8 inside JSON
        return "invalid utf-8", b'{"op": "upsert_node", "id": "' + bytes([0xFF, 0xFE]) + b'"}'
    if kind == 4:  # deep nesting
        depth = rng.randrange(20, 3000)
        opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
        return "deep nesting", opener * depth + b"1" + closer * depth
    if kind == 5:  # wrong types of required fields
        op = rng.choice(
            [
                {"op": "upsert_node", "id": rng.choice([[1], {"a": 1}, 1.5, None])},
                {"op": "upsert_edge", "src": "a", "dst": rng.choice([[1], 2.5, None]), "type": "T"},
                {"op": "upsert_node", "id": "a", "labels": rng.choice([5, "x", [1], [""]])},
                {"op": "upsert_node", "id": "a", "props": rng.choice([[1], "p", 3])},
                {"op": "upsert_edge", "src": "a", "dst": "b", "type": rng.choice([5, ["T"]])},
            ]
        )
        return "wrong types", _pack(op, rng)
    if kind == 6:  # unknown ops
        return "unknown op", _pack({"op": f"op{rng.randrange(10**6)}", "id": "a"}, rng)
    if kind == 7:  # ids with control characters, at a random position of a chunk
        items: list[Any] = [ok] * rng.randrange(0, 5)
        items.insert(rng.randrange(len(items) + 1), {"op": "delete_node", "id": _control_id(rng)})
        return "control char id", _pack({"chunk_id": f"cc{i}", "items": items}, rng)
    if kind == 8:  # unknown fields
        return "unknown field", _pack({"op": "delete_node", "id": "a", f"f{i}": 1}, rng)
    if kind == 9:  # not an op at all
        doc = rng.choice(["text", 12, 1.5, True, None, {"x": 1}, {"chunk_id": 3, "items": []}])
        return "not an op", _pack(doc, rng)
    if kind == 10:  # too-long ids
        return "long id", _pack({"op": "delete_node", "id": "z" * rng.randrange(257, 5000)}, rng)
    if kind == 11:  # oversized props
        blob = "p" * rng.randrange(16_400, 60_000)
        return "oversized props", _pack({"op": "upsert_node", "id": "a", "props": {"b": blob}}, rng)
    if kind == 12:  # too many items
        return "oversized chunk", _pack({"chunk_id": f"big{i}", "items": [ok] * 10_001}, rng)
    # kind == 13: a huge string: the raw message is larger than max_message_bytes
    return "huge string", _pack({"op": "upsert_node", "id": "h" * 1_000_100}, rng)


def hostile_inputs(count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` malformed input messages: the fixed corpus first, then seeded variations.

    Messages over 1 MB (kind 13) and oversized chunks (kind 12) are rare, to keep the
    volume moderate; every message is invalid by construction.
    """
    rng = random.Random(seed)
    fixed = [(name, raw) for name, raw, _, _ in MALFORMED_INPUTS]
    for i in range(count):
        if i < len(fixed):
            yield fixed[i]
            continue
        r = rng.random()
        kind = 13 if r < 0.002 else 12 if r < 0.006 else 11 if r < 0.02 else rng.randrange(11)
        yield _hostile_input(rng, kind, i)


def hostile_queries(count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` malformed queries: undecodable, unknown types, bad or missing arguments."""
    rng = random.Random(seed)
    for i in range(count):
        kind = rng.randrange(8)
        if kind == 0:
            yield "random bytes", b"\xc1" + rng.randbytes(rng.randrange(0, 120))
        elif kind == 1:
            raw = msgpack.packb({"type": "node", "id": "a", "query_id": f"bq{i}"})
            yield "truncated msgpack", raw[: rng.randrange(1, len(raw) - 1)]
        elif kind == 2:
            yield (
                "unknown type",
                _pack({"type": f"t{rng.randrange(10**6)}", "query_id": f"bq{i}"}, rng),
            )
        elif kind == 3:
            yield "missing id", _pack({"type": "node", "query_id": f"bq{i}"}, rng)
        elif kind == 4:
            depth = rng.choice([0, 11, 50, -3, "x", 2.5])
            yield (
                "bad depth",
                _pack({"type": "khop", "id": "a", "depth": depth, "query_id": f"bq{i}"}, rng),
            )
        elif kind == 5:
            yield "unknown argument", _pack({"type": "stats", "oops": 1, "query_id": f"bq{i}"}, rng)
        elif kind == 6:
            yield (
                "control char id",
                _pack({"type": "node", "id": _control_id(rng), "query_id": f"bq{i}"}, rng),
            )
        else:
            yield "not a map", _pack(rng.choice([[1, 2], "stats", 7, None]), rng)


def require(condition: bool, message: str) -> None:
    """``assert`` that survives ``python -O``."""
    if not condition:
        pytest.fail(message)


async def wait_ready(engine: Engine, worker: Any, timeout: float = 90.0) -> None:
    """Wait until the engine answers ``stats``; fail with the worker's log otherwise."""
    from tests.support.workers import eventually

    answer = await eventually(
        lambda: engine.query({"type": "stats"}, timeout=5),
        lambda v: isinstance(v, dict),
        timeout=timeout,
    )
    require(isinstance(answer, dict), f"worker never answered: {answer!r}\n{worker.log_tail()}")


async def spot_check(engine: Engine, ref: Any, ids: list[str]) -> int:
    """Compare ``node`` answers for ``ids`` with the reference; returns how many were checked."""
    for node_id in ids:
        got = await engine.query({"type": "node", "id": node_id}, timeout=30)
        want = ref.node(node_id)
        require(got == want, f"node {node_id!r}: engine {got!r} != reference {want!r}")
    return len(ids)


def _assigned_partitions_sync(web_port: int) -> int | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=3) as page:
            text = page.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("engine_assigned_partitions"):
            return int(float(line.split()[-1]))
    return None


async def assigned_partitions(worker: Any) -> int | None:
    """The graph partitions a worker holds, from its ``/metrics`` page (None if no answer)."""
    if worker.web_port is None or not worker.alive:
        return None
    return await asyncio.to_thread(_assigned_partitions_sync, worker.web_port)


async def unrouted_inputs(settings: Settings) -> list[tuple[int, int]]:
    """Input (partition, offset) pairs that reached neither the apply topic nor the error topic.

    Every input message must end as apply parts (each names its source) or as an error
    event (which names its source offset); anything else was lost on the way.
    """
    from pipeline.steps import decode_part

    topics = settings.topics
    inputs = await topic_records(settings, topics.input)
    seen: set[tuple[int, int]] = set()
    for record in await topic_records(settings, topics.apply):
        with contextlib.suppress(ValueError):
            _, partition, offset = decode_part(record.value).source
            seen.add((partition, offset))
    for record in await topic_records(settings, topics.errors):
        event = _decoded(record.value)
        if isinstance(event, dict) and event.get("topic") == topics.input:
            seen.add((int(event["partition"]), int(event["offset"])))
    return sorted({(r.partition, r.offset) for r in inputs} - seen)


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return msgpack.unpackb(raw, raw=False)
