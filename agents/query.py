"""The query agents: accept a query, evaluate it where the data lives, gather, answer.

1. ``accept`` (query topic): validate; answer bad queries with an error result plus an
   error event and DLQ copy; send each good query to every partition of the query-exec
   topic it needs (co-partitioned with the graph, so each lands on the owner's worker).
2. ``execute`` (query-exec topic): evaluate the partial answer on the local partition;
   a single-partition query is answered right there, others send their partial on.
3. ``gather`` (query-partials topic, keyed by query id): merge partials once all arrived,
   or answer ``timeout`` when the deadline passes first.
"""

from __future__ import annotations

import time
from typing import Any

import msgpack
import structlog

from agents.reporting import header_value, reject
from pipeline.query_eval import (
    UnsupportedQuery,
    evaluate_partial,
    merge_partials,
    target_partitions,
)
from schemas.codec import Encoding, content_type_of, encode, response_encoding
from schemas.errors import ErrorCode, WireError
from schemas.queries import QueryRejection, error_result, ok_result, parse_query

__all__ = ["register_queries"]

log = structlog.get_logger(__name__)
DEFAULT_TIMEOUT_MS = 30_000


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _unpack(raw: bytes) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


async def _answer(engine: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
    encoding = Encoding(meta["enc"])
    topic = engine.reply_topic(meta["reply_to"])
    try:
        await topic.send(
            key=meta["qid"].encode(),
            value=encode(body, encoding),
            headers=[("content-type", content_type_of(encoding).encode())],
        )
    except Exception:
        log.exception("could not send query result", query_id=meta["qid"], topic=meta["reply_to"])
        engine.count("errors.reply_failed")


def register_queries(engine: Any) -> None:
    """Attach the accept, execute and gather agents to ``engine.app``."""
    app = engine.app
    partitions = engine.settings.partitions
    default_reply = engine.settings.topics.results
    pending: dict[str, dict[str, Any]] = {}

    @app.agent(engine.queries_topic, name="graph-query-accept")  # type: ignore[untyped-decorator]
    async def accept(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            raw = event.value if isinstance(event.value, bytes) else b""
            ctype = header_value(msg.headers, "content-type")
            source = (msg.topic, msg.partition, msg.offset)
            try:
                query = parse_query(raw, ctype, engine.limits)
                if isinstance(query, QueryRejection):
                    meta = {
                        "qid": query.query_id or "",
                        "reply_to": query.reply_to or default_reply,
                        "enc": str(query.encoding),
                    }
                    err = query.error
                    await _answer(engine, meta, error_result(meta["qid"], err.code, err.message))
                    await reject(
                        engine,
                        err,
                        source=source,
                        key=msg.key,
                        raw=raw,
                        headers=msg.headers,
                        encoding=query.encoding,
                        query_id=query.query_id,
                    )
                    continue
                meta = {
                    "qid": query.query_id,
                    "type": query.type,
                    "args": dict(query.args),
                    "reply_to": query.reply_to or default_reply,
                    "enc": str(query.encoding),
                    "deadline": time.time() + (query.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000,
                }
                try:
                    targets = target_partitions(query.type, query.args, partitions)
                except UnsupportedQuery as exc:
                    body = error_result(query.query_id, ErrorCode.UNKNOWN_QUERY_TYPE, str(exc))
                    await _answer(engine, meta, body)
                    continue
                meta["n"] = len(targets)
                packed = _pack(meta)
                for p in targets:
                    await engine.query_exec_topic.send(value=packed, partition=p)
                engine.count("queries_accepted")
            except Exception as exc:
                log.exception("query accept failed", offset=msg.offset)
                await reject(
                    engine,
                    WireError(ErrorCode.INTERNAL, f"query failed: {type(exc).__name__}"),
                    source=source,
                    key=msg.key,
                    raw=raw,
                    headers=msg.headers,
                    encoding=response_encoding(raw, ctype),
                )

    @app.agent(engine.query_exec_topic, name="graph-query-execute")  # type: ignore[untyped-decorator]
    async def execute(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                meta = _unpack(event.value)
                partial = evaluate_partial(meta["type"], meta["args"], engine.graph(msg.partition))
                if meta["n"] == 1:
                    result = merge_partials(meta["type"], meta["args"], [partial])
                    await _answer(engine, meta, ok_result(meta["qid"], result))
                    engine.count("queries_answered")
                else:
                    meta["partial"] = partial
                    meta["p"] = msg.partition
                    await engine.query_partials_topic.send(
                        key=meta["qid"].encode(), value=_pack(meta)
                    )
            except Exception:
                log.exception("query execution failed", partition=msg.partition)
                engine.count("errors.internal")

    @app.agent(engine.query_partials_topic, name="graph-query-gather")  # type: ignore[untyped-decorator]
    async def gather(stream: Any) -> None:
        async for event in stream.events():
            try:
                meta = _unpack(event.value)
                entry = pending.setdefault(meta["qid"], {"meta": meta, "partials": {}})
                entry["partials"][meta["p"]] = meta["partial"]
                if len(entry["partials"]) >= meta["n"]:
                    del pending[meta["qid"]]
                    ordered = [entry["partials"][p] for p in sorted(entry["partials"])]
                    result = merge_partials(meta["type"], meta["args"], ordered)
                    await _answer(engine, meta, ok_result(meta["qid"], result))
                    engine.count("queries_answered")
            except Exception:
                log.exception("query gather failed")
                engine.count("errors.internal")

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def expire_queries() -> None:
        now = time.time()
        for qid, entry in list(pending.items()):
            meta = entry["meta"]
            if meta["deadline"] < now:
                del pending[qid]
                body = error_result(qid, ErrorCode.TIMEOUT, "query did not complete in time")
                await _answer(engine, meta, body)
                engine.count("errors.timeout")
