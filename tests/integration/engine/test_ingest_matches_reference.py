"""Ingest through real Kafka and a real worker ends in exactly the reference graph."""

from __future__ import annotations

import json
import random
from typing import Any

import msgpack
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import Engine
from schemas.settings import Settings
from tests.support.graphs import conflict_free_edges, hub_edges, reference_of
from tests.support.reference import ReferenceGraph, reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = pytest.mark.integration


async def publish_raw(settings: Settings, ops: list[dict[str, Any]], encoding: str) -> None:
    """Publish chunks the way a client in another language would: plain producer, no SDK."""
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks="all")
    await producer.start()
    try:
        for i in range(0, len(ops), 500):
            chunk = {"chunk_id": f"raw-{encoding}-{i}", "items": ops[i : i + 500]}
            if encoding == "json":
                value = json.dumps(chunk).encode()
            else:
                value = msgpack.packb(chunk, use_bin_type=True)
            await producer.send_and_wait(settings.topics.input, value, key=f"k{i}".encode())
    finally:
        await producer.stop()


async def assert_engine_equals(engine: Engine, ref: ReferenceGraph, sample: list[str]) -> None:
    expected = reference_digest(ref)
    got = await eventually(
        lambda: engine.query({"type": "digest"}, timeout=20), lambda v: v == expected
    )
    assert got == expected
    assert await engine.query({"type": "stats"}) == ref.stats()
    for node_id in sample:
        assert await engine.query({"type": "node", "id": node_id}) == ref.node(node_id), node_id


async def test_worker_joins_its_consumer_group(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        groups = await admin.describe_consumer_groups([settings.app_id])
    finally:
        await admin.close()
    described = groups[0].groups[0] if hasattr(groups[0], "groups") else groups[0]
    text = repr(described)
    assert settings.app_id in text and "Stable" in text, text


async def test_sdk_and_raw_publishers_in_both_encodings_build_the_reference_graph(
    engine: Engine, settings: Settings
) -> None:
    uniform = conflict_free_edges(3_000, 6_000, seed=1, prefix="u")
    skewed = conflict_free_edges(500, 4_000, seed=2, prefix="s")
    raw_json = conflict_free_edges(800, 2_000, seed=3, prefix="j")
    raw_msgpack = conflict_free_edges(800, 2_000, seed=4, prefix="m")
    hub = hub_edges("hub", 50_500, prefix="leaf")
    labels = [
        {"op": "upsert_node", "id": f"u{i}", "labels": ["U"], "props": {"i": i}}
        for i in range(0, 3_000, 7)
    ]

    summary = await engine.add_graph(uniform + labels, wait=True, timeout=180, ordered=False)
    assert summary.items == len(uniform) + len(labels) and not summary.failed
    await engine.add_graph(skewed, wait=True, timeout=180)
    await engine.add_graph(hub, wait=True, timeout=300, ordered=False, chunk_size=2_000)
    await publish_raw(settings, raw_json, "json")
    await publish_raw(settings, raw_msgpack, "msgpack")

    rng = random.Random(5)
    deletes: list[dict[str, Any]] = [
        {"op": "delete_node", "id": f"u{rng.randrange(3_000)}"} for _ in range(100)
    ]
    deletes += [
        {k: e[k] for k in ("op", "src", "dst", "type")} | {"op": "delete_edge"}
        for e in rng.sample(skewed, 300)
    ]
    deletes += [
        {"op": "delete_node", "id": "leaf7"},
        {"op": "delete_edge", "src": "hub", "dst": "leaf8", "type": "H"},
    ]
    relabel = {"op": "upsert_node", "id": "u1", "labels": ["Again"], "props": {"i": None, "x": 1}}
    reupserts = [*rng.sample(uniform, 200), relabel]
    ref = reference_of(uniform + labels, skewed, hub, raw_json, raw_msgpack)
    # Deletes and re-upserts go after everything else is applied: wait for it first.
    await assert_engine_equals(engine, ref, ["hub", "leaf0"])
    await engine.add_graph(deletes, wait=True, timeout=120)
    await engine.add_graph(reupserts, wait=True, timeout=120)
    ref = reference_of(uniform + labels, skewed, hub, raw_json, raw_msgpack, deletes, reupserts)

    sample = ["hub", "leaf7", "leaf8", "u1", *(f"u{rng.randrange(3_000)}" for _ in range(60))]
    sample += [f"s{rng.randrange(500)}" for _ in range(30)] + ["j1", "m1", "nobody"]
    await assert_engine_equals(engine, ref, sample)
    assert ref.stats()["edges"] >= 60_000
