"""Standing queries fire exactly the expected matches, also across a worker crash."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import Engine
from schemas.codec import decode
from schemas.settings import Settings
from tests.support.workers import WorkerProcess, eventually

pytestmark = pytest.mark.integration

PATTERNS: dict[str, dict[str, Any]] = {
    "e": {"kind": "edge", "edge_type": "KNOWS", "src_label": "P", "dst_label": "P"},
    "l": {"kind": "node_label", "label": "VIP"},
    "p": {"kind": "node_prop", "key": "status", "value": "gold"},
    "d": {"kind": "degree", "direction": "out", "threshold": 3},
    "t": {"kind": "two_hop", "first_type": "T1", "second_type": "T2"},
}


def round_ops(r: int) -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    """One scripted round and the 7 matches it must produce (standing id, binding json)."""

    def n(name: str) -> str:
        return f"{name}{r}"

    def edge(src: str, dst: str, etype: str) -> dict[str, Any]:
        return {"op": "upsert_edge", "src": n(src), "dst": n(dst), "type": etype}

    ops = [
        {"op": "upsert_node", "id": n("a"), "labels": ["P"]},
        {"op": "upsert_node", "id": n("b"), "labels": ["P"]},
        edge("a", "b", "KNOWS"),
        edge("a", "c", "KNOWS"),  # c has no label P: no match
        edge("a", "b", "KNOWS") | {"props": {"w": 1}},  # not a new edge: no match
        {"op": "upsert_node", "id": n("v"), "labels": ["VIP"], "props": {"status": "silver"}},
        {"op": "upsert_node", "id": n("v"), "labels": ["VIP"], "props": {"status": "gold"}},
        edge("h", "x1", ""),
        edge("h", "x2", ""),
        edge("h", "x3", ""),
        edge("h", "x4", ""),
        edge("a", "m", "T1"),
        edge("m", "z", "T2"),
        edge("q", "m", "T1"),
        edge("m", "y", "T1"),  # wrong second type: no match
    ]

    def key(sid: str, binding: dict[str, Any]) -> tuple[str, str]:
        return sid, json.dumps(binding, sort_keys=True)

    expected = {
        key("e", {"src": n("a"), "type": "KNOWS", "dst": n("b")}),
        key("l", {"id": n("v"), "label": "VIP"}),
        key("p", {"id": n("v"), "key": "status", "value": "gold"}),
        key("d", {"id": n("h"), "direction": "out", "threshold": 3}),
        key("d", {"id": n("a"), "direction": "out", "threshold": 3}),  # b, c and m
        key("t", {"a": n("a"), "b": n("m"), "c": n("z")}),
        key("t", {"a": n("q"), "b": n("m"), "c": n("z")}),
    }
    return ops, expected


async def read_matches(settings: Settings, want: int, timeout: float) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        settings.topics.matches, **aiokafka_kwargs(settings), auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    out.append(decode(m.value, None, max_bytes=10**7, max_depth=32)[0])
            if len({m["match_id"] for m in out}) >= want:
                await asyncio.sleep(2.0)  # anything more would be a duplicate trigger
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    out.extend(
                        decode(m.value, None, max_bytes=10**7, max_depth=32)[0] for m in msgs
                    )
                break
    finally:
        await consumer.stop()
    return out


async def test_every_pattern_kind_fires_exactly_once_per_trigger_across_a_crash(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    for sid, pattern in PATTERNS.items():
        reply = await engine.query(
            {"type": "standing_register", "standing_id": sid, "pattern": pattern}
        )
        assert reply["standing_id"] == sid
    listed = await eventually(
        lambda: engine.query({"type": "standing_list"}), lambda v: v["count"] == len(PATTERNS)
    )
    assert sorted(e["standing_id"] for e in listed["standing"]) == sorted(PATTERNS)

    ops: list[dict[str, Any]] = []
    expected: set[tuple[str, str]] = set()
    for r in range(400):
        round_ops_, round_expected = round_ops(r)
        ops += round_ops_
        expected |= round_expected
    publish = asyncio.create_task(engine.add_graph(ops, chunk_size=150))
    progress = await eventually(
        lambda: engine.query({"type": "stats"}, timeout=5),
        lambda v: v["edges"] >= 1_500,
        interval=0.1,
    )
    assert progress["edges"] >= 1_500, worker.log_tail()
    worker.kill()
    await asyncio.sleep(1.0)
    worker.start()
    summary = await publish
    assert not summary.failed

    matches = await read_matches(settings, len(expected), timeout=180)
    got = {(m["standing_id"], json.dumps(m["binding"], sort_keys=True)) for m in matches}
    assert got == expected, (sorted(expected - got)[:5], sorted(got - expected)[:5])
    by_binding: dict[tuple[str, str], set[str]] = {}
    for m in matches:
        key = (m["standing_id"], json.dumps(m["binding"], sort_keys=True))
        by_binding.setdefault(key, set()).add(m["match_id"])
    assert all(len(ids) == 1 for ids in by_binding.values()), "one trigger, one match id"
    assert all(m["chunk_id"] and m["source"]["topic"] == settings.topics.input for m in matches)

    removed = await engine.query({"type": "standing_remove", "standing_id": "l"})
    assert removed["removed"] is True
    listed = await eventually(
        lambda: engine.query({"type": "standing_list"}), lambda v: v["count"] == len(PATTERNS) - 1
    )
    assert "l" not in {e["standing_id"] for e in listed["standing"]}
