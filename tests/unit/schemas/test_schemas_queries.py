"""Parsing query-topic messages, the query-type registry and result envelopes."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from schemas.codec import Encoding, encode
from schemas.errors import ErrorCode
from schemas.limits import Limits
from schemas.queries import (
    QUERY_TYPES,
    Param,
    Query,
    QueryRejection,
    QueryType,
    error_result,
    int_arg,
    ok_result,
    parse_query,
    parse_query_obj,
    register_query_type,
)

LIMITS = Limits()


def ok(doc: Any, encoding: Encoding = Encoding.JSON) -> Query:
    result = parse_query(encode(doc, encoding), None, LIMITS)
    assert isinstance(result, Query), result
    assert result.encoding is encoding
    return result


def rejected(doc: Any, encoding: Encoding = Encoding.JSON) -> QueryRejection:
    result = parse_query(encode(doc, encoding), None, LIMITS)
    assert isinstance(result, QueryRejection), result
    assert result.encoding is encoding
    return result


@pytest.mark.parametrize("encoding", list(Encoding))
def test_a_stats_query_parses_with_its_envelope(encoding: Encoding) -> None:
    query = ok(
        {"query_id": "q1", "type": "stats", "reply_to": "my.replies-1", "timeout_ms": 5000},
        encoding,
    )
    assert query == Query("q1", "stats", {}, "my.replies-1", 5000, encoding)


def test_a_node_query_takes_an_id_and_integer_ids_become_strings() -> None:
    assert ok({"query_id": "q", "type": "node", "id": "alice"}).args == {"id": "alice"}
    assert ok({"query_id": "q", "type": "node", "id": 7}).args == {"id": "7"}


def test_a_missing_query_id_is_generated_as_uuid4_hex() -> None:
    first, second = ok({"type": "stats"}), ok({"type": "stats"})
    assert len(first.query_id) == 32 and int(first.query_id, 16) >= 0
    assert first.query_id != second.query_id
    assert (first.reply_to, first.timeout_ms) == (None, None)


@pytest.mark.parametrize(
    ("doc", "args"),
    [
        ({"type": "digest"}, {}),
        (
            {"type": "neighbors", "id": "a"},
            {"id": "a", "direction": "out", "edge_type": None, "limit": None},
        ),
        (
            {"type": "neighbors", "id": "a", "direction": "both", "edge_type": "", "limit": 100000},
            {"id": "a", "direction": "both", "edge_type": "", "limit": 100000},
        ),
        (
            {"type": "khop", "id": "a", "depth": 10, "direction": "in", "edge_type": "KNOWS"},
            {"id": "a", "depth": 10, "direction": "in", "edge_type": "KNOWS"},
        ),
        (
            {"type": "shortest_path", "src": 1, "dst": "b"},
            {"src": "1", "dst": "b", "max_depth": 6, "direction": "out", "edge_type": None},
        ),
        (
            {"type": "subgraph", "id": "a", "depth": 5},
            {"id": "a", "depth": 5, "direction": "out", "edge_type": None},
        ),
        ({"type": "top_degree", "k": 1, "direction": None}, {"k": 1, "direction": "out"}),
    ],
)
def test_every_query_type_fills_in_its_defaults(doc: dict[str, Any], args: dict[str, Any]) -> None:
    assert ok(doc).args == args


@pytest.mark.parametrize(
    "doc",
    [
        {"type": "stats", "id": "a"},
        {"type": "node"},
        {"type": "node", "id": ""},
        {"type": "node", "id": "a\x00"},
        {"type": "node", "id": 1.5},
        {"type": "neighbors", "id": "a", "direction": "sideways"},
        {"type": "neighbors", "id": "a", "limit": 0},
        {"type": "neighbors", "id": "a", "limit": 100001},
        {"type": "neighbors", "id": "a", "limit": True},
        {"type": "neighbors", "id": "a", "limit": 10.0},
        {"type": "neighbors", "id": "a", "edge_type": 3},
        {"type": "khop", "id": "a"},
        {"type": "khop", "id": "a", "depth": 11},
        {"type": "shortest_path", "src": "a"},
        {"type": "shortest_path", "src": "a", "dst": "b", "max_depth": 21},
        {"type": "subgraph", "id": "a", "depth": 6},
        {"type": "top_degree", "k": 10001},
        {"type": "top_degree", "k": 5, "id": "a"},
        {"type": "stats", "reply_to": "has space"},
        {"type": "stats", "reply_to": ""},
        {"type": "stats", "reply_to": "."},
        {"type": "stats", "reply_to": ".."},
        {"type": "stats", "reply_to": "x" * 250},
        {"type": "stats", "reply_to": 5},
        {"type": "stats", "timeout_ms": 0},
        {"type": "stats", "timeout_ms": 600_001},
        {"type": "stats", "timeout_ms": "5000"},
        {"type": "stats", "query_id": ""},
        {"type": "stats", "query_id": "q" * 257},
        {"type": "stats", "query_id": 5},
    ],
)
def test_bad_arguments_and_envelope_fields_are_bad_arguments(doc: dict[str, Any]) -> None:
    assert rejected(doc).error.code is ErrorCode.BAD_ARGUMENTS


def test_limits_at_the_range_edges_are_accepted() -> None:
    assert ok({"type": "stats", "timeout_ms": 1}).timeout_ms == 1
    assert ok({"type": "stats", "timeout_ms": 600_000}).timeout_ms == 600_000
    assert ok({"type": "stats", "reply_to": "t" * 249}).reply_to == "t" * 249
    assert ok({"type": "stats", "query_id": "q" * 256}).query_id == "q" * 256


@pytest.mark.parametrize("name", ["pagerank", "", "STATS"])
def test_unknown_query_types_are_unknown_query_type(name: str) -> None:
    assert rejected({"query_id": "q", "type": name}).error.code is ErrorCode.UNKNOWN_QUERY_TYPE


@pytest.mark.parametrize("doc", [{"query_id": "q"}, {"type": 3}, ["stats"], "stats", None])
def test_documents_that_are_not_queries_are_invalid_message(doc: Any) -> None:
    assert rejected(doc).error.code is ErrorCode.INVALID_MESSAGE


@pytest.mark.parametrize("encoding", list(Encoding))
def test_a_rejection_keeps_the_query_id_reply_to_and_encoding_for_the_answer(
    encoding: Encoding,
) -> None:
    rejection = rejected({"query_id": "q9", "type": "nope", "reply_to": "answers"}, encoding)
    assert (rejection.query_id, rejection.reply_to) == ("q9", "answers")
    assert rejection.result() == {
        "query_id": "q9",
        "status": "error",
        "error": {"code": "unknown_query_type", "message": rejection.error.message},
    }


def test_an_unusable_query_id_or_reply_to_is_not_reported_back() -> None:
    rejection = rejected({"query_id": "", "type": "stats", "reply_to": "bad topic"})
    assert (rejection.query_id, rejection.reply_to) == (None, None)
    rejection = rejected({"query_id": "q", "type": "stats", "reply_to": "bad topic"})
    assert (rejection.query_id, rejection.reply_to) == ("q", None)


def test_undecodable_queries_are_answered_in_the_detected_encoding_or_json() -> None:
    for raw, encoding in ((b"\x81\xa1", Encoding.MSGPACK), (b"\x00junk", Encoding.JSON)):
        rejection = parse_query(raw, None, LIMITS)
        assert isinstance(rejection, QueryRejection)
        assert (rejection.error.code, rejection.encoding) == (ErrorCode.UNDECODABLE, encoding)
        assert rejection.query_id is None


def test_oversized_queries_are_message_too_large() -> None:
    rejection = parse_query(b"{" + b" " * 100 + b"}", None, Limits(max_message_bytes=50))
    assert isinstance(rejection, QueryRejection)
    assert rejection.error.code is ErrorCode.MESSAGE_TOO_LARGE


@pytest.mark.parametrize("encoding", list(Encoding))
def test_deep_queries_are_too_deep_and_still_name_their_query_id(encoding: Encoding) -> None:
    deep: Any = 1
    for _ in range(30):
        deep = [deep]
    rejection = rejected({"query_id": "q", "type": "node", "id": deep}, encoding)
    assert (rejection.error.code, rejection.query_id) == (ErrorCode.TOO_DEEP, "q")
    raw = b"[" * 100_000 if encoding is Encoding.JSON else b"\x91" * 100_000 + b"\xc0"
    rejection_deep = parse_query(raw, None, LIMITS)
    assert isinstance(rejection_deep, QueryRejection)
    assert rejection_deep.error.code in (ErrorCode.TOO_DEEP, ErrorCode.UNDECODABLE)


def test_non_string_keys_are_unknown_arguments() -> None:
    raw = msgpack.packb({"type": "stats", 1: 2})
    rejection = parse_query(raw, None, LIMITS)
    assert isinstance(rejection, QueryRejection)
    assert rejection.error.code is ErrorCode.BAD_ARGUMENTS


def test_parse_query_obj_accepts_decoded_documents_and_never_raises() -> None:
    assert isinstance(parse_query_obj({"type": "stats"}, LIMITS), Query)
    for doc in (object(), {"type": "node", "id": object()}, {frozenset(): 1}):
        assert isinstance(parse_query_obj(doc, LIMITS), QueryRejection)


def test_the_registry_holds_every_documented_query_type() -> None:
    expected = {"stats", "node", "neighbors", "khop", "shortest_path", "subgraph", "top_degree"}
    standing = {"standing_register", "standing_list", "standing_remove"}
    assert expected | {"digest"} | standing == set(QUERY_TYPES)


def test_new_query_types_plug_in_with_their_own_arguments() -> None:
    query_type = QueryType("test_sample_type", (Param("n", int_arg(1, 3), required=True),))
    register_query_type(query_type)
    try:
        assert ok({"type": "test_sample_type", "n": 2}).args == {"n": 2}
        assert rejected({"type": "test_sample_type", "n": 4}).error.code is ErrorCode.BAD_ARGUMENTS
        with pytest.raises(ValueError, match="already registered"):
            register_query_type(query_type)
        register_query_type(query_type, replace=True)
    finally:
        from schemas import queries

        queries._REGISTRY.pop("test_sample_type", None)


def test_the_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        QUERY_TYPES["x"] = QueryType("x")  # type: ignore[index]


def test_ok_result_is_the_success_envelope() -> None:
    assert ok_result("q1", {"nodes": 3}) == {
        "query_id": "q1",
        "status": "ok",
        "result": {"nodes": 3},
    }


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (ErrorCode.TIMEOUT, True),
        (ErrorCode.UNAVAILABLE, True),
        ("timeout", True),
        (ErrorCode.BAD_ARGUMENTS, False),
        (ErrorCode.INTERNAL, False),
    ],
)
def test_error_result_marks_only_timeout_and_unavailable_retryable(
    code: ErrorCode | str, retryable: bool
) -> None:
    result = error_result("q1", code, "m")
    assert result["status"] == "error" and result["error"]["code"] == str(code)
    assert result["error"].get("retryable", False) is retryable


def test_error_result_caps_the_message_at_300_chars() -> None:
    assert len(error_result(None, ErrorCode.INTERNAL, "x" * 1000)["error"]["message"]) == 300
