"""Encoding and decoding reply values, and their JSON rendering for the CLI."""

from __future__ import annotations

import json

import msgpack
import pytest

from project_engine.sdk.wire import (
    Encoding,
    content_type,
    decode_value,
    encode_value,
    to_json_line,
)


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_values_round_trip_in_both_encodings(encoding: Encoding) -> None:
    doc = {"chunk_id": "c-1", "items": [{"op": "delete_node", "id": "ä"}], "n": 1.5}
    raw = encode_value(doc, encoding)
    assert decode_value(raw) == doc
    assert decode_value(raw, [("content-type", content_type(encoding))]) == doc


def test_json_encoding_is_compact() -> None:
    assert encode_value({"a": [1, 2]}, "json") == b'{"a":[1,2]}'


def test_content_type_header_wins_over_sniffing() -> None:
    raw = json.dumps({"a": 1}).encode()
    with pytest.raises(ValueError):
        decode_value(raw, [("content-type", b"application/msgpack")])


def test_undecodable_values_raise_value_error() -> None:
    with pytest.raises(ValueError):
        decode_value(b"\xc1garbage")
    with pytest.raises(ValueError):
        decode_value(b'{"unterminated": ')


def test_json_lines_sort_keys_and_show_bytes_as_base64() -> None:
    value = msgpack.unpackb(msgpack.packb({"b": b"\x00\x01", "a": 1}, use_bin_type=True))
    assert to_json_line(value) == '{"a": 1, "b": {"base64": "AAE="}}'
    assert to_json_line({"x": [1]}, indent=2) == '{\n  "x": [\n    1\n  ]\n}'
