"""Splitting ops into chunks: sizes, ids, order and accepted op forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from project_engine.sdk.chunking import ChunkIds, aiter_chunks, iter_chunks, op_to_wire_map
from schemas.ops import DeleteEdge, DeleteNode, UpsertEdge, UpsertNode


def node(i: int) -> dict[str, Any]:
    return {"op": "upsert_node", "id": f"n{i}", "labels": [], "props": {"i": i}}


@given(count=st.integers(min_value=0, max_value=300), size=st.integers(min_value=1, max_value=50))
def test_chunks_hold_chunk_size_ops_except_the_last_and_keep_order(count: int, size: int) -> None:
    ops = [node(i) for i in range(count)]
    chunks = list(iter_chunks(ops, size, ChunkIds("c")))
    assert [len(c.items) for c in chunks[:-1]] == [size] * (len(chunks) - 1)
    if chunks:
        assert 1 <= len(chunks[-1].items) <= size
    assert len(chunks) == -(-count // size)
    assert [op for c in chunks for op in c.items] == ops
    assert [c.first_index for c in chunks] == list(range(0, count, size))


def test_chunk_ids_are_client_id_and_a_sequence_shared_across_calls() -> None:
    ids = ChunkIds("client-7")
    first = [c.chunk_id for c in iter_chunks([node(i) for i in range(5)], 2, ids)]
    second = [c.chunk_id for c in iter_chunks([node(9)], 2, ids)]
    assert first == ["client-7-0", "client-7-1", "client-7-2"]
    assert second == ["client-7-3"]


def test_default_chunk_size_of_1000_splits_2500_ops_in_three() -> None:
    from project_engine.sdk.chunking import DEFAULT_CHUNK_SIZE

    chunks = list(iter_chunks((node(i) for i in range(2500)), DEFAULT_CHUNK_SIZE, ChunkIds("c")))
    assert [len(c.items) for c in chunks] == [1000, 1000, 500]


def test_chunk_wire_form_is_chunk_id_and_items() -> None:
    (chunk,) = iter_chunks([node(1)], 10, ChunkIds("c"))
    assert chunk.to_wire() == {"chunk_id": "c-0", "items": [node(1)]}


def test_schemas_ops_objects_become_wire_maps() -> None:
    ops = [
        UpsertNode("a", ("Person",), {"age": 3}),
        UpsertEdge("a", "b", "knows", {"w": 1}),
        DeleteEdge("a", "b", "knows"),
        DeleteNode("b"),
    ]
    (chunk,) = iter_chunks(ops, 10, ChunkIds("c"))
    assert chunk.items == [
        {"op": "upsert_node", "id": "a", "labels": ["Person"], "props": {"age": 3}},
        {"op": "upsert_edge", "src": "a", "dst": "b", "type": "knows", "props": {"w": 1}},
        {"op": "delete_edge", "src": "a", "dst": "b", "type": "knows"},
        {"op": "delete_node", "id": "b"},
    ]


def test_a_single_op_map_is_one_item_not_its_keys() -> None:
    chunks = list(iter_chunks(node(1), 10, ChunkIds("c")))
    assert [c.items for c in chunks] == [[node(1)]]


def test_wire_maps_are_copied_not_shared() -> None:
    op = node(1)
    (chunk,) = iter_chunks([op], 10, ChunkIds("c"))
    op["id"] = "changed"
    assert chunk.items[0]["id"] == "n1"


@pytest.mark.parametrize("bad", [42, "upsert_node", {"id": "no-op-field"}, {"op": 1}])
def test_items_that_are_not_ops_raise_type_error_naming_the_index(bad: Any) -> None:
    with pytest.raises(TypeError, match="item 1"):
        op_to_wire_map(bad, 1)
    with pytest.raises(TypeError, match="item 2"):
        list(iter_chunks([node(0), node(1), bad], 10, ChunkIds("c")))


def test_chunk_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        list(iter_chunks([node(1)], 0, ChunkIds("c")))


async def test_async_iterables_are_chunked_like_sync_ones() -> None:
    async def ops() -> AsyncIterator[dict[str, Any]]:
        for i in range(7):
            yield node(i)

    chunks = [c async for c in aiter_chunks(ops(), 3, ChunkIds("c"))]
    assert [len(c.items) for c in chunks] == [3, 3, 1]
    assert [c.chunk_id for c in chunks] == ["c-0", "c-1", "c-2"]
    assert [c.first_index for c in chunks] == [0, 3, 6]
    assert [op for c in chunks for op in c.items] == [node(i) for i in range(7)]
