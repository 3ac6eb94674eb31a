"""The query handlers: accept a query, run it where the data lives, answer.

The query lane (:mod:`agents.query_lane`) reads the three query topics for the graph
partitions held here and passes each record to its handler:

1. ``accept`` (query topic): validate (bad queries get an error result, an error event and
   a DLQ copy); answer from the result cache when every partition the cached answer read
   is unchanged; run the query in-process when this worker holds every partition (local
   fast path); send a single-partition query straight to its owner; otherwise hand it to
   its coordinator on the partials topic (keyed by query id).
2. ``execute`` (query-exec topic, co-partitioned with the graph): evaluate one request on
   the local partition and send the partial to the coordinator, or, for a direct query,
   finish it and answer.
3. ``coordinate`` (partials topic): drive the query's :class:`QueryRun` round by round,
   answer on completion, or answer ``timeout`` (retryable) when the deadline passes.

Scans of whole partitions (``digest``, ``top_degree``) read ``scan_slice`` nodes and edges
at a time and give the event loop a turn between (:func:`agents.loop_share.in_turns`), so
a digest of a large graph holds neither ingest nor health checks; the lane handles its next
record once the scan is done.
"""

from __future__ import annotations

import time
from typing import Any

import msgpack
import structlog

from agents.loop_share import in_turns
from agents.query_lane import Record, run_query_lane
from agents.reporting import header_value, reject
from pipeline.queries import (
    Done,
    Failed,
    QueryRun,
    Requests,
    evaluate_request,
    evaluate_stepwise,
    run_stepwise,
)
from pipeline.result_cache import cache_key
from pipeline.steps import Part, StepKind, encode_part
from schemas.codec import Encoding, content_type_of, encode, response_encoding
from schemas.errors import ErrorCode, WireError
from schemas.queries import Query, QueryRejection, error_result, ok_result, parse_query
from schemas.settings import Settings
from schemas.standing import STANDING_QUERY_TYPES

__all__ = ["register_queries"]

log = structlog.get_logger(__name__)
DIRECT_TYPES = frozenset({"node", "neighbors"})
_STALE = "query waited longer than its timeout before it was read"


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _unpack(raw: bytes) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


async def _answer(engine: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
    encoding = Encoding(meta["enc"])
    value = encode(body, encoding)
    limit = engine.settings.max_message_bytes
    if len(value) > limit:  # the broker would refuse it and the client would wait in vain
        message = f"answer of {len(value)} bytes exceeds max_message_bytes ({limit})"
        value = encode(error_result(meta["qid"], ErrorCode.LIMIT_EXCEEDED, message), encoding)
        engine.count(f"errors.{ErrorCode.LIMIT_EXCEEDED}")
    try:
        headers = [("content-type", content_type_of(encoding).encode())]
        key = meta["qid"].encode()
        producer = engine.answer_producer
        if producer is not None:
            await producer.send(meta["reply_to"], value, key=key, headers=headers)
        else:  # the lane's producer is not up yet (or already stopped)
            await engine.reply_topic(meta["reply_to"]).send(key=key, value=value, headers=headers)
    except Exception:
        log.exception("could not send query result", query_id=meta["qid"], topic=meta["reply_to"])
        engine.count("errors.reply_failed")


async def _finish(engine: Any, meta: dict[str, Any], step: Any, versions: dict[int, int]) -> None:
    """Answer a finished run and remember a successful result in the cache."""
    if isinstance(step, Done):
        if meta.get("cache", True):
            engine.cache.put(cache_key(meta["type"], meta["args"]), step.result, versions)
        await _answer(engine, meta, ok_result(meta["qid"], step.result))
        engine.count("queries_answered")
    else:
        await _answer(engine, meta, error_result(meta["qid"], step.code, step.message))
        engine.count(f"errors.{step.code}")
    engine.observe_query(meta["type"], time.time() - meta["t0"])


def _new_run(engine: Any, meta: dict[str, Any]) -> QueryRun:
    return QueryRun(meta["type"], meta["args"], engine.settings.partitions, engine.query_limits)


def _list_standing(graph: Any, meta: dict[str, Any]) -> Done:
    entries = [
        {"standing_id": sid, "pattern": graph.standing[sid]} for sid in sorted(graph.standing)
    ]
    return Done({"standing": entries[: meta["args"]["limit"]], "count": len(entries)})


async def _standing(engine: Any, meta: dict[str, Any]) -> None:
    """Register, remove or list standing queries (registrations go to every partition)."""
    args = meta["args"]
    if meta["type"] == "standing_list":
        await engine.query_exec_topic.send(value=_pack(meta | {"mode": "direct"}), partition=0)
        return
    if meta["type"] == "standing_register":
        sid = args.get("standing_id") or meta["qid"]
        step: tuple[Any, ...] = (StepKind.STANDING_PUT, sid, args["pattern"])
        result: dict[str, Any] = {"standing_id": sid, "pattern": args["pattern"]}
    else:
        sid = args["standing_id"]
        step = (StepKind.STANDING_DEL, sid)
        result = {"standing_id": sid, "removed": True}
    source = (engine.settings.topics.queries, -1, -1)
    for partition in range(engine.settings.partitions):
        part = Part(None, 0, 1, False, meta["enc"], source, [step])
        await engine.apply_topic.send(value=encode_part(part), partition=partition)
    await _finish(engine, meta | {"cache": False}, Done(result), {})


def _meta(
    query: Query, settings: Settings, headers: Any, now: float, timeout_ms: int
) -> dict[str, Any]:
    """What every later step of a query needs to know about it."""
    return {
        "qid": query.query_id,
        "type": query.type,
        "args": dict(query.args),
        "reply_to": query.reply_to or settings.topics.results,
        "enc": str(query.encoding),
        "t0": now,
        "deadline": now + timeout_ms / 1000,
        "cache": header_value(headers, "cache") != "0",
    }


def _expired(sent_ms: int | None, timeout_ms: int, now: float) -> bool:
    """Whether a query sent at ``sent_ms`` (its record's timestamp) is past its timeout."""
    return sent_ms is not None and sent_ms > 0 and now * 1000 - sent_ms > timeout_ms


def register_queries(engine: Any) -> None:
    """Give ``engine`` the query handlers, read by the query lane (:mod:`agents.query_lane`),
    and the timer that fails queries past their deadline."""
    app = engine.app
    settings = engine.settings
    pending: dict[str, dict[str, Any]] = {}
    scan_slice = settings.scan_slice or None  # None: each partition in one go

    async def dispatch(meta: dict[str, Any]) -> None:
        if meta["type"] in STANDING_QUERY_TYPES:
            await _standing(engine, meta)
            return
        cached, result = engine.cache.get(cache_key(meta["type"], meta["args"]), engine.version)
        if cached and meta.get("cache", True):
            await _answer(engine, meta, ok_result(meta["qid"], result) | {"cached": True})
            engine.observe_query(meta["type"], time.time() - meta["t0"])
            return
        run = _new_run(engine, meta)
        if engine.holds_every_partition():  # local fast path: the whole run in-process
            # The versions before the scans: a partition changed during them is not cached.
            versions = {p: engine.version(p) or 0 for p in range(settings.partitions)}
            graphs = engine.graphs.as_mapping()
            done = await in_turns(run_stepwise(run, graphs, scan_slice))
            await _finish(engine, meta, done, {p: versions[p] for p in run.touched})
            return
        step = run.start()
        if isinstance(step, Done | Failed):
            await _finish(engine, meta, step, {})
        elif meta["type"] in DIRECT_TYPES and len(step.by_partition) == 1:
            (partition,) = step.by_partition
            direct = _pack(meta | {"mode": "direct"})
            await engine.query_exec_topic.send(value=direct, partition=partition)
        else:
            start = _pack(meta | {"kind": "start"})
            await engine.query_partials_topic.send(key=meta["qid"].encode(), value=start)

    async def accept(msg: Record) -> None:
        raw = msg.value if isinstance(msg.value, bytes) else b""
        ctype = header_value(msg.headers, "content-type")
        source = (msg.topic, msg.partition, msg.offset)
        query: Query | QueryRejection | None = None  # for the log record of a failure
        try:
            query = parse_query(raw, ctype, engine.limits)
            if isinstance(query, QueryRejection):
                meta = {
                    "qid": query.query_id or "",
                    "reply_to": query.reply_to or settings.topics.results,
                    "enc": str(query.encoding),
                }
                err = query.error
                await _answer(engine, meta, error_result(meta["qid"], err.code, err.message))
                await reject(
                    engine, err, source=source, key=msg.key, raw=raw, headers=msg.headers,
                    encoding=query.encoding, query_id=query.query_id,
                )  # fmt: skip
                return
            timeout_ms = query.timeout_ms or settings.query_timeout_ms
            now = time.time()
            if _expired(msg.timestamp, timeout_ms, now):
                # Sent longer ago than its timeout (the worker was down or far behind):
                # the caller has given up; say so without evaluating it.
                meta = _meta(query, settings, msg.headers, now, timeout_ms)
                await _finish(engine, meta, Failed(ErrorCode.TIMEOUT, _STALE), {})
                return
            await dispatch(_meta(query, settings, msg.headers, now, timeout_ms))
            engine.count("queries_accepted")
        except Exception as exc:
            log.exception(
                "query accept failed",
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                query_id=getattr(query, "query_id", None),
            )
            await reject(
                engine, WireError(ErrorCode.INTERNAL, f"query failed: {type(exc).__name__}"),
                source=source, key=msg.key, raw=raw, headers=msg.headers,
                encoding=response_encoding(raw, ctype),
            )  # fmt: skip

    async def execute(record: Record) -> None:
        p = record.partition
        msg: Any = None  # for the log record of a failure
        try:
            msg = _unpack(record.value)
            graph = engine.graph(p)
            if msg.get("type") == "standing_list":
                await _finish(engine, msg | {"cache": False}, _list_standing(graph, msg), {})
                return
            if msg.get("mode") == "direct":
                run = _new_run(engine, msg)
                step = run.start()
                version = engine.version(p) or 0
                if isinstance(step, Requests) and set(step.by_partition) == {p}:
                    partial = evaluate_request(step.by_partition[p], graph, engine.query_limits)
                    step = run.feed(step.round, p, partial) or Failed(
                        "internal", "query needs more than its owner partition"
                    )
                await _finish(engine, msg, step, {p: version})
                return
            # The version before the scan: a partition changed during it is not cached.
            request, limits, version = msg["req"], engine.query_limits, engine.version(p) or 0
            partial = await in_turns(evaluate_stepwise(request, graph, limits, scan_slice))
            reply = {"kind": "partial", "qid": msg["qid"], "round": msg["round"], "p": p,
                     "partial": partial, "v": version}  # fmt: skip
            await engine.query_partials_topic.send(key=msg["qid"].encode(), value=_pack(reply))
        except Exception:
            log.exception(
                "query execution failed",
                topic=record.topic,
                partition=p,
                offset=record.offset,
                query_id=msg.get("qid") if isinstance(msg, dict) else None,
            )
            engine.count("errors.internal")

    async def advance(entry: dict[str, Any], step: Any) -> None:
        meta = entry["meta"]
        if isinstance(step, Requests):
            for partition, request in step.by_partition.items():
                body = {"qid": meta["qid"], "round": step.round, "req": request}
                await engine.query_exec_topic.send(value=_pack(body), partition=partition)
            return
        pending.pop(meta["qid"], None)
        await _finish(engine, meta, step, entry["versions"])

    async def coordinate(record: Record) -> None:
        msg: Any = None  # for the log record of a failure
        try:
            msg = _unpack(record.value)
            if msg.get("kind") == "start":
                run = _new_run(engine, msg)
                entry = {"meta": msg, "run": run, "versions": {}}
                pending[msg["qid"]] = entry
                await advance(entry, run.start())
                return
            found = pending.get(msg["qid"])
            if found is None:  # the query ended (or this worker lost its state): ignore
                return
            entry = found
            entry["versions"].setdefault(msg["p"], msg["v"])
            step = entry["run"].feed(msg["round"], msg["p"], msg["partial"])
            if step is not None:
                await advance(entry, step)
        except Exception:
            log.exception(
                "query coordination failed",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                query_id=msg.get("qid") if isinstance(msg, dict) else None,
            )
            engine.count("errors.internal")

    topics = settings.topics
    handlers = {
        topics.queries: accept,
        topics.query_exec: execute,
        topics.query_partials: coordinate,
    }

    @app.task  # type: ignore[untyped-decorator]
    async def query_lane() -> None:
        def answers(producer: Any) -> None:
            engine.answer_producer = producer

        await run_query_lane(
            settings,
            handlers,
            lambda: set(engine.graphs.assigned),
            answers,
            on_records=engine.loop_share.queries_arrived,
        )

    @app.timer(0.5)  # type: ignore[untyped-decorator]
    async def expire_queries() -> None:
        now = time.time()
        for qid, entry in list(pending.items()):
            if entry["meta"]["deadline"] < now:
                pending.pop(qid, None)
                failed = Failed(ErrorCode.TIMEOUT, "query did not complete in time")
                await _finish(engine, entry["meta"], failed, {})
