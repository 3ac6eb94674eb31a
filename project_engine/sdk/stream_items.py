"""The pure parts of result streams: stream kinds and topics, decoded items, the bounded buffer.

A :class:`StreamItem` is one Kafka record of a stream topic with its value decoded from JSON
or msgpack (by ``content-type`` header, else by content). :class:`StreamBuffer` holds decoded
items between the fetching task and the reader: it never holds more than its capacity, says
when fetching must pause (full) and when it may resume (drained to the low-water mark).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from project_engine.sdk.wire import decode_value
from schemas.settings import Settings

__all__ = [
    "DEFAULT_KINDS",
    "KINDS",
    "StreamBuffer",
    "StreamItem",
    "decode_record",
    "kind_topics",
]

KINDS = ("results", "errors", "matches", "dlq", "acks")
DEFAULT_KINDS = ("results", "errors", "matches")
RAW_KINDS = frozenset({"dlq"})
Headers = tuple[tuple[str, bytes], ...]


def kind_topics(settings: Settings, kinds: Iterable[str]) -> dict[str, str]:
    """Topic name -> kind for the requested kinds (``matches``: standing-query matches)."""
    topics = settings.topics
    names = {
        "results": topics.results,
        "errors": topics.errors,
        "matches": topics.matches,
        "dlq": topics.dlq,
        "acks": topics.acks,
    }
    out: dict[str, str] = {}
    for kind in kinds:
        if kind not in names:
            raise ValueError(f"unknown stream kind {kind!r} (expected one of {', '.join(KINDS)})")
        out[names[kind]] = kind
    if not out:
        raise ValueError("a stream needs at least one kind or topic")
    return out


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One record of a stream: where it came from and its decoded value.

    ``value`` is the decoded JSON/msgpack document (``None`` for an empty record or one that
    is neither: then ``undecodable`` is true). ``raw`` is the value's bytes as stored, kept
    for dead-letter items, undecodable ones, or when the stream was asked to keep them.
    ``key`` is the record key as text (invalid UTF-8 replaced), ``timestamp`` is in ms.
    """

    kind: str
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: str | None
    value: Any
    headers: Headers = ()
    raw: bytes | None = None
    undecodable: bool = False

    @property
    def is_error(self) -> bool:
        return self.kind == "errors"


def decode_record(
    kind: str,
    topic: str,
    partition: int,
    offset: int,
    timestamp: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]] | None,
    *,
    keep_raw: bool = False,
) -> StreamItem:
    """Decode one Kafka record into a :class:`StreamItem` (never raises for a bad value)."""
    pairs: Headers = tuple((k, bytes(v) if v is not None else b"") for k, v in headers or ())
    decoded: Any = None
    bad = False
    if value:
        try:
            decoded = decode_value(value, pairs)
        except ValueError:
            bad = True
    keep = keep_raw or bad or kind in RAW_KINDS
    return StreamItem(
        kind=kind,
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=timestamp,
        key=key.decode("utf-8", "replace") if key is not None else None,
        value=decoded,
        headers=pairs,
        raw=value if keep else None,
        undecodable=bad,
    )


class StreamBuffer:
    """A FIFO of at most ``capacity`` items with pause/resume signalling for the fetcher.

    The fetcher asks for :attr:`free` slots, adds what it got with :meth:`put_many` (more
    than that raises) and, once :attr:`full`, waits in :meth:`wait_for_room` until readers
    have drained it to ``resume_at`` items. Readers wait in :meth:`get`.
    """

    def __init__(self, capacity: int, resume_at: int | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"buffer_size must be at least 1, got {capacity}")
        self.capacity = capacity
        self.resume_at = capacity // 2 if resume_at is None else min(resume_at, capacity - 1)
        self.high_water = 0
        self.pauses = 0
        self._items: deque[StreamItem] = deque()
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def free(self) -> int:
        return self.capacity - len(self._items)

    @property
    def full(self) -> bool:
        return len(self._items) >= self.capacity

    @property
    def closed(self) -> bool:
        return self._closed

    def put_many(self, items: Iterable[StreamItem]) -> None:
        batch = list(items)
        if len(batch) > self.free:
            raise OverflowError(f"{len(batch)} items do not fit in {self.free} free slots")
        self._items.extend(batch)
        self.high_water = max(self.high_water, len(self._items))
        if self._items:
            self._readable.set()
        if self.full:
            self._room.clear()
            self.pauses += 1

    def get_nowait(self) -> StreamItem | None:
        """The oldest item, or ``None`` when empty."""
        if not self._items:
            return None
        item = self._items.popleft()
        if not self._items:
            self._readable.clear()
        if len(self._items) <= self.resume_at:
            self._room.set()
        return item

    async def get(self) -> StreamItem | None:
        """The oldest item, waiting for one; ``None`` once closed and drained."""
        while True:
            item = self.get_nowait()
            if item is not None or self._closed:
                return item
            await self._readable.wait()

    async def wait_for_room(self) -> None:
        """Return at once unless full; then wait until drained to ``resume_at`` (or closed)."""
        await self._room.wait()

    def close(self) -> None:
        """Wake every waiter; buffered items can still be read."""
        self._closed = True
        self._readable.set()
        self._room.set()


class SeenMatches:
    """Drops standing-query matches already delivered: a match delivered again after a
    worker crash carries the same ``match_id``. Remembers the latest ``capacity`` ids."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._ids: dict[str, None] = {}

    def fresh(self, items: Iterable[StreamItem]) -> list[StreamItem]:
        out: list[StreamItem] = []
        for item in items:
            mid = item.value.get("match_id") if isinstance(item.value, dict) else None
            if item.kind != "matches" or not isinstance(mid, str):
                out.append(item)
                continue
            if mid in self._ids:
                self.dropped += 1
                continue
            self._ids[mid] = None
            if len(self._ids) > self.capacity:
                del self._ids[next(iter(self._ids))]
            out.append(item)
        return out
