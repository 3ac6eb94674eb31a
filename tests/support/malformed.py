"""Malformed input messages, each with the error code and item index the contract gives it."""

from __future__ import annotations

import json

import msgpack

__all__ = ["MALFORMED_INPUTS"]

_ok = {"op": "upsert_node", "id": "ok"}

MALFORMED_INPUTS: list[tuple[str, bytes, str, int | None]] = [
    ("random bytes", b"\x00\xff\x13garbage\x9c", "undecodable", None),
    ("invalid utf-8 json", b'{"op": "upsert_node", "id": "\xff\xfe"}', "undecodable", None),
    (
        "truncated msgpack",
        msgpack.packb({"op": "upsert_node", "id": "abc"})[:-2],
        "undecodable",
        None,
    ),
    ("not a map or list", json.dumps("just a string").encode(), "invalid_message", None),
    ("unknown op", json.dumps({"op": "explode", "id": "a"}).encode(), "unknown_op", 0),
    ("missing field", json.dumps({"op": "upsert_edge", "src": "a"}).encode(), "invalid_op", 0),
    (
        "wrong type in chunk item 2",
        json.dumps(
            {"chunk_id": "bad-2", "items": [_ok, _ok, {"op": "delete_node", "id": [1]}]}
        ).encode(),
        "invalid_id",
        2,
    ),
    (
        "control char id",
        json.dumps({"op": "delete_node", "id": "a\u0001b"}).encode(),
        "invalid_id",
        0,
    ),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, "too_deep", None),
    (
        "oversized message",
        json.dumps({"op": "upsert_node", "id": "x" * 1_000_100}).encode(),
        "message_too_large",
        None,
    ),
    (
        "oversized props",
        json.dumps({"op": "upsert_node", "id": "p", "props": {"blob": "y" * 20_000}}).encode(),
        "props_too_large",
        0,
    ),
    (
        "too many items",
        json.dumps({"chunk_id": "big", "items": [_ok] * 10_001}).encode(),
        "chunk_too_large",
        None,
    ),
    (
        "unknown field",
        json.dumps({"op": "delete_node", "id": "a", "oops": 1}).encode(),
        "unknown_field",
        0,
    ),
]
