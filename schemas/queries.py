"""Queries on the query topic: the query contract, the registry of query types, result envelopes.

A query is one map: ``query_id`` (optional; a uuid4 hex is generated when absent), ``type``,
``reply_to`` (optional topic), ``timeout_ms`` (optional, 1..600000) and the type's own
arguments as further top-level keys. Each type declares its arguments as :class:`Param` s;
new types plug in with :func:`register_query_type`. :func:`parse_query` never raises: a bad
query yields a :class:`QueryRejection` carrying whatever is needed to answer the client.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from schemas.codec import Encoding, decode, response_encoding, too_deep
from schemas.errors import (
    MAX_MESSAGE_CHARS,
    RETRYABLE_CODES,
    ErrorCode,
    WireError,
    WireErrorException,
    echo,
)
from schemas.limits import Limits, describe_bad_name, normalize_node_id, valid_name

__all__ = [
    "DIRECTIONS",
    "MAX_QUERY_ID_LENGTH",
    "MAX_TIMEOUT_MS",
    "QUERY_TYPES",
    "ArgCheck",
    "Param",
    "Query",
    "QueryRejection",
    "QueryType",
    "direction_arg",
    "edge_type_arg",
    "error_result",
    "int_arg",
    "node_id_arg",
    "ok_result",
    "parse_query",
    "parse_query_obj",
    "register_query_type",
]

MAX_QUERY_ID_LENGTH = 256
MAX_TIMEOUT_MS = 600_000
DIRECTIONS = ("out", "in", "both")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_ENVELOPE_KEYS = frozenset({"query_id", "type", "reply_to", "timeout_ms"})
_MISSING: Any = object()


def _bad(message: str) -> WireErrorException:
    return WireErrorException(WireError(ErrorCode.BAD_ARGUMENTS, message))


ArgCheck = Callable[[str, Any, Limits], Any]
"""Validate one argument (name, value, limits); return its normalized value or raise."""


def node_id_arg(name: str, value: Any, limits: Limits) -> str:
    """A node id, with the op rules (integers become decimal strings)."""
    node_id = normalize_node_id(value, limits.max_id_length)
    if node_id is None:
        raise _bad(describe_bad_name(value, name, limits.max_id_length, ints=True))
    return node_id


def direction_arg(name: str, value: Any, limits: Limits) -> str:
    """One of ``out``, ``in``, ``both``."""
    if type(value) is str and value in DIRECTIONS:
        return value
    raise _bad(f"{name} must be one of out, in, both; got {echo(value)}")


def edge_type_arg(name: str, value: Any, limits: Limits) -> str:
    """An edge type, with the op rules (may be empty)."""
    if valid_name(value, limits.max_id_length, allow_empty=True):
        return str(value)
    raise _bad(describe_bad_name(value, name, limits.max_id_length, allow_empty=True))


def int_arg(low: int, high: int) -> ArgCheck:
    """An :data:`ArgCheck` for a whole number in ``low..high`` (booleans are not numbers)."""

    def check(name: str, value: Any, limits: Limits) -> int:
        if type(value) is int and low <= value <= high:
            return value
        raise _bad(f"{name} must be a whole number in {low}..{high}, got {echo(value)}")

    return check


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of a query type; an absent or null optional argument takes ``default``."""

    name: str
    check: ArgCheck
    required: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class QueryType:
    """A query type: its name and its arguments, in the order they are documented."""

    name: str
    params: tuple[Param, ...] = ()

    def validate_args(self, raw: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
        """Every declared argument, normalized, defaults filled; raises on a bad argument."""
        known = {p.name for p in self.params}
        for key in raw:
            if key not in known:
                raise _bad(f"unknown argument {echo(key)} for query type {self.name}")
        args: dict[str, Any] = {}
        for param in self.params:
            value = raw.get(param.name)
            if value is None:
                if param.required:
                    raise _bad(f"query type {self.name} needs {param.name!r}")
                args[param.name] = param.default
            else:
                args[param.name] = param.check(param.name, value, limits)
        return args


_REGISTRY: dict[str, QueryType] = {}
QUERY_TYPES: Mapping[str, QueryType] = MappingProxyType(_REGISTRY)
"""Read-only view of every registered query type, by name."""


def register_query_type(query_type: QueryType, *, replace: bool = False) -> QueryType:
    """Add a query type to :data:`QUERY_TYPES`; re-registering a name needs ``replace``."""
    if query_type.name in _REGISTRY and not replace:
        raise ValueError(f"query type {query_type.name!r} is already registered")
    _REGISTRY[query_type.name] = query_type
    return query_type


def _node(name: str = "id") -> Param:
    return Param(name, node_id_arg, required=True)


_DIRECTION = Param("direction", direction_arg, default="out")
_EDGE_TYPE = Param("edge_type", edge_type_arg)
_MAX_DEPTH = Param("max_depth", int_arg(1, 20), default=6)

for _type in (
    QueryType("stats"),
    QueryType("digest"),
    QueryType("node", (_node(),)),
    QueryType("neighbors", (_node(), _DIRECTION, _EDGE_TYPE, Param("limit", int_arg(1, 100_000)))),
    QueryType("khop", (_node(), Param("depth", int_arg(1, 10), True), _DIRECTION, _EDGE_TYPE)),
    QueryType("shortest_path", (_node("src"), _node("dst"), _MAX_DEPTH, _DIRECTION, _EDGE_TYPE)),
    QueryType("subgraph", (_node(), Param("depth", int_arg(1, 5), True), _DIRECTION, _EDGE_TYPE)),
    QueryType("top_degree", (Param("k", int_arg(1, 10_000), True), _DIRECTION)),
):
    register_query_type(_type)


@dataclass(frozen=True, slots=True)
class Query:
    """One accepted query; ``args`` holds every argument of its type, defaults filled in."""

    query_id: str
    type: str
    args: Mapping[str, Any]
    reply_to: str | None
    timeout_ms: int | None
    encoding: Encoding


@dataclass(frozen=True, slots=True)
class QueryRejection:
    """A query that cannot run, with what could be read of it so the client can be answered.

    ``query_id`` and ``reply_to`` are ``None`` when absent or unusable; ``encoding`` is the
    encoding to answer in (JSON when the message could not even be recognised).
    """

    error: WireError
    query_id: str | None
    reply_to: str | None
    encoding: Encoding

    def result(self) -> dict[str, Any]:
        """The error envelope to send back."""
        return error_result(self.query_id, self.error.code, self.error.message)


def _valid_topic(value: Any) -> bool:
    return type(value) is str and value not in (".", "..") and bool(_TOPIC_NAME.fullmatch(value))


def _query(
    obj: dict[Any, Any],
    limits: Limits,
    encoding: Encoding,
    query_id: str | None,
    reply_to: str | None,
) -> Query:
    raw_id = obj.get("query_id")
    if raw_id is not None and query_id is None:
        raise _bad(describe_bad_name(raw_id, "query_id", MAX_QUERY_ID_LENGTH))
    raw_reply = obj.get("reply_to")
    if raw_reply is not None and reply_to is None:
        raise _bad(f"reply_to must be a Kafka topic name, got {echo(raw_reply)}")
    timeout_ms = obj.get("timeout_ms")
    if timeout_ms is not None:
        timeout_ms = int_arg(1, MAX_TIMEOUT_MS)("timeout_ms", timeout_ms, limits)
    name = obj.get("type", _MISSING)
    if type(name) is not str:
        message = "query needs a 'type'" if name is _MISSING else "query 'type' must be a string"
        raise WireErrorException(WireError(ErrorCode.INVALID_MESSAGE, message))
    query_type = QUERY_TYPES.get(name)
    if query_type is None:
        message = f"unknown query type {echo(name)}"
        raise WireErrorException(WireError(ErrorCode.UNKNOWN_QUERY_TYPE, message))
    raw_args = {k: v for k, v in obj.items() if k not in _ENVELOPE_KEYS}
    args = query_type.validate_args(raw_args, limits)
    return Query(query_id or uuid.uuid4().hex, name, args, reply_to, timeout_ms, encoding)


def parse_query_obj(
    obj: Any, limits: Limits, encoding: Encoding = Encoding.JSON
) -> Query | QueryRejection:
    """Validate an already-decoded query map; never raises."""
    query_id = reply_to = None
    try:
        if type(obj) is dict:
            raw_id = obj.get("query_id")
            query_id = raw_id if valid_name(raw_id, MAX_QUERY_ID_LENGTH) else None
            raw_reply = obj.get("reply_to")
            reply_to = raw_reply if _valid_topic(raw_reply) else None
        if too_deep(obj, limits.max_nesting_depth):
            message = f"document nests deeper than {limits.max_nesting_depth} levels"
            raise WireErrorException(WireError(ErrorCode.TOO_DEEP, message))
        if type(obj) is not dict:
            kind = "null" if obj is None else type(obj).__name__
            message = f"a query must be a map, got {kind}"
            raise WireErrorException(WireError(ErrorCode.INVALID_MESSAGE, message))
        return _query(obj, limits, encoding, query_id, reply_to)
    except WireErrorException as exc:
        return QueryRejection(exc.error, query_id, reply_to, encoding)
    except Exception as exc:
        error = WireError(ErrorCode.INTERNAL, f"unexpected {type(exc).__name__} in query")
        return QueryRejection(error, query_id, reply_to, encoding)


def parse_query(
    raw: bytes, content_type: str | bytes | None, limits: Limits
) -> Query | QueryRejection:
    """Decode and validate one query-topic message; never raises, whatever the bytes."""
    encoding = Encoding.JSON
    try:
        encoding = response_encoding(raw, content_type)
        obj, encoding = decode(
            raw,
            content_type,
            max_bytes=limits.max_message_bytes,
            max_depth=limits.max_nesting_depth,
            verify_depth=False,
        )
    except WireErrorException as exc:
        return QueryRejection(exc.error, None, None, encoding)
    except Exception as exc:
        error = WireError(ErrorCode.INTERNAL, f"unexpected {type(exc).__name__} in query")
        return QueryRejection(error, None, None, encoding)
    return parse_query_obj(obj, limits, encoding)


def ok_result(query_id: str, result: Any) -> dict[str, Any]:
    """The envelope of a successful answer."""
    return {"query_id": query_id, "status": "ok", "result": result}


def error_result(
    query_id: str | None,
    code: ErrorCode | str,
    message: str,
    *,
    retryable: bool | None = None,
) -> dict[str, Any]:
    """The envelope of a failed query; ``retryable`` defaults to true for timeout/unavailable."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    error: dict[str, Any] = {"code": str(code), "message": message}
    if retryable is None:
        retryable = code in RETRYABLE_CODES
    if retryable:
        error["retryable"] = True
    return {"query_id": query_id, "status": "error", "error": error}
