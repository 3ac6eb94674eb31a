"""Encoding and decoding message values for the SDK, on top of :mod:`schemas.codec`.

Outgoing values carry a ``content-type`` header; incoming values are decoded by that
header when present, otherwise by their first byte. Replies come from the engine itself,
so decoding here has no size limit and a generous nesting limit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Literal

from schemas import codec
from schemas.errors import WireErrorException

__all__ = [
    "Encoding",
    "content_type",
    "decode_value",
    "encode_value",
    "header_value",
    "parse_encoding",
    "to_json_line",
]

Encoding = Literal["json", "msgpack"]
Headers = Sequence[tuple[str, bytes]]
_REPLY_MAX_DEPTH = 512


def parse_encoding(raw: str) -> Encoding:
    value = raw.strip().lower()
    if value == "json":
        return "json"
    if value == "msgpack":
        return "msgpack"
    raise ValueError(f"unknown encoding {raw!r} (expected json or msgpack)")


def content_type(encoding: Encoding) -> bytes:
    return codec.content_type_of(codec.Encoding(encoding)).encode("ascii")


def encode_value(obj: Any, encoding: Encoding) -> bytes:
    return codec.encode(obj, codec.Encoding(encoding))


def header_value(headers: Headers | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key.lower() == name:
            return value
    return None


def decode_value(raw: bytes, headers: Headers | None = None) -> Any:
    """Decode a JSON or msgpack value; raises ``ValueError`` when it is neither."""
    try:
        value, _ = codec.decode(
            raw,
            header_value(headers, "content-type"),
            max_bytes=max(len(raw), 1),
            max_depth=_REPLY_MAX_DEPTH,
        )
    except WireErrorException as exc:
        raise ValueError(str(exc)) from exc
    return value


def _json_default(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return repr(obj)


def to_json_line(obj: Any, *, indent: int | None = None) -> str:
    """One JSON document with sorted keys; bytes become ``{"base64": ...}``."""
    return json.dumps(obj, sort_keys=True, indent=indent, default=_json_default, ensure_ascii=False)
