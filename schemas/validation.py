"""Turning input-topic messages into validated ops: the one place the op contract is enforced.

The public parsers never raise: they return a :class:`~schemas.ops.Chunk` or a
:class:`~schemas.errors.WireError`. Valid input takes a path without exceptions; helpers
raise :class:`~schemas.errors.WireErrorException` only on the first problem found, and a
chunk with any invalid item is rejected whole, naming the item's index and the chunk id.

A message is one op (a map with ``"op"``, reported as item 0), a list of ops, or a chunk
``{"chunk_id": ..., "items": [...]}``. ``null`` for an optional field means its default.

Nesting depth is measured while validating: a valid document's containers are all visited
here anyway, so only props values need a walk. Whenever a message is rejected for another
reason, the whole document is walked once to report ``too_deep`` in preference, so the code
is the same as if depth had been checked first.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from schemas.codec import Encoding, decode, too_deep
from schemas.errors import ErrorCode, WireError, WireErrorException, echo
from schemas.limits import (
    Limits,
    check_props,
    describe_bad_name,
    normalize_node_id,
    too_deep_error,
    valid_name,
)
from schemas.ops import Chunk, DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode

__all__ = [
    "MAX_CHUNK_ID_LENGTH",
    "parse_chunk",
    "parse_chunk_in_slices",
    "parse_op",
    "parse_ops",
]

MAX_CHUNK_ID_LENGTH = 256
_MISSING: Any = object()


def _reject(code: ErrorCode, message: str) -> WireErrorException:
    return WireErrorException(WireError(code, message))


def _node_id(obj: dict[Any, Any], key: str, op: str, limits: Limits) -> str:
    value = obj.get(key, _MISSING)
    node_id: str | None = value if valid_name(value, limits.max_id_length) else None
    if node_id is None and type(value) is int:
        node_id = normalize_node_id(value, limits.max_id_length)
    if node_id is not None:
        return node_id
    if value is _MISSING:
        raise _reject(ErrorCode.INVALID_OP, f"{op} needs {key!r}")
    message = describe_bad_name(value, key, limits.max_id_length, ints=True)
    raise _reject(ErrorCode.INVALID_ID, message)


def _edge_type(obj: dict[Any, Any], limits: Limits) -> str:
    value = obj.get("type")
    if value is None:
        return ""
    if valid_name(value, limits.max_id_length, allow_empty=True):
        return str(value)
    message = describe_bad_name(value, "edge type", limits.max_id_length, allow_empty=True)
    raise _reject(ErrorCode.INVALID_LABEL, message)


def _labels(value: Any, limits: Limits, room: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) is not list and type(value) is not tuple:
        raise _reject(ErrorCode.INVALID_LABEL, "labels must be a list of strings")
    if room < 1:
        raise too_deep_error(limits)
    max_length = limits.max_id_length
    for label in value:
        if not valid_name(label, max_length):
            raise _reject(ErrorCode.INVALID_LABEL, describe_bad_name(label, "label", max_length))
    return tuple(dict.fromkeys(value)) if len(value) > 1 else tuple(value)


def _check_keys(obj: dict[Any, Any], allowed: frozenset[str], op: str) -> None:
    if not allowed.issuperset(obj):
        key = next(k for k in obj if k not in allowed)
        raise _reject(ErrorCode.UNKNOWN_FIELD, f"unknown field {echo(key)} in {op}")


_UPSERT_NODE_KEYS = frozenset({"op", "id", "labels", "props"})
_UPSERT_EDGE_KEYS = frozenset({"op", "src", "dst", "type", "props"})
_DELETE_EDGE_KEYS = frozenset({"op", "src", "dst", "type"})
_DELETE_NODE_KEYS = frozenset({"op", "id"})


def _upsert_node(obj: dict[Any, Any], limits: Limits, room: int) -> Op:
    _check_keys(obj, _UPSERT_NODE_KEYS, "upsert_node")
    node_id = _node_id(obj, "id", "upsert_node", limits)
    labels = _labels(obj.get("labels"), limits, room)
    return UpsertNode(node_id, labels, check_props(obj.get("props"), limits, room))


def _upsert_edge(obj: dict[Any, Any], limits: Limits, room: int) -> Op:
    _check_keys(obj, _UPSERT_EDGE_KEYS, "upsert_edge")
    src = _node_id(obj, "src", "upsert_edge", limits)
    dst = _node_id(obj, "dst", "upsert_edge", limits)
    edge_type = _edge_type(obj, limits)
    return UpsertEdge(src, dst, edge_type, check_props(obj.get("props"), limits, room))


def _delete_edge(obj: dict[Any, Any], limits: Limits, room: int) -> Op:
    _check_keys(obj, _DELETE_EDGE_KEYS, "delete_edge")
    src = _node_id(obj, "src", "delete_edge", limits)
    dst = _node_id(obj, "dst", "delete_edge", limits)
    return DeleteEdge(src, dst, _edge_type(obj, limits))


def _delete_node(obj: dict[Any, Any], limits: Limits, room: int) -> Op:
    _check_keys(obj, _DELETE_NODE_KEYS, "delete_node")
    return DeleteNode(_node_id(obj, "id", "delete_node", limits))


_OP_PARSERS = {
    "upsert_node": _upsert_node,
    "upsert_edge": _upsert_edge,
    "delete_edge": _delete_edge,
    "delete_node": _delete_node,
}


def _op(obj: Any, limits: Limits, room: int) -> Op:
    """One op map; ``room`` is how many levels may still nest below the op map itself."""
    if type(obj) is not dict:
        kind = "null" if obj is None else type(obj).__name__
        raise _reject(ErrorCode.INVALID_OP, f"an op must be a map, got {kind}")
    if room < 0:
        raise too_deep_error(limits)
    name = obj.get("op", _MISSING)
    parser = _OP_PARSERS.get(name) if type(name) is str else None
    if parser is not None:
        return parser(obj, limits, room)
    if name is _MISSING:
        raise _reject(ErrorCode.INVALID_OP, "op map needs an 'op' field")
    if type(name) is not str:
        raise _reject(ErrorCode.INVALID_OP, f"'op' must be a string, got {echo(name)}")
    raise _reject(ErrorCode.UNKNOWN_OP, f"unknown op {echo(name)}")


def _settle(error: WireError, doc: Any, limits: Limits, chunk_id: str | None) -> WireError:
    """The error to report for a rejected document: ``too_deep`` wins over any other reason."""
    if error.code is ErrorCode.TOO_DEEP or too_deep(doc, limits.max_nesting_depth):
        message = f"document nests deeper than {limits.max_nesting_depth} levels"
        return WireError(ErrorCode.TOO_DEEP, message, None, chunk_id)
    return error


def parse_op(obj: Any, limits: Limits, index: int = 0) -> Op | WireError:
    """Validate one decoded op map (as a whole document); errors carry ``index``."""
    try:
        return _op(obj, limits, limits.max_nesting_depth - 1)
    except WireErrorException as exc:
        error = exc.error
        return _settle(WireError(error.code, error.message, index), obj, limits, None)
    except Exception as exc:
        return WireError(ErrorCode.INTERNAL, f"unexpected {type(exc).__name__}", index)


def _envelope(obj: Any) -> tuple[str | None, Any, int] | WireError:
    """Chunk id, raw item list and the level of that list (0: single op) of a message."""
    if type(obj) is list:
        return None, obj, 1
    if type(obj) is not dict:
        kind = "null" if obj is None else type(obj).__name__
        message = f"expected an op, a list of ops or a chunk, got {kind}"
        return WireError(ErrorCode.INVALID_MESSAGE, message)
    if "op" in obj or ("items" not in obj and "chunk_id" not in obj):
        return None, [obj], 0
    chunk_id = obj.get("chunk_id")
    if chunk_id is not None and not valid_name(chunk_id, MAX_CHUNK_ID_LENGTH):
        message = describe_bad_name(chunk_id, "chunk_id", MAX_CHUNK_ID_LENGTH)
        return WireError(ErrorCode.INVALID_MESSAGE, message)
    for key in obj:
        if key != "items" and key != "chunk_id":
            message = f"unknown field {echo(key)} in chunk"
            return WireError(ErrorCode.UNKNOWN_FIELD, message, chunk_id=chunk_id)
    items = obj.get("items", _MISSING)
    if type(items) is not list:
        message = "chunk needs 'items'" if items is _MISSING else "chunk 'items' must be a list"
        return WireError(ErrorCode.INVALID_MESSAGE, message, chunk_id=chunk_id)
    return chunk_id, items, 2


def _document(obj: Any, limits: Limits, encoding: Encoding) -> Chunk | WireError:
    return _finish(_document_in_slices(obj, limits, encoding, None))


def _finish(steps: Generator[None, None, Chunk | WireError]) -> Chunk | WireError:
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _document_in_slices(
    obj: Any, limits: Limits, encoding: Encoding, slice_size: int | None
) -> Generator[None, None, Chunk | WireError]:
    """:func:`_document`, pausing (``yield``) after every ``slice_size`` items."""
    envelope = _envelope(obj)
    if isinstance(envelope, WireError):
        return _settle(envelope, obj, limits, envelope.chunk_id)
    chunk_id, items, level = envelope
    room = limits.max_nesting_depth - level - 1
    if len(items) > limits.max_items_per_chunk:
        message = f"{len(items)} items, more than the limit of {limits.max_items_per_chunk}"
        error = WireError(ErrorCode.CHUNK_TOO_LARGE, message, chunk_id=chunk_id)
        return _settle(error, obj, limits, chunk_id)
    if level > limits.max_nesting_depth:
        return _settle(WireError(ErrorCode.TOO_DEEP, ""), obj, limits, chunk_id)
    ops: list[Op] = []
    append = ops.append
    step = slice_size or len(items) or 1
    try:
        for start in range(0, len(items), step):
            if start:
                yield
            for item in items[start : start + step]:
                append(_op(item, limits, room))
    except WireErrorException as exc:
        error = WireError(exc.error.code, exc.error.message, len(ops), chunk_id)
        return _settle(error, obj, limits, chunk_id)
    return Chunk(chunk_id, tuple(ops), encoding)


def _internal(exc: BaseException) -> WireError:
    return WireError(ErrorCode.INTERNAL, f"unexpected {type(exc).__name__} while parsing")


def parse_ops(obj: Any, limits: Limits, encoding: Encoding = Encoding.JSON) -> Chunk | WireError:
    """Validate an already-decoded message (op, list of ops or chunk); never raises.

    ``obj`` must be a tree of plain values, as a JSON or msgpack decoder produces.
    """
    try:
        return _document(obj, limits, encoding)
    except Exception as exc:
        return _internal(exc)


def parse_chunk(raw: bytes, content_type: str | bytes | None, limits: Limits) -> Chunk | WireError:
    """Decode and validate one input-topic message; never raises, whatever the bytes."""
    return _finish(parse_chunk_in_slices(raw, content_type, limits, None))


def parse_chunk_in_slices(
    raw: bytes, content_type: str | bytes | None, limits: Limits, slice_size: int | None
) -> Generator[None, None, Chunk | WireError]:
    """:func:`parse_chunk` as a generator that pauses after every ``slice_size`` items
    validated (``None``: never) and returns what :func:`parse_chunk` returns; so a caller on
    an event loop can let other work run between slices of a large chunk."""
    try:
        obj, encoding = decode(
            raw,
            content_type,
            max_bytes=limits.max_message_bytes,
            max_depth=limits.max_nesting_depth,
            verify_depth=False,
        )
        return (yield from _document_in_slices(obj, limits, encoding, slice_size))
    except WireErrorException as exc:
        return exc.error
    except Exception as exc:
        return _internal(exc)
