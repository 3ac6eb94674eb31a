"""Error codes and the error shapes that leave the engine: wire errors, error events, DLQ headers.

Every rejection of a message is described by a :class:`WireError` carrying an
:class:`ErrorCode`. Messages are kept short (at most 300 characters) and never quote more
than 80 characters of user input; :func:`echo` is the one way user input enters a message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "ERROR_CODE_DOCS",
    "MAX_DLQ_MESSAGE_BYTES",
    "MAX_ECHO_CHARS",
    "MAX_MESSAGE_CHARS",
    "RETRYABLE_CODES",
    "ErrorCode",
    "ErrorEvent",
    "WireError",
    "WireErrorException",
    "dlq_headers",
    "echo",
]

MAX_MESSAGE_CHARS = 300
MAX_ECHO_CHARS = 80
MAX_DLQ_MESSAGE_BYTES = 512


class ErrorCode(StrEnum):
    """Machine-readable reason a message, op or query was rejected or failed."""

    UNDECODABLE = "undecodable"
    MESSAGE_TOO_LARGE = "message_too_large"
    TOO_DEEP = "too_deep"
    INVALID_MESSAGE = "invalid_message"
    CHUNK_TOO_LARGE = "chunk_too_large"
    INVALID_OP = "invalid_op"
    UNKNOWN_OP = "unknown_op"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_ID = "invalid_id"
    INVALID_LABEL = "invalid_label"
    INVALID_PROPS = "invalid_props"
    PROPS_TOO_LARGE = "props_too_large"
    UNKNOWN_QUERY_TYPE = "unknown_query_type"
    BAD_ARGUMENTS = "bad_arguments"
    LIMIT_EXCEEDED = "limit_exceeded"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


ERROR_CODE_DOCS: dict[ErrorCode, str] = {
    ErrorCode.UNDECODABLE: (
        "The message is neither valid UTF-8 JSON nor valid msgpack (or uses NaN, Infinity, "
        "a msgpack extension type or trailing bytes)."
    ),
    ErrorCode.MESSAGE_TOO_LARGE: "The raw message is larger than `max_message_bytes`.",
    ErrorCode.TOO_DEEP: ("The decoded document nests lists/maps deeper than `max_nesting_depth`."),
    ErrorCode.INVALID_MESSAGE: (
        "The document is not an op, a list of ops, a chunk or a query map, or a chunk/query "
        "envelope field (`chunk_id`, `items`, `type`) has the wrong type."
    ),
    ErrorCode.CHUNK_TOO_LARGE: "The message carries more than `max_items_per_chunk` ops.",
    ErrorCode.INVALID_OP: 'An op is not a map, lacks `"op"` or lacks a required field.',
    ErrorCode.UNKNOWN_OP: 'The `"op"` value is not one of the known mutation ops.',
    ErrorCode.UNKNOWN_FIELD: "An op or chunk carries a key that is not part of its contract.",
    ErrorCode.INVALID_ID: (
        "A node id is not a non-empty string or integer, is longer than `max_id_length` or "
        "contains a control character or unpaired surrogate."
    ),
    ErrorCode.INVALID_LABEL: (
        "A label or edge type is not a string, is too long or contains a control character "
        "(labels must also be non-empty)."
    ),
    ErrorCode.INVALID_PROPS: (
        "`props` is not a map from strings to JSON values (for example bytes, non-string "
        "keys, NaN, integers beyond 64 bits or unpaired surrogates)."
    ),
    ErrorCode.PROPS_TOO_LARGE: "The props, encoded as compact JSON, exceed `max_props_bytes`.",
    ErrorCode.UNKNOWN_QUERY_TYPE: "The query `type` is not a known query type.",
    ErrorCode.BAD_ARGUMENTS: (
        "A query argument, `query_id`, `reply_to` or `timeout_ms` is missing, unknown, of the "
        "wrong type or out of range."
    ),
    ErrorCode.LIMIT_EXCEEDED: "The query would exceed a server-side result or work limit.",
    ErrorCode.TIMEOUT: "The query did not finish within its timeout; retrying may succeed.",
    ErrorCode.UNAVAILABLE: "The engine cannot serve the request right now; retry later.",
    ErrorCode.INTERNAL: "An unexpected server-side failure; the message was not applied.",
}

RETRYABLE_CODES: frozenset[ErrorCode] = frozenset({ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE})


def echo(value: object) -> str:
    """A short, printable quotation of user input: at most 80 characters, escapes visible.

    Only strings are quoted; any other value is described by its type name, so that
    hostile objects (deeply nested lists, huge numbers) are never rendered.
    """
    if type(value) is not str:
        return f"<{type(value).__name__}>"
    text = repr(value[:MAX_ECHO_CHARS])
    if len(text) > MAX_ECHO_CHARS:
        text = text[: MAX_ECHO_CHARS - 3] + "..."
    elif len(value) > MAX_ECHO_CHARS:
        text += "..."
    return text


def _shorten(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 3] + "..."


@dataclass(frozen=True, slots=True)
class WireError:
    """Why one message (or one item of it) was rejected; the message is capped at 300 chars."""

    code: ErrorCode
    message: str
    item_index: int | None = None
    chunk_id: str | None = None

    def __post_init__(self) -> None:
        if len(self.message) > MAX_MESSAGE_CHARS:
            object.__setattr__(self, "message", _shorten(self.message))

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES


class WireErrorException(Exception):
    """Carries a :class:`WireError` out of :mod:`schemas.codec`; never escapes the parsers."""

    def __init__(self, error: WireError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """One record on the errors topic, describing a rejected message and where it came from."""

    code: ErrorCode
    message: str
    topic: str
    partition: int
    offset: int
    chunk_id: str | None = None
    item_index: int | None = None
    query_id: str | None = None
    ts: int = field(default_factory=_now_ms)

    @classmethod
    def from_wire_error(
        cls,
        error: WireError,
        *,
        topic: str,
        partition: int,
        offset: int,
        query_id: str | None = None,
        ts: int | None = None,
    ) -> ErrorEvent:
        return cls(
            code=error.code,
            message=_shorten(error.message),
            topic=topic,
            partition=partition,
            offset=offset,
            chunk_id=error.chunk_id,
            item_index=error.item_index,
            query_id=query_id,
            ts=_now_ms() if ts is None else ts,
        )

    def to_wire(self) -> dict[str, Any]:
        """The event as a plain map; ``query_id`` is present only for rejected queries."""
        wire: dict[str, Any] = {
            "code": str(self.code),
            "message": _shorten(self.message),
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "chunk_id": self.chunk_id,
            "item_index": self.item_index,
            "ts": self.ts,
        }
        if self.query_id is not None:
            wire["query_id"] = self.query_id
        return wire


def _truncate_utf8(text: str, max_bytes: int) -> bytes:
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= max_bytes:
        return data
    # Cut on a character boundary: drop continuation bytes left dangling by the cut.
    return data[:max_bytes].decode("utf-8", "ignore").encode("utf-8")


def dlq_headers(
    code: ErrorCode | str,
    message: str,
    *,
    topic: str,
    partition: int,
    offset: int,
) -> list[tuple[str, bytes]]:
    """Kafka headers for a raw message forwarded unchanged to the DLQ topic.

    ``error-message`` is truncated to 512 bytes of UTF-8 without splitting a character.
    """
    return [
        ("error-code", str(code).encode("utf-8")),
        ("error-message", _truncate_utf8(message, MAX_DLQ_MESSAGE_BYTES)),
        ("source-topic", topic.encode("utf-8", "backslashreplace")),
        ("source-partition", str(partition).encode("ascii")),
        ("source-offset", str(offset).encode("ascii")),
    ]
