"""The benchmark's input: deterministic for a seed, counted right, encoded as the SDK does."""

from __future__ import annotations

from typing import Any

import msgpack

from benchmarks.data import (
    EDGE_TYPE,
    encode_chunks,
    expected_counts,
    hub_edge_ops,
    total_bytes,
    total_items,
    uniform_edge_ops,
)
from project_engine.sdk.chunking import ChunkIds, iter_chunks
from project_engine.sdk.wire import encode_value
from schemas.limits import Limits
from schemas.ops import Chunk, UpsertEdge
from schemas.validation import parse_chunk


def test_uniform_edges_are_the_same_for_the_same_seed() -> None:
    assert uniform_edge_ops(50, 400, seed=7) == uniform_edge_ops(50, 400, seed=7)


def test_uniform_edges_differ_between_seeds() -> None:
    assert uniform_edge_ops(50, 400, seed=7) != uniform_edge_ops(50, 400, seed=8)


def test_uniform_edges_use_only_the_given_nodes_and_carry_a_small_prop() -> None:
    ops = uniform_edge_ops(20, 1_000, seed=3, prefix="x")
    assert len(ops) == 1_000
    ids = {f"x{i}" for i in range(20)}
    for op in ops:
        assert op["op"] == "upsert_edge" and op["type"] == EDGE_TYPE
        assert op["src"] in ids and op["dst"] in ids
        assert set(op["props"]) == {"w"} and 0 <= op["props"]["w"] < 1000
    assert {op["src"] for op in ops} == ids  # 1,000 draws over 20 nodes reach all of them


def test_expected_counts_count_distinct_edges_and_endpoints() -> None:
    ops: list[dict[str, Any]] = [
        {"op": "upsert_edge", "src": "a", "dst": "b", "type": "E"},
        {"op": "upsert_edge", "src": "a", "dst": "b", "type": "E", "props": {"w": 2}},
        {"op": "upsert_edge", "src": "a", "dst": "b", "type": "F"},
        {"op": "upsert_edge", "src": "b", "dst": "a"},
        {"op": "upsert_edge", "src": "c", "dst": "c", "type": None},
    ]
    counts = expected_counts(ops)
    assert counts.as_stats() == {"nodes": 3, "edges": 4}


def test_hub_edges_are_new_edges_of_one_hub() -> None:
    ops = hub_edge_ops("h", 10, 25, prefix="leaf")
    assert [op["dst"] for op in ops] == [f"leaf{i}" for i in range(10, 25)]
    assert {op["src"] for op in ops} == {"h"}
    assert expected_counts(ops).edges == 15


def test_chunks_are_byte_for_byte_what_the_sdk_sends() -> None:
    ops = uniform_edge_ops(30, 2_500, seed=1)
    chunks = encode_chunks(ops, 1_000, "client")
    sdk = [
        encode_value(c.to_wire(), "msgpack") for c in iter_chunks(ops, 1_000, ChunkIds("client"))
    ]
    assert [c.value for c in chunks] == sdk
    assert [c.chunk_id for c in chunks] == ["client-0", "client-1", "client-2"]
    assert [c.items for c in chunks] == [1_000, 1_000, 500]
    assert total_items(chunks) == 2_500
    assert total_bytes(chunks) == sum(len(v) for v in sdk)
    decoded = msgpack.unpackb(chunks[2].value)
    assert decoded == {"chunk_id": "client-2", "items": ops[2_000:]}


def test_chunks_pass_the_engines_validation() -> None:
    chunk = encode_chunks(uniform_edge_ops(10, 100, seed=2), 100, "c")[0]
    parsed = parse_chunk(chunk.value, b"application/msgpack", Limits())
    assert isinstance(parsed, Chunk) and parsed.chunk_id == "c-0"
    assert len(parsed.items) == 100 and all(isinstance(op, UpsertEdge) for op in parsed.items)
