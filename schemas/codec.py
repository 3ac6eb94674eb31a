"""Bytes <-> documents for every public topic: encoding detection, bounded decoding, encoding.

Convention: :func:`decode` raises :class:`~schemas.errors.WireErrorException` for any input
it cannot accept (``message_too_large``, ``undecodable``, ``too_deep``) and never raises
anything else; the parsers in :mod:`schemas.validation` and :mod:`schemas.queries` turn that
into a returned :class:`~schemas.errors.WireError`.

Depth is the number of nested lists/maps: a scalar document has depth 0, ``[]`` depth 1,
``[[]]`` depth 2. Both decoders refuse pathological nesting while decoding (the JSON decoder
stops at the interpreter's recursion limit, the msgpack decoder at 1024 levels); both become
``too_deep``, never a ``RecursionError``. The exact limit is then checked by
:func:`too_deep`, an iterative walk that cannot exhaust the stack.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Set
from enum import StrEnum
from itertools import chain, compress, repeat
from operator import is_, is_not
from typing import Any

import msgpack

from schemas.errors import ErrorCode, WireError, WireErrorException

__all__ = [
    "Encoding",
    "content_type_of",
    "decode",
    "detect_encoding",
    "encode",
    "response_encoding",
    "too_deep",
]


class Encoding(StrEnum):
    """The two encodings every public topic accepts; replies reuse the request's encoding."""

    JSON = "json"
    MSGPACK = "msgpack"


_CONTENT_TYPES: dict[str, Encoding] = {
    "application/json": Encoding.JSON,
    "application/msgpack": Encoding.MSGPACK,
    "application/x-msgpack": Encoding.MSGPACK,
}
_CONTENT_TYPE_OF = {Encoding.JSON: "application/json", Encoding.MSGPACK: "application/msgpack"}
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")
_FIRST_BYTE: dict[int, Encoding] = {b: Encoding.JSON for b in b'{["0123456789-tfn'}
_FIRST_BYTE.update({b: Encoding.MSGPACK for b in (*range(0x80, 0xA0), *range(0xDC, 0xE0))})

_IS_CONTAINER = frozenset({list, dict, tuple}).__contains__


def _declared(content_type: str | bytes | None) -> Encoding | None:
    if content_type is None:
        return None
    if isinstance(content_type, bytes | bytearray):
        content_type = bytes(content_type).decode("latin-1")
    if not isinstance(content_type, str):
        return None
    return _CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def detect_encoding(raw: bytes, content_type: str | bytes | None = None) -> Encoding | None:
    """The encoding of ``raw``: the declared content type wins, else the first byte decides.

    Returns ``None`` when neither a known content type nor the content says which.
    """
    declared = _declared(content_type)
    if declared is not None:
        return declared
    if not raw:
        return None
    first = raw[0]
    if first in _WHITESPACE:
        stripped = bytes(raw).lstrip()
        if not stripped:
            return None
        first = stripped[0]
    return _FIRST_BYTE.get(first)


def response_encoding(raw: bytes | None, content_type: str | bytes | None = None) -> Encoding:
    """The encoding to answer ``raw`` in: its detected encoding, JSON when unknown."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        return _declared(content_type) or Encoding.JSON
    return detect_encoding(bytes(raw), content_type) or Encoding.JSON


def content_type_of(encoding: Encoding) -> str:
    """The ``content-type`` header value to send with a message in ``encoding``."""
    return _CONTENT_TYPE_OF[encoding]


def _fail(code: ErrorCode, message: str) -> WireErrorException:
    return WireErrorException(WireError(code, message))


def too_deep(obj: Any, max_depth: int) -> bool:
    """True when a decoded document nests lists/maps deeper than ``max_depth``.

    Walks one level at a time without recursion (each level in C-implemented iterators) and
    stops as soon as the limit is passed. ``obj`` must be a tree, as decoders produce.
    """
    level: list[Any] = [obj] if _IS_CONTAINER(type(obj)) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        kinds = list(map(type, level))
        maps = compress(level, map(is_, kinds, repeat(dict)))
        sequences = compress(level, map(is_not, kinds, repeat(dict)))
        children = list(chain(chain.from_iterable(map(dict.values, maps)), *sequences))
        level = list(compress(children, map(_IS_CONTAINER, map(type, children))))
    return False


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


_JSON_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_reject_constant)


def _reject_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"msgpack extension type {code} is not allowed")


def _decode_json(raw: bytes, max_depth: int) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(ErrorCode.UNDECODABLE, f"invalid UTF-8 at byte {exc.start}") from None
    try:
        return _JSON_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _fail(ErrorCode.UNDECODABLE, f"invalid JSON: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise _fail(ErrorCode.TOO_DEEP, f"document nests deeper than {max_depth} levels") from None
    except Exception as exc:
        raise _fail(ErrorCode.UNDECODABLE, f"invalid JSON: {_reason(exc)}") from None


def _decode_msgpack(raw: bytes, max_depth: int) -> Any:
    try:
        return msgpack.unpackb(raw, raw=False, strict_map_key=False, ext_hook=_reject_ext)
    except UnicodeDecodeError:
        raise _fail(ErrorCode.UNDECODABLE, "invalid UTF-8 in a msgpack string") from None
    except msgpack.StackError:
        raise _fail(ErrorCode.TOO_DEEP, f"document nests deeper than {max_depth} levels") from None
    except Exception as exc:
        raise _fail(ErrorCode.UNDECODABLE, f"invalid msgpack: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, msgpack.ExtraData):
        return "trailing bytes after the document"
    if isinstance(exc, TypeError):
        return "a map key is a list or map"
    if isinstance(exc, ValueError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0][:120]
    return type(exc).__name__


def decode(
    raw: bytes,
    content_type: str | bytes | None = None,
    *,
    max_bytes: int,
    max_depth: int,
    verify_depth: bool = True,
) -> tuple[Any, Encoding]:
    """Decode one message into a document and the encoding it used.

    Raises :class:`WireErrorException` (``message_too_large``, ``undecodable`` or
    ``too_deep``); the size is checked before anything else is looked at. The decoders
    refuse pathological nesting themselves; the exact ``max_depth`` walk can be left to a
    caller that measures depth while validating (``verify_depth=False``).
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise _fail(ErrorCode.UNDECODABLE, "message has no body")
    if len(raw) > max_bytes:
        raise _fail(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"message is {len(raw)} bytes, more than the limit of {max_bytes}",
        )
    data = raw if type(raw) is bytes else bytes(raw)
    encoding = detect_encoding(data, content_type)
    if encoding is None:
        raise _fail(ErrorCode.UNDECODABLE, "message is neither JSON nor msgpack")
    if encoding is Encoding.JSON:
        obj = _decode_json(data, max_depth)
    else:
        obj = _decode_msgpack(data, max_depth)
    if verify_depth and too_deep(obj, max_depth):
        raise _fail(ErrorCode.TOO_DEEP, f"document nests deeper than {max_depth} levels")
    return obj, encoding


def _default(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, Set):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


_JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default
)


def encode(obj: Any, encoding: Encoding) -> bytes:
    """Encode a document: compact UTF-8 JSON, or msgpack with the bin type for bytes.

    Raises ``TypeError``/``ValueError`` for values with no JSON/msgpack form (NaN in JSON).
    """
    if encoding is Encoding.MSGPACK:
        data: bytes = msgpack.packb(obj, use_bin_type=True, default=_default)
        return data
    return _JSON_ENCODER.encode(obj).encode("utf-8")
