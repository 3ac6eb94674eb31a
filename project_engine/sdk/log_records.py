"""Exported log records: one Kafka record with its coordinates, written as JSON lines or msgpack.

An export file holds one record per message, each partition's records in offset order::

    {"topic": "graph-input", "partition": 0, "offset": 17, "timestamp": 1718000000000,
     "key": "<base64>" | null, "headers": [["content-type", "<base64>"]], "value": "<base64>"}

In msgpack files the same maps follow each other with ``key``, header values and ``value``
as bytes. Reading detects the format from the first byte (``{`` means JSON lines).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Literal, cast

import msgpack

__all__ = [
    "ExportFormat",
    "LogRecord",
    "parse_until",
    "read_records",
    "target_partition",
    "write_record",
]

ExportFormat = Literal["jsonl", "msgpack"]
Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One stored Kafka record, value and key untouched."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()

    def to_map(self, *, text: bool) -> dict[str, Any]:
        """The record as a map; ``text`` encodes bytes as base64 strings (for JSON)."""

        def enc(raw: bytes | None) -> str | bytes | None:
            if raw is None or not text:
                return raw
            return base64.b64encode(raw).decode("ascii")

        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "key": enc(self.key),
            "headers": [[name, enc(value)] for name, value in self.headers],
            "value": enc(self.value),
        }

    @classmethod
    def from_map(cls, doc: Mapping[str, Any]) -> LogRecord:
        """Parse a map written by :meth:`to_map` (either form); raises ``ValueError``."""
        try:
            headers = tuple((str(name), _bytes(value) or b"") for name, value in doc["headers"])
            return cls(
                topic=str(doc.get("topic", "")),
                partition=_int(doc["partition"]),
                offset=_int(doc["offset"]),
                timestamp=_int(doc["timestamp"]),
                key=_bytes(doc["key"]),
                value=_bytes(doc["value"]),
                headers=headers,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an exported record: {exc!r}") from None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError(f"invalid base64 {value[:40]!r}") from None
    raise ValueError(f"expected bytes, base64 text or null, got {type(value).__name__}")


def write_record(out: IO[bytes], record: LogRecord, fmt: ExportFormat) -> None:
    """Append one record to ``out`` in ``fmt``."""
    if fmt == "jsonl":
        line = json.dumps(record.to_map(text=True), separators=(",", ":"))
        out.write(line.encode("ascii") + b"\n")
    else:
        out.write(msgpack.packb(record.to_map(text=False), use_bin_type=True))


def read_records(
    stream: IO[bytes], fmt: ExportFormat | Literal["auto"] = "auto"
) -> Iterator[LogRecord]:
    """Yield the records of an export file; ``ValueError`` names the bad record's position."""
    if fmt == "auto":
        if not hasattr(stream, "peek"):
            stream = io.BufferedReader(cast(Any, stream))
        first = cast(io.BufferedReader, stream).peek(1)[:1]
        fmt = "jsonl" if first in (b"{", b"") else "msgpack"
    if fmt == "jsonl":
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                if not isinstance(doc, dict):
                    raise ValueError("not a map")
                yield LogRecord.from_map(doc)
            except ValueError as exc:
                raise ValueError(f"line {line_no}: {exc}") from None
        return
    unpacker = msgpack.Unpacker(stream, raw=False, max_buffer_size=64 * 1024 * 1024)
    for index, doc in enumerate(unpacker, start=1):
        if not isinstance(doc, dict):
            raise ValueError(f"record {index}: not a map")
        try:
            yield LogRecord.from_map(doc)
        except ValueError as exc:
            raise ValueError(f"record {index}: {exc}") from None


def parse_until(until_ms: int | None, until_iso: str | None) -> int | None:
    """The cut-off timestamp in ms from ``--until-timestamp`` or ``--until`` (ISO 8601).

    An ISO time without a zone is taken as UTC. Raises ``ValueError`` for bad input.
    """
    if until_ms is not None and until_iso is not None:
        raise ValueError("give --until-timestamp or --until, not both")
    if until_ms is not None:
        if until_ms < 0:
            raise ValueError(f"--until-timestamp must not be negative, got {until_ms}")
        return until_ms
    if until_iso is None:
        return None
    text = until_iso.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--until is not an ISO 8601 time: {until_iso!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (moment - epoch) // dt.timedelta(milliseconds=1)


def target_partition(source_partition: int, target_partitions: int) -> int:
    """Where a record of ``source_partition`` goes in a topic of ``target_partitions``.

    The same partition number when it exists there, else ``source % target``: every source
    partition lands whole in one target partition, so its order is kept.
    """
    if target_partitions < 1:
        raise ValueError("the target topic has no partitions")
    if source_partition < target_partitions:
        return source_partition
    return source_partition % target_partitions
