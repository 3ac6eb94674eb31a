"""Thousands of seeded malformed messages on the input and query topics, interleaved with
valid chunks and queries: the worker never dies or stalls (it keeps answering ``stats``),
every bad message gives exactly one error event and one dead-letter copy (counted by source
offset), and every valid chunk is applied (digest against the reference)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import create_project
from project_engine.topics import ensure_topics
from schemas.codec import decode
from schemas.settings import Settings
from tests.support.faults import (
    StatsProbe,
    end_offsets,
    hostile_inputs,
    hostile_queries,
    report,
    require,
    scenario_timeout,
    spot_check,
    topic_records,
    wait_ready,
)
from tests.support.graphs import conflict_free_edges, reference_of
from tests.support.reference import reference_digest
from tests.support.workers import WorkerProcess, eventually

pytestmark = [pytest.mark.integration, pytest.mark.reliability, scenario_timeout()]

# (bad input messages, bad queries)
SIZES = {"short": (8_000, 2_000), "long": (40_000, 10_000)}
BAD_PER_VALID = 20  # one valid chunk after every this many bad input messages
VALID_OPS = 50
DOCUMENTED = {
    "undecodable", "message_too_large", "too_deep", "invalid_message", "chunk_too_large",
    "invalid_op", "unknown_op", "unknown_field", "invalid_id", "invalid_label",
    "invalid_props", "props_too_large", "unknown_query_type", "bad_arguments",
}  # fmt: skip
MAX_STALL = 10.0  # seconds without a stats answer


def decode_any(raw: bytes) -> Any:
    value, _ = decode(raw, None, max_bytes=10_000_000, max_depth=64)
    return value


async def test_hostile_messages_each_give_one_error_and_one_dlq_copy_and_valid_ones_apply(
    settings: Settings, size: str, record_property: Any
) -> None:
    bad_inputs, bad_queries = SIZES[size]
    valid_count = bad_inputs // BAD_PER_VALID
    valid = conflict_free_edges(valid_count * 10, valid_count * VALID_OPS, seed=3, prefix="h")
    ref = reference_of(valid)
    expected = reference_digest(ref)
    inputs = list(hostile_inputs(bad_inputs, seed=11))
    queries = list(hostile_queries(bad_queries, seed=12))

    await ensure_topics(settings)
    worker = WorkerProcess(settings, name="hostile").start()
    engine = await create_project(settings, client_id="hostile")
    producer = AIOKafkaProducer(
        **aiokafka_kwargs(settings), acks="all", max_request_size=2_500_000, linger_ms=5
    )
    await producer.start()
    probe = StatsProbe(engine, query_timeout=30)
    started = time.monotonic()
    try:
        await wait_ready(engine, worker)
        probe.start()
        bad_sends: list[tuple[str, bytes, asyncio.Future[Any]]] = []
        q = 0
        for i, (kind, raw) in enumerate(inputs):
            bad_sends.append((kind, raw, await producer.send(settings.topics.input, raw, key=b"h")))
            if i % BAD_PER_VALID == BAD_PER_VALID - 1:
                j = i // BAD_PER_VALID
                good = {
                    "chunk_id": f"good-{j}",
                    "items": valid[j * VALID_OPS : (j + 1) * VALID_OPS],
                }
                await producer.send(settings.topics.input, json.dumps(good).encode(), key=b"h")
                for _ in range(bad_queries // valid_count):
                    if q < len(queries):
                        kind_q, raw_q = queries[q]
                        bad_sends.append(
                            (kind_q, raw_q, await producer.send(settings.topics.queries, raw_q))
                        )
                        q += 1
            if i % 200 == 0:
                await asyncio.sleep(0)
        for kind_q, raw_q in queries[q:]:
            bad_sends.append((kind_q, raw_q, await producer.send(settings.topics.queries, raw_q)))
        await producer.flush()
        sources: dict[tuple[str, int, int], str] = {}
        raw_by_source: dict[tuple[str, int, int], bytes] = {}
        for kind, raw, future in bad_sends:
            meta = await future
            sources[(meta.topic, meta.partition, meta.offset)] = kind
            raw_by_source[(meta.topic, meta.partition, meta.offset)] = raw
        total = len(sources)
        require(total == bad_inputs + bad_queries, f"{total} bad messages recorded")
        publish_s = time.monotonic() - started

        got = await eventually(
            lambda: engine.query({"type": "digest"}, timeout=30),
            lambda v: v == expected,
            timeout=300,
        )
        require(got == expected, f"digest {got!r} != {expected!r}\n{worker.log_tail()}")

        async def counts() -> tuple[int, int]:
            errs = sum((await end_offsets(settings, settings.topics.errors)).values())
            dlqs = sum((await end_offsets(settings, settings.topics.dlq)).values())
            return errs, dlqs

        seen = await eventually(counts, lambda v: min(v) >= total, timeout=300, interval=1.0)
        await asyncio.sleep(2.0)  # anything beyond the expected count would be a duplicate
        handled_s = time.monotonic() - started
        await probe.stop()
        stall = probe.longest_gap()

        events = [
            decode_any(r.value) for r in await topic_records(settings, settings.topics.errors)
        ]
        dlq = await topic_records(settings, settings.topics.dlq)
        event_sources = Counter((e["topic"], e["partition"], e["offset"]) for e in events)
        dlq_sources = Counter(
            (
                (h := {k: v.decode() for k, v in r.headers})["source-topic"],
                int(h["source-partition"]),
                int(h["source-offset"]),
            )
            for r in dlq
        )
        require(set(event_sources) == set(sources), _diff("error events", event_sources, sources))
        require(set(dlq_sources) == set(sources), _diff("dlq copies", dlq_sources, sources))
        dup_events = sum(1 for c in event_sources.values() if c > 1)
        dup_dlq = sum(1 for c in dlq_sources.values() if c > 1)
        require(dup_events == 0 and dup_dlq == 0, f"duplicates: {dup_events} events, {dup_dlq} dlq")
        codes = Counter(e["code"] for e in events)
        require(set(codes) <= DOCUMENTED, f"undocumented codes: {set(codes) - DOCUMENTED}")
        unchanged = sum(
            1
            for r in dlq
            if raw_by_source.get(
                (
                    (h := {k: v.decode() for k, v in r.headers})["source-topic"],
                    int(h["source-partition"]),
                    int(h["source-offset"]),
                )
            )
            == r.value
        )
        require(unchanged == total, f"only {unchanged} of {total} dlq copies are byte-identical")
        checked = await spot_check(engine, ref, [f"h{i}" for i in range(0, valid_count * 10, 97)])
        require(worker.alive and worker.starts == 1, worker.log_tail())
        require(probe.failures == 0, f"{probe.failures} stats queries failed")
        report(
            record_property,
            "hostile_input",
            {
                "bad_input_messages": bad_inputs,
                "bad_queries": bad_queries,
                "valid_chunks": valid_count,
                "kinds": len(Counter(sources.values())),
                "error_events": len(events),
                "dlq_copies": len(dlq),
                "dlq_byte_identical": unchanged,
                "codes": "/".join(f"{c}:{n}" for c, n in sorted(codes.items())),
                "publish_s": round(publish_s, 1),
                "all_handled_s": round(handled_s, 1),
                "stats_answered": len(probe.answered_at),
                "longest_stats_gap_s": round(stall, 2),
                "max_stats_latency_s": round(probe.max_latency(), 2),
                "digest_equal": True,
                "nodes_spot_checked": checked,
                "worker_restarts": 0,
                "counts_seen": str(seen),
            },
        )
        require(stall < MAX_STALL, f"no stats answer for {stall:.1f} s")
    finally:
        await probe.stop(drain=0.1)
        await producer.stop()
        await engine.close()
        worker.stop()


def _diff(what: str, got: Counter[Any], want: dict[Any, str]) -> str:
    missing = [(s, want[s]) for s in want if s not in got][:10]
    extra = [s for s in got if s not in want][:10]
    return f"{what}: {len(missing)} sources missing {missing}, extra {extra}"
