"""Sending the chunks of one ``add_graph`` call: pipelining, retries, ordering and acks.

With ``parallel`` the sender keeps up to the engine's ``max_in_flight`` chunks waiting for
broker acknowledgment (a semaphore shared by every call on the engine); otherwise it
sends one chunk at a time. Deliveries are settled in send order. When a chunk fails
transiently in an ordered call, the sender waits for the chunks sent after it, then sends
the failed chunk and all of those again, in order, so the last write of every op still
lands last. A chunk that cannot be delivered ends an ordered call: later chunks are not
sent and are reported as skipped.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.errors import KafkaError

from project_engine.sdk.acks import AckWaiter
from project_engine.sdk.chunking import Chunk
from project_engine.sdk.errors import (
    AckTimeout,
    ChunkSkipped,
    PermanentKafkaError,
    RetriesExhausted,
)
from project_engine.sdk.replies import ReplyReader
from project_engine.sdk.retry import (
    RetryPolicy,
    as_permanent,
    classify,
    is_chunk_specific,
    retry_call,
)
from project_engine.sdk.summary import AddGraphSummary, EngineMetrics
from project_engine.sdk.wire import Encoding, content_type, encode_value

__all__ = ["ChunkSender", "SendOptions"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendOptions:
    topic: str
    key: bytes | None
    ordered: bool
    parallel: bool
    encoding: Encoding
    want_ack: bool


@dataclass
class _Pending:
    chunk: Chunk
    future: asyncio.Future[Any]
    started: float
    released: bool = False


class ChunkSender:
    """Sends the chunks of one call and collects its :class:`AddGraphSummary`."""

    def __init__(
        self,
        producer: Any,
        options: SendOptions,
        *,
        semaphore: asyncio.Semaphore,
        metrics: EngineMetrics,
        retry: RetryPolicy,
        next_partition: Callable[[], int | None],
        acks: ReplyReader | None,
    ) -> None:
        self._producer = producer
        self._opt = options
        self._sem = semaphore
        self._metrics = metrics
        self._retry = retry
        self._next_partition = next_partition
        self._acks = acks
        self._waiters: dict[str, AckWaiter] = {}
        self._sizes: dict[str, int] = {}
        self._halted_by: str | None = None
        self.summary = AddGraphSummary()
        self._headers = [("content-type", content_type(options.encoding))]
        if options.want_ack:
            self._headers.append(("ack", b"1"))

    async def run(self, chunks: AsyncIterator[Chunk]) -> None:
        """Send every chunk; raises only for errors that concern the whole call."""
        pending: deque[_Pending] = deque()
        try:
            async for chunk in chunks:
                self.summary.chunks += 1
                self.summary.items += len(chunk.items)
                self._sizes[chunk.chunk_id] = len(chunk.items)
                if self._halted_by is None:
                    await self._sem.acquire()
                    await self._settle(pending, block=self._must_drain(pending))
                    if self._halted_by is not None:
                        self._sem.release()
                if self._halted_by is not None:
                    self._fail(chunk.chunk_id, ChunkSkipped(chunk.chunk_id, self._halted_by))
                    continue
                self._watch(chunk)
                pending.append(await self._start(chunk))
            while pending:
                await self._settle(pending, block=True)
        except BaseException:
            for chunk_id in list(self._waiters):
                self._unwatch(chunk_id)
            for p in pending:
                if p.future.done() and not p.future.cancelled():
                    p.future.exception()  # retrieved: the call already failed
            raise

    def _must_drain(self, pending: deque[_Pending]) -> bool:
        """Whether to settle every pending chunk before sending the next one: always when
        sending one at a time, and in an ordered call once any pending chunk has failed
        (so nothing more is sent after a failure until it is dealt with)."""
        if not self._opt.parallel:
            return True
        if not self._opt.ordered:
            return False
        return any(
            p.future.done() and (p.future.cancelled() or p.future.exception() is not None)
            for p in pending
        )

    async def _start(self, chunk: Chunk) -> _Pending:
        """Enqueue ``chunk`` while holding a semaphore permit; the permit is released when
        the broker acknowledges (or refuses) it. Enqueueing is sequential, so the
        producer's batches keep the call's order."""
        started = time.monotonic()
        try:
            delivery = await self._enqueue(chunk)
        except asyncio.CancelledError:
            self._sem.release()
            raise
        except KafkaError as exc:
            delivery = asyncio.get_running_loop().create_future()
            delivery.set_exception(exc)
        self._metrics.in_flight += 1
        pending = _Pending(chunk, delivery, started)
        delivery.add_done_callback(lambda _: self._release(pending))
        return pending

    def _release(self, pending: _Pending) -> None:
        """Give back the permit of a settled chunk (once, by callback or by settling)."""
        if not pending.released:
            pending.released = True
            self._metrics.in_flight -= 1
            self._sem.release()

    async def _enqueue(self, chunk: Chunk) -> asyncio.Future[Any]:
        value = encode_value(chunk.to_wire(), self._opt.encoding)
        partition = self._next_partition() if self._opt.key is None else None
        delivery: asyncio.Future[Any] = await self._producer.send(
            self._opt.topic,
            value,
            key=self._opt.key,
            partition=partition,
            headers=list(self._headers),
        )
        return delivery

    async def _send_and_wait(self, chunk: Chunk) -> None:
        started = time.monotonic()
        delivery = await self._enqueue(chunk)
        await delivery
        self._delivered(chunk, started)

    def _delivered(self, chunk: Chunk, started: float) -> None:
        self._metrics.chunks_sent += 1
        self._metrics.items_sent += len(chunk.items)
        self._metrics.send_latency.append(time.monotonic() - started)

    async def _settle(self, pending: deque[_Pending], *, block: bool) -> None:
        """Settle chunks at the head of ``pending`` in send order; with ``block`` wait
        for all of them, otherwise only for those already delivered."""
        while pending and (block or pending[0].future.done()):
            head = pending.popleft()
            try:
                await head.future
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._release(head)
                await self._recover(head, exc, pending)
            else:
                self._release(head)
                self._delivered(head.chunk, head.started)

    async def _recover(self, head: _Pending, exc: Exception, pending: deque[_Pending]) -> None:
        kind = classify(exc)
        if kind == "permanent":
            if not is_chunk_specific(exc):
                raise as_permanent(exc, f"sending to {self._opt.topic}") from exc
            self._fail(head.chunk.chunk_id, as_permanent(exc, f"chunk {head.chunk.chunk_id}"))
            self._halt_if(self._opt.ordered, head.chunk.chunk_id)
            return
        replay = [head.chunk]
        delivered_before: set[str] = set()
        if self._opt.ordered:
            # Later chunks may have landed before the failed one: send them again after it.
            later = list(pending)
            pending.clear()
            await asyncio.gather(*(p.future for p in later), return_exceptions=True)
            for p in later:
                self._release(p)
                replay.append(p.chunk)
                if not p.future.cancelled() and p.future.exception() is None:
                    self._delivered(p.chunk, p.started)
                    delivered_before.add(p.chunk.chunk_id)
        log.info("resending after transient error", chunks=len(replay), error=repr(exc))
        await self._resend(replay, delivered_before)

    async def _resend(self, chunks: list[Chunk], delivered_before: set[str]) -> None:
        """Send ``chunks`` again one after another, each retried by the policy."""
        for chunk in chunks:
            if self._halted_by is not None:
                if chunk.chunk_id not in delivered_before:
                    self._fail(chunk.chunk_id, ChunkSkipped(chunk.chunk_id, self._halted_by))
                continue
            self._metrics.send_retries += 1
            try:
                await retry_call(
                    functools.partial(self._send_and_wait, chunk),
                    self._retry,
                    what=f"sending chunk {chunk.chunk_id} to {self._opt.topic}",
                    on_retry=self._count_retry,
                )
            except PermanentKafkaError as err:
                if not is_chunk_specific(err):
                    raise
                self._fail(chunk.chunk_id, err)
                self._halt_if(self._opt.ordered, chunk.chunk_id)
            except RetriesExhausted as err:
                if chunk.chunk_id in delivered_before:
                    continue
                self._fail(chunk.chunk_id, err)
                self._halt_if(True, chunk.chunk_id)

    def _count_retry(self, _attempt: int, _exc: BaseException) -> None:
        self._metrics.send_retries += 1

    def _halt_if(self, condition: bool, chunk_id: str) -> None:
        if condition and self._halted_by is None:
            self._halted_by = chunk_id
            log.warning("stopped sending after a failed chunk", chunk_id=chunk_id)

    def _fail(self, chunk_id: str, err: BaseException) -> None:
        self._unwatch(chunk_id)
        self.summary.failed.append((chunk_id, err))
        self.summary.failed_items += self._sizes.get(chunk_id, 0)

    def _watch(self, chunk: Chunk) -> None:
        if self._acks is None:
            return
        waiter = AckWaiter(chunk.chunk_id)
        self._acks.register(chunk.chunk_id, waiter)
        self._waiters[chunk.chunk_id] = waiter

    def _unwatch(self, chunk_id: str) -> None:
        if self._waiters.pop(chunk_id, None) is not None and self._acks is not None:
            self._acks.unregister(chunk_id)

    async def wait_applied(self, limit: float | None) -> None:
        """Wait until every delivered chunk is acked; rejections go to ``failed``."""
        waiters = dict(self._waiters)
        if not waiters:
            return
        futures = {w.future: cid for cid, w in waiters.items()}
        try:
            done, not_done = await asyncio.wait(futures, timeout=limit)
        finally:
            for cid in waiters:
                self._unwatch(cid)
        for fut in done:
            chunk_id = futures[fut]
            state = fut.result()
            if state.rejection is not None:
                self._fail(chunk_id, state.rejection)
        if not_done:
            pending = sorted((futures[f] for f in not_done), key=_seq_order)
            raise AckTimeout(limit or 0.0, pending, self.summary)


def _seq_order(chunk_id: str) -> tuple[int, str]:
    head, _, tail = chunk_id.rpartition("-")
    return (int(tail), head) if tail.isdigit() else (-1, chunk_id)
