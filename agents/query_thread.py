"""The query lane on a thread of its own, answering local queries without the worker's loop.

During an ingest the worker's event loop always has ready callbacks (Faust's consumer and
producer, apply and route slices); a query handled on that loop waits behind them for each
of its 3-4 loop turns (fetch, handle, send). Here the lane
(:func:`agents.query_lane.run_query_lane`), its consumer and its answer producer run on an
event loop in a thread of their own, so a query waits only for the interpreter lock and for
the apply slice under way:

- a read query, when this worker holds every graph partition, is evaluated on the lane
  thread under the graphs' lock (:attr:`agents.local_state.LocalGraphs.lock`, which the
  main thread holds while it applies a slice or rebuilds, so a query never sees half a
  slice) and answered by the lane's producer; counters and latency go to the main loop;
- everything else (rejections, expired and standing queries, multi-worker runs, query
  requests and partials) is handed to its handler on the main loop, in order, and the lane
  waits for it, as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import structlog

from agents.query_lane import Handler, Record, run_query_lane
from agents.reporting import header_value
from pipeline.queries import Done, run_locally
from pipeline.result_cache import cache_key
from schemas.codec import Encoding, content_type_of, encode
from schemas.queries import Query, error_result, ok_result, parse_query
from schemas.settings import Settings
from schemas.standing import STANDING_QUERY_TYPES

__all__ = ["AnswerSender", "LocalAnswer", "local_answer", "run_lane_thread"]

log = structlog.get_logger(__name__)
STOP_TIMEOUT = 10.0  # seconds the lane thread gets to close its consumer and producer

LocalAnswer = Callable[[Record, Any], Awaitable[bool]]
"""Answers a query record on the lane thread with the lane's producer; ``False`` when the
record must go to the main loop's handler instead."""


def local_answer(
    engine: Any,
    meta_of: Callable[[Query, Any, float, int], dict[str, Any]],
    new_run: Callable[[dict[str, Any]], Any],
) -> LocalAnswer:
    """The lane thread's answer to a read query when every partition is held here; call
    on the main loop (``meta_of`` and ``new_run`` as the main loop's handlers use them)."""
    settings: Settings = engine.settings
    main_loop = asyncio.get_running_loop()

    async def answer(record: Record, producer: Any) -> bool:
        if producer is None or not engine.holds_every_partition():
            return False
        raw = record.value if isinstance(record.value, bytes) else b""
        query = parse_query(raw, header_value(record.headers, "content-type"), engine.limits)
        if not isinstance(query, Query) or query.type in STANDING_QUERY_TYPES:
            return False
        timeout_ms = query.timeout_ms or settings.query_timeout_ms
        now = time.time()
        sent_ms = record.timestamp
        if sent_ms is not None and sent_ms > 0 and now * 1000 - sent_ms > timeout_ms:
            return False  # the main loop's handler says it expired
        meta = meta_of(query, record.headers, now, timeout_ms)
        key = cache_key(meta["type"], meta["args"])
        with engine.graphs.lock:
            if not engine.holds_every_partition():
                return False
            cached, result = engine.cache.get(key, engine.version)
            if cached and meta["cache"]:
                body = ok_result(meta["qid"], result) | {"cached": True}
                counted: str | None = None
            else:
                versions = {p: engine.version(p) or 0 for p in range(settings.partitions)}
                run = new_run(meta)
                done = run_locally(run, engine.graphs.as_mapping())
                if isinstance(done, Done):
                    if meta["cache"]:
                        engine.cache.put(key, done.result, {p: versions[p] for p in run.touched})
                    body, counted = ok_result(meta["qid"], done.result), "queries_answered"
                else:
                    body = error_result(meta["qid"], done.code, done.message)
                    counted = f"errors.{done.code}"
        encoding = Encoding(meta["enc"])
        value = encode(body, encoding)
        if len(value) > settings.max_message_bytes:
            return False  # the main loop's handler answers limit_exceeded
        headers = [("content-type", content_type_of(encoding).encode())]
        try:
            await producer.send(meta["reply_to"], value, key=meta["qid"].encode(), headers=headers)
        except Exception:
            log.exception("could not send query result", query_id=meta["qid"])
            main_loop.call_soon_threadsafe(engine.count, "errors.reply_failed")
        seconds = time.time() - meta["t0"]
        main_loop.call_soon_threadsafe(_record, engine, meta["type"], seconds, counted)
        return True

    return answer


class AnswerSender:
    """Sends answers through the lane thread's producer from the main loop."""

    def __init__(self, producer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._producer = producer
        self._loop = loop

    async def send(self, topic: str, value: bytes, *, key: bytes, headers: Any) -> None:
        sent = self._producer.send(topic, value, key=key, headers=headers)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(sent, self._loop))


def _record(engine: Any, qtype: str, seconds: float, counted: str | None) -> None:
    engine.count("queries_accepted")
    if counted is not None:
        engine.count(counted)
    engine.observe_query(qtype, seconds)


def _on_main(
    main_loop: asyncio.AbstractEventLoop, handler: Handler
) -> Callable[[Record], Coroutine[Any, Any, None]]:
    async def handle(record: Record) -> None:
        async def on_main_loop() -> None:
            await handler(record)

        done = asyncio.run_coroutine_threadsafe(on_main_loop(), main_loop)
        await asyncio.wrap_future(done)

    return handle


async def run_lane_thread(
    settings: Settings,
    handlers: Mapping[str, Handler],
    held: Callable[[], set[int]],
    answer_locally: LocalAnswer,
    answers_topic: str,
    answers: Callable[[AnswerSender | None], None],
) -> None:
    """Run the query lane on a thread of its own until cancelled (then stop it and wait).

    ``handlers`` run on the calling (main) loop; records of ``answers_topic`` are first
    offered to ``answer_locally`` on the lane thread. ``answers`` receives a sender the main
    loop can use for answers through the lane's producer, once it is started (``None`` when
    it stops).
    """
    main_loop = asyncio.get_running_loop()
    producer_box: list[Any] = [None]
    on_main = {topic: _on_main(main_loop, handler) for topic, handler in handlers.items()}
    to_main = on_main[answers_topic]

    async def accept(record: Record) -> None:
        if not await answer_locally(record, producer_box[0]):
            await to_main(record)

    lane_handlers = dict(on_main) | {answers_topic: accept}
    started: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]]
    started = concurrent.futures.Future()
    finished: concurrent.futures.Future[None] = concurrent.futures.Future()

    def lane_producer(producer: Any) -> None:
        producer_box[0] = producer
        sender = None if producer is None else AnswerSender(producer, asyncio.get_running_loop())
        main_loop.call_soon_threadsafe(answers, sender)

    async def lane() -> None:
        task = asyncio.current_task()
        assert task is not None
        started.set_result((asyncio.get_running_loop(), task))
        await run_query_lane(settings, lane_handlers, held, lane_producer)

    def thread_main() -> None:
        try:
            asyncio.run(lane())
            finished.set_result(None)
        except BaseException as exc:  # reported to the awaiting task on the main loop
            if not started.done():
                started.set_exception(exc)
            finished.set_exception(exc)

    thread = threading.Thread(target=thread_main, name="query-lane", daemon=True)
    thread.start()
    try:
        await asyncio.shield(asyncio.wrap_future(finished))
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            ready = asyncio.shield(asyncio.wrap_future(started))
            loop, task = await asyncio.wait_for(ready, STOP_TIMEOUT)
            loop.call_soon_threadsafe(task.cancel)
        await asyncio.to_thread(thread.join, STOP_TIMEOUT)
        raise
