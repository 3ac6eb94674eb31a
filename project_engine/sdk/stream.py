"""Live streams of query results, error events and standing-query matches.

A :class:`Stream` reads the chosen topics of one namespace and hands out decoded
:class:`~project_engine.sdk.stream_items.StreamItem` records, either by iteration
(``async for item in stream``) or to handlers (``stream.on("data", fn)``). Records pass
through a bounded buffer: when it holds ``buffer_size`` items the consumer's partitions are
paused and nothing more is fetched until readers have drained it to half, so a slow reader
costs no memory and the rest of the log waits in Kafka.

Without ``group_id`` every partition is assigned and positioned before :func:`open_stream`
returns (``start="latest"``: nothing produced afterwards is missed; ``"earliest"``: the
whole retained log); topics that do not exist yet are picked up when they appear. With
``group_id`` the members of that group share the partitions and the positions of delivered
items are committed (at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal

import structlog

from project_engine.sdk.retry import RetryPolicy, classify
from project_engine.sdk.stream_consumer import Start, StreamConsumer
from project_engine.sdk.stream_items import (
    DEFAULT_KINDS,
    KINDS,
    SeenMatches,
    StreamBuffer,
    StreamItem,
    kind_topics,
)
from schemas.settings import Settings

__all__ = ["Handler", "Stream", "open_stream"]

log = structlog.get_logger(__name__)
Handler = Callable[[Any], object]
_BACKOFF = RetryPolicy(max_attempts=1_000_000, base_delay=0.2, max_delay=5.0, deadline=None)


async def open_stream(settings: Settings, **options: Any) -> Stream:
    """Create a :class:`Stream` with ``options`` and start it (positions are resolved)."""
    return await Stream(settings, **options).start()


class Stream:
    """Decoded records of results, errors and matches topics; see the module docstring.

    ``kinds`` picks topics of the namespace (``results``, ``errors``, ``matches``, ``dlq``,
    ``acks``); ``topics`` names topics explicitly instead. ``keep_raw`` keeps every value's
    bytes in :attr:`StreamItem.raw` (always kept for ``dlq`` and undecodable values).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        kinds: Iterable[str] = DEFAULT_KINDS,
        topics: Iterable[str] | None = None,
        start: Start = "latest",
        group_id: str | None = None,
        buffer_size: int = 1000,
        keep_raw: bool = False,
        wait_for_topics: bool = True,
        client_id: str = "project-engine-stream",
        poll_interval: float = 0.5,
    ) -> None:
        if topics is None:
            names: Mapping[str, str] = kind_topics(settings, _names(kinds))
        else:
            known = kind_topics(settings, KINDS)
            names = {t: known.get(t, t) for t in _names(topics)}
            if not names:
                raise ValueError("a stream needs at least one topic")
        self.topics = names
        self.settings = settings
        self.failure: BaseException | None = None
        self.delivered = 0
        self._source = StreamConsumer(
            settings,
            names,
            start=start,
            group_id=group_id,
            client_id=client_id,
            keep_raw=keep_raw,
            wait_for_topics=wait_for_topics,
        )
        self._buffer = StreamBuffer(buffer_size)
        self._seen = SeenMatches()
        self._poll_ms = max(1, int(poll_interval * 1000))
        self._handlers: dict[str, list[Handler]] = {"data": [], "error": []}
        self._fetcher: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._closed = False

    async def start(self) -> Stream:
        """Connect, assign or join, resolve start positions, then fetch in the background."""
        await self._source.start()
        self._fetcher = asyncio.create_task(self._fetch_loop(), name="stream-fetch")
        if self._handlers["data"]:
            self._start_dispatch()
        log.debug("stream started", topics=sorted(self.topics))
        return self

    async def close(self) -> None:
        """Stop fetching and dispatching, commit delivered positions (with a group), disconnect."""
        if self._closed:
            return
        self._closed = True
        self._buffer.close()
        for task in (self._fetcher, self._dispatcher):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            await self._source.stop()
        finally:
            self._stopped.set()

    async def wait_closed(self) -> None:
        """Wait until the stream is closed or has stopped on a failure (see :attr:`failure`)."""
        await self._stopped.wait()

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def buffered(self) -> int:
        """Items fetched and not yet delivered (never more than ``buffer_size``)."""
        return len(self._buffer)

    @property
    def max_buffered(self) -> int:
        """The most items the buffer has held at once."""
        return self._buffer.high_water

    @property
    def pauses(self) -> int:
        """How many times fetching paused because the buffer was full."""
        return self._buffer.pauses

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> StreamItem:
        if self._handlers["data"]:
            raise RuntimeError("this stream hands its items to 'data' handlers; do not iterate")
        item = None if self._closed else await self._buffer.get()
        if item is None or self._closed:
            if self.failure is not None and not self._closed:
                raise self.failure
            raise StopAsyncIteration
        self._delivered(item)
        return item

    async def get(self, timeout: float | None = None) -> StreamItem | None:
        """The next item, or ``None`` when none comes within ``timeout`` or the stream ended."""
        try:
            async with asyncio.timeout(timeout):
                return await self.__anext__()
        except (TimeoutError, StopAsyncIteration):
            return None

    def on(self, event: Literal["data", "error"], fn: Handler) -> Stream:
        """Register a handler (plain or ``async`` callable) and return the stream.

        ``"data"`` handlers receive every item, except that items of the errors topic go to
        the ``"error"`` handlers when there are any. ``"error"`` handlers also receive the
        exceptions raised while fetching or by ``"data"`` handlers. The first ``"data"``
        handler switches the stream to handler mode: it can then no longer be iterated.
        Handlers run one item at a time; a slow handler slows fetching, never memory.
        """
        if event not in self._handlers:
            raise ValueError(f"unknown event {event!r} (expected 'data' or 'error')")
        self._handlers[event].append(fn)
        if event == "data" and self._fetcher is not None:
            self._start_dispatch()
        return self

    def _start_dispatch(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="stream-dispatch")

    async def _dispatch_loop(self) -> None:
        while (item := await self._buffer.get()) is not None:
            errors = self._handlers["error"]
            for fn in errors if item.is_error and errors else self._handlers["data"]:
                try:
                    await _call(fn, item)
                except Exception as exc:
                    await self._report(exc)
            self._delivered(item)
        if not self._closed:
            self._stopped.set()

    def _delivered(self, item: StreamItem) -> None:
        self.delivered += 1
        self._source.delivered(item)

    async def _report(self, exc: BaseException) -> None:
        handlers = self._handlers["error"]
        if not handlers:
            log.warning("stream error", error=repr(exc))
        for fn in handlers:
            try:
                await _call(fn, exc)
            except Exception as again:
                log.error("stream error handler failed", error=repr(again))

    async def _fetch_loop(self) -> None:
        attempt = 0
        try:
            while True:
                if self._buffer.full:
                    self._source.pause()
                    await self._buffer.wait_for_room()
                    self._source.resume()
                try:
                    items = await self._source.fetch(self._buffer.free, self._poll_ms)
                except Exception as exc:
                    if classify(exc) == "permanent":
                        raise
                    attempt += 1
                    await self._report(exc)
                    await asyncio.sleep(_BACKOFF.backoff(attempt))
                    continue
                attempt = 0
                self._buffer.put_many(self._seen.fresh(items))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failure = exc
            log.error("stream stopped", error=repr(exc))
            await self._report(exc)
        finally:
            self._buffer.close()
            if self._dispatcher is None and not self._closed:
                self._stopped.set()


def _names(names: Iterable[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


async def _call(fn: Handler, arg: Any) -> None:
    result = fn(arg)
    if inspect.isawaitable(result):
        await result
