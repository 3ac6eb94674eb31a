"""Parsing input-topic messages into ops: accepted shapes, defaults and every rejection."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from schemas.codec import Encoding, encode
from schemas.errors import ErrorCode, WireError
from schemas.limits import Limits
from schemas.ops import (
    Chunk,
    DeleteEdge,
    DeleteNode,
    UpsertEdge,
    UpsertNode,
    chunk_to_wire,
    op_to_wire,
)
from schemas.validation import parse_chunk, parse_op, parse_ops

LIMITS = Limits()
ENCODINGS = list(Encoding)


def parse(doc: Any, encoding: Encoding = Encoding.JSON, limits: Limits = LIMITS) -> Any:
    return parse_chunk(encode(doc, encoding), None, limits)


def ok(doc: Any, encoding: Encoding = Encoding.JSON, limits: Limits = LIMITS) -> Chunk:
    result = parse(doc, encoding, limits)
    assert isinstance(result, Chunk), result
    assert result.encoding is encoding
    return result


def err(doc: Any, encoding: Encoding = Encoding.JSON, limits: Limits = LIMITS) -> WireError:
    result = parse(doc, encoding, limits)
    assert isinstance(result, WireError), result
    return result


def node(**extra: Any) -> dict[str, Any]:
    return {"op": "upsert_node", "id": "alice", **extra}


def chunk(*items: Any, chunk_id: str = "c1") -> dict[str, Any]:
    return {"chunk_id": chunk_id, "items": list(items)}


def bad_item(item: Any, encoding: Encoding = Encoding.JSON) -> WireError:
    """Reject ``item`` as the third item of a chunk, checking index and chunk id."""
    error = err(chunk(node(), node(id="bob"), item), encoding)
    assert (error.item_index, error.chunk_id) == (2, "c1"), error
    return error


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_each_op_parses_from_both_encodings(encoding: Encoding) -> None:
    items = [
        {"op": "upsert_node", "id": "alice", "labels": ["Person"], "props": {"age": 31}},
        {
            "op": "upsert_edge",
            "src": "alice",
            "dst": "bob",
            "type": "KNOWS",
            "props": {"since": 2019},
        },
        {"op": "delete_edge", "src": "alice", "dst": "bob", "type": "KNOWS"},
        {"op": "delete_node", "id": "bob"},
    ]
    assert ok(chunk(*items), encoding).items == (
        UpsertNode("alice", ("Person",), {"age": 31}),
        UpsertEdge("alice", "bob", "KNOWS", {"since": 2019}),
        DeleteEdge("alice", "bob", "KNOWS"),
        DeleteNode("bob"),
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_single_op_a_list_of_ops_and_a_chunk_are_all_messages(encoding: Encoding) -> None:
    single = ok(node(), encoding)
    assert (single.chunk_id, single.items) == (None, (UpsertNode("alice", (), {}),))
    assert ok([node(), node(id="b")], encoding).chunk_id is None
    assert len(ok([node(), node(id="b")], encoding).items) == 2
    assert ok(chunk(node()), encoding).chunk_id == "c1"
    assert ok({"items": [node()]}, encoding).chunk_id is None


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_integer_ids_become_decimal_strings(encoding: Encoding) -> None:
    items = [
        {"op": "upsert_node", "id": 42},
        {"op": "upsert_edge", "src": -7, "dst": 2**63},
        {"op": "delete_node", "id": 0},
    ]
    parsed = ok(items, encoding).items
    assert parsed == (
        UpsertNode("42", (), {}),
        UpsertEdge("-7", str(2**63), "", {}),
        DeleteNode("0"),
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_optional_fields_default_when_absent_or_null(encoding: Encoding) -> None:
    items = [
        {"op": "upsert_node", "id": "a"},
        {"op": "upsert_node", "id": "a", "labels": None, "props": None},
        {"op": "upsert_edge", "src": "a", "dst": "b"},
        {"op": "upsert_edge", "src": "a", "dst": "b", "type": None, "props": None},
        {"op": "delete_edge", "src": "a", "dst": "b"},
    ]
    parsed = ok(items, encoding).items
    assert parsed[0] == parsed[1] == UpsertNode("a", (), {})
    assert parsed[2] == parsed[3] == UpsertEdge("a", "b", "", {})
    assert parsed[4] == DeleteEdge("a", "b", "")


def test_an_empty_edge_type_is_allowed() -> None:
    assert ok({"op": "delete_edge", "src": "a", "dst": "b", "type": ""}).items[0].type == ""  # type: ignore[union-attr]


def test_duplicate_labels_are_dropped_keeping_order() -> None:
    assert ok(node(labels=["B", "A", "B"])).items == (UpsertNode("alice", ("B", "A"), {}),)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_null_prop_values_are_kept_to_mean_removal(encoding: Encoding) -> None:
    assert ok(node(props={"age": None}), encoding).items[0].props == {"age": None}  # type: ignore[union-attr]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_nested_json_values_are_allowed_in_props(encoding: Encoding) -> None:
    props = {"tags": ["a", 1, 2.5, None, True], "address": {"city": "Zürich", "geo": [1.0, 2.0]}}
    assert ok(node(props=props), encoding).items[0].props == props  # type: ignore[union-attr]


def test_an_empty_items_list_is_a_valid_no_op() -> None:
    assert ok(chunk()).items == ()
    assert ok([]).items == ()


@pytest.mark.parametrize("value", ["a", "é", "名前", "a b", "\xa0", "🙂", "x" * 256])
def test_printable_ids_up_to_the_limit_are_accepted(value: str) -> None:
    assert ok(node(id=value)).items[0] == UpsertNode(value, (), {})


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 257,
        "a\x00",
        "\x1f",
        "a\x7f",
        "\x80",
        "b\x9f",
        "tab\t",
        "line\n",
        True,
        1.5,
        None,
        [],
        {},
    ],
)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bad_node_ids_are_rejected_as_invalid_id(value: Any, encoding: Encoding) -> None:
    for item in (node(id=value), {"op": "upsert_edge", "src": "a", "dst": value}):
        assert bad_item(item, encoding).code is ErrorCode.INVALID_ID


def test_an_unpaired_surrogate_in_an_id_is_invalid_id() -> None:
    raw = b'{"chunk_id": "c", "items": [{"op": "delete_node", "id": "a\\ud800"}]}'
    error = parse_chunk(raw, None, LIMITS)
    assert isinstance(error, WireError) and error.code is ErrorCode.INVALID_ID


def test_an_integer_id_longer_than_the_limit_is_invalid_id() -> None:
    small = Limits(max_id_length=3)
    assert ok({"op": "delete_node", "id": 999}, limits=small).items == (DeleteNode("999"),)
    assert err({"op": "delete_node", "id": 1000}, limits=small).code is ErrorCode.INVALID_ID


@pytest.mark.parametrize(
    "labels", ["Person", [""], ["ok", 1], ["a\x00"], ["x" * 257], [["nested"]], {"a": 1}]
)
def test_bad_labels_are_rejected_as_invalid_label(labels: Any) -> None:
    assert bad_item(node(labels=labels)).code is ErrorCode.INVALID_LABEL


@pytest.mark.parametrize("edge_type", [1, "T\n", "x" * 257, ["T"], False])
def test_bad_edge_types_are_rejected_as_invalid_label(edge_type: Any) -> None:
    item = {"op": "delete_edge", "src": "a", "dst": "b", "type": edge_type}
    assert bad_item(item).code is ErrorCode.INVALID_LABEL


@pytest.mark.parametrize(
    "item",
    [
        "upsert_node",
        42,
        None,
        ["op", "upsert_node"],
        {"id": "a"},
        {"op": 1, "id": "a"},
        {"op": None, "id": "a"},
        {"op": "upsert_node"},
        {"op": "upsert_edge", "src": "a"},
        {"op": "delete_edge", "dst": "b"},
        {"op": "delete_node"},
    ],
)
def test_malformed_ops_are_rejected_as_invalid_op(item: Any) -> None:
    assert bad_item(item).code is ErrorCode.INVALID_OP


@pytest.mark.parametrize("name", ["upsert", "UPSERT_NODE", "", "merge_node"])
def test_unknown_op_names_are_rejected_as_unknown_op(name: str) -> None:
    assert bad_item({"op": name, "id": "a"}).code is ErrorCode.UNKNOWN_OP


@pytest.mark.parametrize(
    "item",
    [
        node(label=["typo"]),
        node(type="T"),
        {"op": "delete_node", "id": "a", "props": {}},
        {"op": "delete_edge", "src": "a", "dst": "b", "props": {}},
        {"op": "upsert_edge", "src": "a", "dst": "b", "labels": []},
    ],
)
def test_unknown_keys_in_an_op_are_rejected_as_unknown_field(item: Any) -> None:
    error = bad_item(item)
    assert error.code is ErrorCode.UNKNOWN_FIELD


def test_a_non_string_key_in_an_op_is_an_unknown_field() -> None:
    raw = msgpack.packb([{"op": "delete_node", "id": "a", 7: "x"}])
    error = parse_chunk(raw, None, LIMITS)
    assert isinstance(error, WireError) and error.code is ErrorCode.UNKNOWN_FIELD
    assert "<int>" in error.message


@pytest.mark.parametrize(
    "props",
    [
        [1, 2],
        "age=3",
        {1: "int key"},
        {"a": {2: "nested int key"}},
        {"b": b"bytes"},
        {"n": float("nan")},
        {"n": [float("inf")]},
        {"n": {"x": -float("inf")}},
        {"t": msgpack.Timestamp(1, 0)},
    ],
)
def test_non_json_props_are_rejected_as_invalid_props(props: Any) -> None:
    assert bad_item(node(props=props), Encoding.MSGPACK).code is ErrorCode.INVALID_PROPS


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, [2**70]])
def test_json_integers_beyond_64_bits_in_props_are_invalid_props(value: int) -> None:
    assert bad_item(node(props={"big": value})).code is ErrorCode.INVALID_PROPS


def test_props_integers_at_the_64_bit_edges_are_accepted() -> None:
    props = {"max": 2**64 - 1, "min": -(2**63)}
    assert ok(node(props=props)).items[0].props == props  # type: ignore[union-attr]


def test_an_unpaired_surrogate_in_props_is_invalid_props() -> None:
    for body in (b'{"k": "\\udc00"}', b'{"\\ud800": 1}', b'{"k": ["\\ud800"]}'):
        raw = b'{"op": "upsert_node", "id": "a", "props": ' + body + b"}"
        error = parse_chunk(raw, None, LIMITS)
        assert isinstance(error, WireError) and error.code is ErrorCode.INVALID_PROPS, body


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_props_at_the_byte_limit_pass_and_one_byte_more_is_props_too_large(
    encoding: Encoding,
) -> None:
    limits = Limits(max_props_bytes=100)
    overhead = len('{"k":""}')
    fits = {"k": "é" * ((100 - overhead) // 2)}
    assert ok(node(props=fits), encoding, limits)
    too_big = {"k": "é" * ((100 - overhead) // 2) + "x"}
    error = err(chunk(node(props=too_big)), encoding, limits)
    assert (error.code, error.item_index, error.chunk_id) == (ErrorCode.PROPS_TOO_LARGE, 0, "c1")


def test_props_size_counts_json_escapes() -> None:
    limits = Limits(max_props_bytes=20)
    props = {"k": "\x01\x02"}  # 12 bytes of escapes as JSON, 4 as msgpack
    assert ok(node(props=props), Encoding.MSGPACK, limits)
    assert err(node(props={"k": "\x01" * 3}), Encoding.MSGPACK, limits).code is (
        ErrorCode.PROPS_TOO_LARGE
    )


def test_the_first_offending_item_is_named() -> None:
    items = [node(), {"op": "delete_node", "id": ""}, {"op": "nope"}]
    error = err(chunk(*items, chunk_id="batch-7"))
    assert (error.code, error.item_index, error.chunk_id) == (ErrorCode.INVALID_ID, 1, "batch-7")


def test_a_single_op_message_reports_item_zero_and_no_chunk_id() -> None:
    error = err({"op": "delete_node", "id": ""})
    assert (error.item_index, error.chunk_id) == (0, None)


def test_a_list_of_ops_reports_the_item_index_without_chunk_id() -> None:
    error = err([node(), node(id=None)])
    assert (error.code, error.item_index, error.chunk_id) == (ErrorCode.INVALID_ID, 1, None)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_item_count_limit_is_inclusive(encoding: Encoding) -> None:
    limits = Limits(max_items_per_chunk=3)
    assert len(ok(chunk(node(), node(), node()), encoding, limits).items) == 3
    error = err(chunk(node(), node(), node(), node()), encoding, limits)
    assert (error.code, error.item_index, error.chunk_id) == (ErrorCode.CHUNK_TOO_LARGE, None, "c1")
    assert err([node()] * 4, encoding, limits).code is ErrorCode.CHUNK_TOO_LARGE


@pytest.mark.parametrize(
    ("doc", "chunk_id"),
    [
        ({"chunk_id": "c", "items": [], "extra": 1}, "c"),
        ({"items": [], "ack": True}, None),
    ],
)
def test_unknown_keys_in_a_chunk_are_unknown_field(doc: Any, chunk_id: str | None) -> None:
    error = err(doc)
    assert (error.code, error.item_index, error.chunk_id) == (
        ErrorCode.UNKNOWN_FIELD,
        None,
        chunk_id,
    )


@pytest.mark.parametrize(
    "doc",
    [
        "just a string",
        42,
        None,
        True,
        {"chunk_id": "c"},
        {"chunk_id": "c", "items": {"op": "delete_node"}},
        {"chunk_id": 7, "items": []},
        {"chunk_id": "", "items": []},
        {"chunk_id": "x" * 257, "items": []},
        {"chunk_id": "a\nb", "items": []},
    ],
)
def test_documents_that_are_not_messages_are_invalid_message(doc: Any) -> None:
    assert err(doc).code is ErrorCode.INVALID_MESSAGE


def test_a_chunk_id_of_256_chars_is_accepted() -> None:
    assert ok(chunk(chunk_id="c" * 256)).chunk_id == "c" * 256


@pytest.mark.parametrize("content_type", [None, "application/json", "application/msgpack"])
def test_a_message_over_the_byte_limit_is_refused_before_decoding(content_type: str | None) -> None:
    limits = Limits(max_message_bytes=50)
    error = parse_chunk(b"\x00" * 51, content_type, limits)
    assert isinstance(error, WireError) and error.code is ErrorCode.MESSAGE_TOO_LARGE


def test_huge_strings_are_refused_by_size_or_by_length() -> None:
    huge = "x" * 2_000_000
    assert err(node(id=huge)).code is ErrorCode.MESSAGE_TOO_LARGE
    roomy = Limits(max_message_bytes=10_000_000)
    assert err(chunk(node(id=huge)), limits=roomy).code is ErrorCode.INVALID_ID
    assert err(chunk(node(props={"k": huge})), limits=roomy).code is ErrorCode.PROPS_TOO_LARGE


@pytest.mark.parametrize("raw", [b"", b"\x00\x01", b"hello", b"\xc1", b"{", b"\x92\x01"])
def test_garbage_is_undecodable(raw: bytes) -> None:
    error = parse_chunk(raw, None, LIMITS)
    assert isinstance(error, WireError) and error.code is ErrorCode.UNDECODABLE


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_props_nesting_counts_towards_the_depth_limit(encoding: Encoding) -> None:
    limits = Limits(max_nesting_depth=6)  # chunk 1, items 2, op 3, props 4, values 5-6
    assert ok(chunk(node(props={"a": [[1]]})), encoding, limits)
    error = err(chunk(node(props={"a": [[[1]]]})), encoding, limits)
    assert (error.code, error.item_index) == (ErrorCode.TOO_DEEP, None)
    assert ok([node(props={"a": [[[1]]]})], encoding, limits)
    assert ok(node(props={"a": [[[[1]]]]}), encoding, limits)
    assert err(node(props={"a": [[[[[1]]]]]}), encoding, limits).code is ErrorCode.TOO_DEEP


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_structure_alone_can_exceed_a_small_depth_limit(encoding: Encoding) -> None:
    assert err(chunk(node()), encoding, Limits(max_nesting_depth=2)).code is ErrorCode.TOO_DEEP
    assert ok(chunk(), encoding, Limits(max_nesting_depth=2)).items == ()
    assert err(node(labels=[]), encoding, Limits(max_nesting_depth=1)).code is ErrorCode.TOO_DEEP
    assert ok(node(), encoding, Limits(max_nesting_depth=1))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_too_deep_wins_over_other_errors_anywhere_in_the_document(encoding: Encoding) -> None:
    deep: Any = 1
    for _ in range(20):
        deep = [deep]
    for doc in (
        chunk({"op": "delete_node", "id": ""}, node(props={"x": deep})),
        chunk(node(id=deep)),
        chunk(node(surprise=deep)),
        {"chunk_id": "c", "items": [], "x": deep},
        [deep],
        {"items": deep},
    ):
        assert err(doc, encoding).code is ErrorCode.TOO_DEEP, doc


def test_error_messages_are_short_and_quote_little_input() -> None:
    long_value = "Z" * 5000 + "\x00"
    for doc in (node(id=long_value[-200:]), node(labels=[long_value[-200:]]), {"op": long_value}):
        error = err(doc, limits=Limits(max_id_length=10_000))
        assert len(error.message) <= 300
        assert "Z" * 81 not in error.message


def test_parse_op_validates_one_decoded_op_with_the_given_index() -> None:
    assert parse_op({"op": "delete_node", "id": 5}, LIMITS, 3) == DeleteNode("5")
    error = parse_op({"op": "delete_node"}, LIMITS, 3)
    assert isinstance(error, WireError) and (error.code, error.item_index) == (
        ErrorCode.INVALID_OP,
        3,
    )


def test_parse_ops_validates_already_decoded_documents() -> None:
    parsed = parse_ops(chunk(node()), LIMITS, Encoding.MSGPACK)
    assert isinstance(parsed, Chunk) and parsed.encoding is Encoding.MSGPACK
    deep: Any = []
    for _ in range(30):
        deep = [deep]
    error = parse_ops(deep, LIMITS)
    assert isinstance(error, WireError) and error.code is ErrorCode.TOO_DEEP


def test_parse_ops_never_raises_on_odd_python_objects() -> None:
    for doc in (object(), {frozenset(): 1}, [node(props={"s": {1, 2}})], [node(labels=("a",))]):
        assert isinstance(parse_ops(doc, LIMITS), Chunk | WireError)


def test_op_to_wire_leaves_out_empty_optional_fields() -> None:
    assert op_to_wire(UpsertNode("a", (), {})) == {"op": "upsert_node", "id": "a"}
    assert op_to_wire(UpsertEdge("a", "b", "", {})) == {"op": "upsert_edge", "src": "a", "dst": "b"}
    assert op_to_wire(DeleteEdge("a", "b", "T")) == {
        "op": "delete_edge",
        "src": "a",
        "dst": "b",
        "type": "T",
    }
    assert op_to_wire(DeleteNode("a")) == {"op": "delete_node", "id": "a"}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_chunk_to_wire_is_the_inverse_of_parsing(encoding: Encoding) -> None:
    ops = (
        UpsertNode("a", ("L1", "L2"), {"x": [1, {"y": None}]}),
        UpsertEdge("a", "b", "T", {"w": 0.5}),
        DeleteEdge("a", "b", ""),
        DeleteNode("b"),
    )
    parsed = ok(chunk_to_wire(ops, "cid"), encoding)
    assert (parsed.chunk_id, parsed.items) == ("cid", ops)
    assert "chunk_id" not in chunk_to_wire(ops)


def test_ops_have_defaults_for_optional_fields() -> None:
    assert UpsertNode("a") == UpsertNode("a", (), {})
    assert UpsertEdge("a", "b") == UpsertEdge("a", "b", "", {})
    assert DeleteEdge("a", "b") == DeleteEdge("a", "b", "")


def test_integers_whose_bytes_look_like_a_non_finite_float_are_still_accepted() -> None:
    props = {"n": 0xCB7FF0, "m": [0xCBFFF8]}  # packs to ... cb 7f f0 / cb ff f8
    for encoding in ENCODINGS:
        assert ok(node(props=props), encoding).items[0].props == props  # type: ignore[union-attr]


def test_an_unexpected_failure_becomes_internal_instead_of_escaping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schemas import validation

    def explode(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(validation._OP_PARSERS, "delete_node", explode)
    for result in (
        parse({"op": "delete_node", "id": "a"}),
        parse_ops({"op": "delete_node", "id": "a"}, LIMITS),
        parse_op({"op": "delete_node", "id": "a"}, LIMITS, 5),
    ):
        assert isinstance(result, WireError) and result.code is ErrorCode.INTERNAL
        assert "boom" not in result.message
