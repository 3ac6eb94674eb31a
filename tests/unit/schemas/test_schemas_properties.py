"""Properties over generated input: the parsers never raise, valid chunks round-trip."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import Encoding, encode, too_deep
from schemas.errors import ErrorCode, WireError
from schemas.limits import Limits
from schemas.ops import Chunk, DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode, chunk_to_wire
from schemas.queries import Query, QueryRejection, parse_query, parse_query_obj
from schemas.validation import parse_chunk, parse_ops

LIMITS = Limits()
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "application/msgpack", "application/x-msgpack", "text/plain"]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["op", "id", "src", "dst", "type", "labels", "props", "chunk_id", "items", "query_id", "x"]
)
op_names = st.sampled_from(["upsert_node", "upsert_edge", "delete_edge", "delete_node", "nope"])
op_like = st.dictionaries(field_names, json_values | op_names, max_size=6)
documents = st.recursive(
    json_values | op_like,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.fixed_dictionaries(
            {"items": st.lists(inner, max_size=5)}, optional={"chunk_id": inner}
        )
    ),
    max_leaves=20,
)
msgpack_only = st.binary(max_size=8) | st.just(float("nan")) | st.just(float("-inf"))
odd_documents = st.recursive(
    json_scalars | msgpack_only | op_like,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.integers(0, 3) | st.text(max_size=4) | st.none(), inner, max_size=4)
    ),
    max_leaves=15,
)


def assert_well_formed(result: Any, encoding: Encoding | None = None) -> None:
    if isinstance(result, WireError):
        assert isinstance(result.code, ErrorCode)
        assert len(result.message) <= 300
        assert result.item_index is None or result.item_index >= 0
        return
    assert isinstance(result, Chunk)
    if encoding is not None:
        assert result.encoding is encoding


@FAST
@given(raw=st.binary(max_size=300), content_type=CONTENT_TYPES)
def test_parse_chunk_never_raises_on_arbitrary_bytes(raw: bytes, content_type: str | None) -> None:
    assert_well_formed(parse_chunk(raw, content_type, LIMITS))


@FAST
@given(
    doc=st.lists(st.integers(0, 255), max_size=40), prefix=st.sampled_from([b"\x91", b"{", b"["])
)
def test_parse_chunk_never_raises_on_bytes_that_start_like_a_document(
    doc: list[int], prefix: bytes
) -> None:
    assert_well_formed(parse_chunk(prefix + bytes(doc), None, LIMITS))


@FAST
@given(doc=documents, encoding=st.sampled_from(list(Encoding)), depth=st.integers(1, 8))
def test_parse_chunk_never_raises_on_json_like_documents(
    doc: Any, encoding: Encoding, depth: int
) -> None:
    limits = Limits(max_nesting_depth=depth)
    result = parse_chunk(encode(doc, encoding), None, limits)
    assert_well_formed(result, encoding)
    assert (isinstance(result, WireError) and result.code is ErrorCode.TOO_DEEP) == too_deep(
        doc, depth
    )


@FAST
@given(doc=odd_documents, depth=st.integers(1, 8))
def test_parse_ops_never_raises_on_msgpack_shaped_values(doc: Any, depth: int) -> None:
    limits = Limits(max_nesting_depth=depth)
    result = parse_ops(doc, limits, Encoding.MSGPACK)
    assert_well_formed(result, Encoding.MSGPACK)
    assert (isinstance(result, WireError) and result.code is ErrorCode.TOO_DEEP) == too_deep(
        doc, depth
    )
    raw = msgpack.packb(doc, use_bin_type=True)
    assert_well_formed(parse_chunk(raw, None, limits), Encoding.MSGPACK)


clean_text = st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=12)
edge_types = st.just("") | clean_text
props = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
ops: st.SearchStrategy[Op] = st.one_of(
    st.builds(
        UpsertNode,
        clean_text,
        st.lists(clean_text, max_size=3, unique=True).map(tuple),
        props,
    ),
    st.builds(UpsertEdge, clean_text, clean_text, edge_types, props),
    st.builds(DeleteEdge, clean_text, clean_text, edge_types),
    st.builds(DeleteNode, clean_text),
)


@FAST
@given(
    items=st.lists(ops, max_size=8),
    chunk_id=st.none() | clean_text,
    encoding=st.sampled_from(list(Encoding)),
)
def test_valid_chunks_round_trip_through_the_wire_unchanged(
    items: list[Op], chunk_id: str | None, encoding: Encoding
) -> None:
    raw = encode(chunk_to_wire(items, chunk_id), encoding)
    assert parse_chunk(raw, None, LIMITS) == Chunk(chunk_id, tuple(items), encoding)


@FAST
@given(op=ops, encoding=st.sampled_from(list(Encoding)))
def test_a_single_valid_op_round_trips_as_a_one_item_message(op: Op, encoding: Encoding) -> None:
    from schemas.ops import op_to_wire

    raw = encode(op_to_wire(op), encoding)
    assert parse_chunk(raw, None, LIMITS) == Chunk(None, (op,), encoding)


@FAST
@given(raw=st.binary(max_size=200), content_type=CONTENT_TYPES)
def test_parse_query_never_raises_on_arbitrary_bytes(raw: bytes, content_type: str | None) -> None:
    assert isinstance(parse_query(raw, content_type, LIMITS), Query | QueryRejection)


query_like = st.dictionaries(
    st.sampled_from(
        [
            "query_id",
            "type",
            "reply_to",
            "timeout_ms",
            "id",
            "src",
            "dst",
            "depth",
            "k",
            "limit",
            "direction",
            "edge_type",
            "max_depth",
            "other",
        ]
    ),
    json_values | st.sampled_from(["stats", "node", "neighbors", "khop", "out", "both"]),
    max_size=6,
)


@FAST
@given(doc=query_like | documents, encoding=st.sampled_from(list(Encoding)))
def test_parse_query_never_raises_on_json_like_documents(doc: Any, encoding: Encoding) -> None:
    result = parse_query(encode(doc, encoding), None, LIMITS)
    assert isinstance(result, Query | QueryRejection)
    if isinstance(result, QueryRejection):
        assert len(result.error.message) <= 300
        if result.error.code is not ErrorCode.UNDECODABLE:  # msgpack scalars are not detected
            assert result.encoding is encoding
    else:
        assert result.encoding is encoding
    assert isinstance(parse_query_obj(doc, LIMITS), Query | QueryRejection)


@FAST
@given(value=st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_compact_json_is_at_most_six_times_the_msgpack_size_plus_braces(value: Any) -> None:
    # check_props relies on this bound to skip the JSON encoding of small props.
    packed = msgpack.packb(value, use_bin_type=True)
    assert len(encode(value, Encoding.JSON)) <= 6 * len(packed) + 2


@FAST
@given(
    value=st.dictionaries(
        st.text(st.characters(max_codepoint=0x20), max_size=4),
        st.lists(st.booleans() | st.none() | st.text(st.characters(max_codepoint=0x20))),
        max_size=4,
    )
)
def test_the_json_size_bound_holds_for_escape_heavy_values(value: Any) -> None:
    packed = msgpack.packb(value, use_bin_type=True)
    assert len(encode(value, Encoding.JSON)) <= 6 * len(packed) + 2
