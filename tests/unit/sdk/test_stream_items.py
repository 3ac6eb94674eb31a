"""Stream items: kinds name the namespace's topics, records decode by content, never raise."""

from __future__ import annotations

import json

import msgpack
import pytest

from project_engine.sdk.stream_items import DEFAULT_KINDS, decode_record, kind_topics
from schemas.settings import Settings


def test_default_kinds_are_results_errors_and_the_prefixed_matches_topic() -> None:
    topics = kind_topics(Settings(topic_prefix="ns1-"), DEFAULT_KINDS)
    assert topics == {
        "ns1-graph-results": "results",
        "ns1-graph-errors": "errors",
        "ns1-graph-matches": "matches",
    }


def test_unknown_kinds_and_empty_selections_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown stream kind 'result'"):
        kind_topics(Settings(), ["result"])
    with pytest.raises(ValueError, match="at least one"):
        kind_topics(Settings(), [])


def test_json_and_msgpack_values_decode_to_the_same_record() -> None:
    doc = {"query_id": "q1", "status": "ok", "result": {"nodes": 2}}
    items = [
        decode_record("results", "t", 2, 7, 1000, b"q1", raw, [])
        for raw in (json.dumps(doc).encode(), msgpack.packb(doc))
    ]
    for item in items:
        assert (item.kind, item.topic, item.partition, item.offset) == ("results", "t", 2, 7)
        assert (item.timestamp, item.key, item.value) == (1000, "q1", doc)
        assert item.raw is None and not item.undecodable and not item.is_error


def test_content_type_header_decides_over_the_first_byte() -> None:
    raw = msgpack.packb(123)  # a positive fixint: looks like nothing in particular
    item = decode_record(
        "results", "t", 0, 0, 0, None, raw, [("content-type", b"application/msgpack")]
    )
    assert item.value == 123
    assert item.headers == (("content-type", b"application/msgpack"),)


def test_undecodable_values_keep_their_bytes_instead_of_raising() -> None:
    item = decode_record("errors", "t", 0, 3, 0, b"\xff\xfe", b"\xc1garbage", None)
    assert item.undecodable and item.value is None
    assert item.raw == b"\xc1garbage"
    assert item.key == "\ufffd\ufffd"
    assert item.is_error


def test_dead_letter_items_always_carry_the_raw_value() -> None:
    item = decode_record("dlq", "t", 0, 0, 0, None, b'{"op": "x"}', [("error-code", b"unknown_op")])
    assert item.raw == b'{"op": "x"}' and item.value == {"op": "x"}


def test_keep_raw_keeps_bytes_of_decodable_values_and_empty_values_stay_none() -> None:
    kept = decode_record("results", "t", 0, 0, 0, None, b"[1]", [], keep_raw=True)
    assert kept.raw == b"[1]" and kept.value == [1]
    empty = decode_record("results", "t", 0, 0, 0, None, None, [])
    assert empty.value is None and not empty.undecodable and empty.raw is None


def test_stream_drops_a_match_delivered_again_with_the_same_id() -> None:
    from project_engine.sdk.stream_items import SeenMatches, StreamItem

    def match(offset: int, mid: str) -> StreamItem:
        return StreamItem("matches", "graph-matches", 0, offset, 0, mid, {"match_id": mid})

    seen = SeenMatches(capacity=2)
    result = {"query_id": "q"}
    other = StreamItem("results", "graph-results", 0, 9, 0, "q", result)
    first = seen.fresh([match(0, "a"), match(1, "b"), other])
    again = seen.fresh([match(2, "a"), match(3, "c"), other])
    assert [i.offset for i in first] == [0, 1, 9]
    assert [i.offset for i in again] == [3, 9] and seen.dropped == 1
    assert [i.offset for i in seen.fresh([match(4, "a")])] == [4]  # "a" aged out of 2 ids
