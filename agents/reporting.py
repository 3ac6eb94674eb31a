"""Reporting a rejected message: one error event, one unchanged DLQ copy, and a rejected ack.

Every bad input goes through :func:`reject`, so each one yields exactly one error event and
one dead-letter copy, whatever stage found it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog

from schemas.codec import Encoding, content_type_of, encode
from schemas.errors import ErrorEvent, WireError, dlq_headers

__all__ = ["Source", "header_value", "reject"]

log = structlog.get_logger(__name__)

Source = tuple[str, int, int]


def header_value(headers: Any, name: str) -> str | None:
    """A header's value as text, from Faust's mapping or aiokafka's list of pairs."""
    if not headers:
        return None
    pairs: Iterable[tuple[str, Any]] = headers.items() if hasattr(headers, "items") else headers
    for key, value in pairs:
        if key.lower() == name:
            if isinstance(value, bytes | bytearray):
                return bytes(value).decode("utf-8", "replace")
            return None if value is None else str(value)
    return None


def _header_pairs(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    pairs: Iterable[tuple[str, Any]] = headers.items() if hasattr(headers, "items") else headers
    return [(k, bytes(v) if v is not None else b"") for k, v in pairs]


async def reject(
    engine: Any,
    error: WireError,
    *,
    source: Source,
    key: bytes | None,
    raw: bytes | None,
    headers: Any,
    encoding: Encoding,
    query_id: str | None = None,
    ack_requested: bool = False,
) -> None:
    """Send the error event, the DLQ copy and (when asked for) a rejected ack."""
    topic, partition, offset = source
    event = ErrorEvent.from_wire_error(
        error, topic=topic, partition=partition, offset=offset, query_id=query_id
    )
    ctype = [("content-type", content_type_of(encoding).encode())]
    await engine.errors_topic.send(key=key, value=encode(event.to_wire(), encoding), headers=ctype)
    dlq = _header_pairs(headers) + dlq_headers(
        error.code, error.message, topic=topic, partition=partition, offset=offset
    )
    await engine.dlq_topic.send(key=key, value=raw if raw is not None else b"", headers=dlq)
    if ack_requested and error.chunk_id:
        ack = {
            "chunk_id": error.chunk_id,
            "status": "rejected",
            "error": {
                "code": str(error.code),
                "message": error.message,
                "item_index": error.item_index,
            },
        }
        await engine.acks_topic.send(
            key=error.chunk_id.encode(), value=encode(ack, encoding), headers=ctype
        )
    engine.count(f"errors.{error.code}")
    log.warning(
        "message rejected",
        code=str(error.code),
        topic=topic,
        partition=partition,
        offset=offset,
        chunk_id=error.chunk_id,
        item_index=error.item_index,
        query_id=query_id,
    )
