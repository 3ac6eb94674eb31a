"""Encoding detection, bounded decoding and encoding of wire documents."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import msgpack
import pytest

from schemas.codec import (
    Encoding,
    content_type_of,
    decode,
    detect_encoding,
    encode,
    response_encoding,
    too_deep,
)
from schemas.errors import ErrorCode, WireErrorException

BIG = 10_000_000


def decode_error(raw: bytes, content_type: str | bytes | None = None, **kw: Any) -> ErrorCode:
    limits = {"max_bytes": BIG, "max_depth": 16, **kw}
    with pytest.raises(WireErrorException) as info:
        decode(raw, content_type, **limits)
    return info.value.error.code


@pytest.mark.parametrize("first", list(b'{["0123456789-tfn'))
def test_json_is_recognised_by_its_first_byte(first: int) -> None:
    assert detect_encoding(bytes([first]) + b"...") is Encoding.JSON


@pytest.mark.parametrize("first", [*range(0x80, 0xA0), *range(0xDC, 0xE0)])
def test_msgpack_maps_and_arrays_are_recognised_by_their_first_byte(first: int) -> None:
    assert detect_encoding(bytes([first])) is Encoding.MSGPACK


def test_leading_ascii_whitespace_is_skipped_before_detection() -> None:
    assert detect_encoding(b" \t\r\n\x0b\x0c{}") is Encoding.JSON


@pytest.mark.parametrize("raw", [b"", b"   ", b"hello", b"\xef\xbb\xbf{}", b"\x00", b"\xc0", b"+1"])
def test_content_that_is_neither_encoding_is_not_detected(raw: bytes) -> None:
    assert detect_encoding(raw) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", Encoding.JSON),
        ("Application/JSON; charset=utf-8", Encoding.JSON),
        ("application/msgpack", Encoding.MSGPACK),
        ("application/x-msgpack", Encoding.MSGPACK),
        (b"application/msgpack", Encoding.MSGPACK),
    ],
)
def test_a_known_content_type_wins_over_the_content(
    header: str | bytes, expected: Encoding
) -> None:
    body = b"\x81" if expected is Encoding.JSON else b"{}"
    assert detect_encoding(body, header) is expected


def test_an_unknown_content_type_falls_back_to_detection() -> None:
    assert detect_encoding(b"{}", "text/plain") is Encoding.JSON
    assert detect_encoding(b"\x80", "") is Encoding.MSGPACK


def test_declared_json_with_msgpack_content_is_undecodable() -> None:
    assert decode_error(msgpack.packb({"a": 1}), "application/json") is ErrorCode.UNDECODABLE


def test_size_is_checked_before_decoding() -> None:
    assert decode_error(b"\xff" * 101, max_bytes=100) is ErrorCode.MESSAGE_TOO_LARGE
    assert decode(b"[" + b" " * 98 + b"]", max_bytes=100, max_depth=4) == ([], Encoding.JSON)


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json}",
        b'{"a": 1',
        b'{"a": 1} trailing',
        b'{"a": "\xff"}',
        b'["\xed\xa0\x80"]',
        b"[NaN]",
        b"[Infinity]",
        b"[-Infinity]",
        b"[1e999]",
        b"[-" + b"9" * 400 + b".0]",
        b"[" + b"1" * 5000 + b"]",
    ],
)
def test_bad_json_is_undecodable(raw: bytes) -> None:
    assert decode_error(raw) is ErrorCode.UNDECODABLE


@pytest.mark.parametrize(
    "raw",
    [
        msgpack.packb({"a": "b"})[:-1],
        b"\x92\x01",
        msgpack.packb([1]) + b"\x01",
        b"\x91\xa2\xff\xfe",
        b"\x91" + msgpack.packb(msgpack.ExtType(5, b"x")),
        b"\x81\x91\x01\x02",
        b"\xdd\xff\xff\xff\xff",
        b"\xdf\xff\xff\xff\xff",
    ],
    ids=[
        "truncated",
        "short-array",
        "trailing",
        "bad-utf8",
        "ext",
        "list-key",
        "huge-array",
        "huge-map",
    ],
)
def test_bad_msgpack_is_undecodable(raw: bytes) -> None:
    assert decode_error(raw) is ErrorCode.UNDECODABLE


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"\x91" * 100_000 + b"\xc0",
        b"\x81\xa1a" * 100_000 + b"\xc0",
    ],
    ids=["json-open", "json-lists", "json-maps", "msgpack-arrays", "msgpack-maps"],
)
def test_hundred_thousand_deep_documents_are_refused_without_recursion_errors(
    raw: bytes,
) -> None:
    assert decode_error(raw) in (ErrorCode.TOO_DEEP, ErrorCode.UNDECODABLE)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_depth_at_the_limit_decodes_and_one_more_is_too_deep(encoding: Encoding) -> None:
    at_limit: Any = 1
    for _ in range(16):
        at_limit = [at_limit]
    assert decode(encode(at_limit, encoding), max_bytes=BIG, max_depth=16)[0] == at_limit
    assert decode_error(encode([at_limit], encoding)) is ErrorCode.TOO_DEEP


def test_depth_check_can_be_left_to_the_caller() -> None:
    deep = encode([[[[1]]]], Encoding.JSON)
    assert decode(deep, max_bytes=BIG, max_depth=2, verify_depth=False)[0] == [[[[1]]]]


@pytest.mark.parametrize(
    ("doc", "depth"),
    [(1, 0), ("x", 0), ([], 1), ({}, 1), ([[]], 2), ({"a": {"b": [1, {"c": []}]}}, 5)],
)
def test_too_deep_counts_nested_lists_and_maps(doc: Any, depth: int) -> None:
    assert not too_deep(doc, depth)
    if depth:
        assert too_deep(doc, depth - 1)


def test_json_is_encoded_compact_and_as_utf8() -> None:
    assert encode({"a": [1, "é"]}, Encoding.JSON) == '{"a":[1,"é"]}'.encode()


def test_msgpack_encodes_bytes_with_the_bin_type() -> None:
    assert encode(b"\x01", Encoding.MSGPACK) == b"\xc4\x01\x01"


def test_read_only_mappings_encode_like_dicts() -> None:
    for encoding in Encoding:
        raw = encode({"p": MappingProxyType({"a": 1})}, encoding)
        assert decode(raw, max_bytes=BIG, max_depth=4)[0] == {"p": {"a": 1}}


def test_encoding_nan_as_json_is_refused() -> None:
    with pytest.raises(ValueError):
        encode([float("nan")], Encoding.JSON)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_documents_round_trip_through_both_encodings(encoding: Encoding) -> None:
    doc = {"s": "ü\u2028", "i": -(2**63), "f": 0.5, "b": True, "n": None, "l": [{}, []]}
    raw = encode(doc, encoding)
    assert decode(raw, max_bytes=BIG, max_depth=16) == (doc, encoding)


def test_content_types_name_the_encoding() -> None:
    assert content_type_of(Encoding.JSON) == "application/json"
    assert content_type_of(Encoding.MSGPACK) == "application/msgpack"


def test_replies_use_the_detected_encoding_or_json_when_unknown() -> None:
    assert response_encoding(b"\x80") is Encoding.MSGPACK
    assert response_encoding(b"{") is Encoding.JSON
    assert response_encoding(b"\x00garbage") is Encoding.JSON
    assert response_encoding(None, "application/msgpack") is Encoding.MSGPACK
    assert response_encoding(None) is Encoding.JSON


def test_a_missing_body_is_undecodable() -> None:
    assert decode_error(None) is ErrorCode.UNDECODABLE  # type: ignore[arg-type]


def test_json_decoding_matches_the_standard_library_for_plain_documents() -> None:
    raw = b' {"a": [1, 2.5, "x", null, true, false, {"b": -0}]} '
    assert decode(raw, max_bytes=BIG, max_depth=4)[0] == json.loads(raw)
