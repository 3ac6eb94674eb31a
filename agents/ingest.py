"""The ingest agents: route each input message to the partitions it touches, then apply.

1. ``route``: decode and validate a message from the input topic; reject it whole (error
   event, DLQ copy) if anything in it is invalid; otherwise split it into one part per
   graph partition and send each part, in input order, to that partition of the apply
   topic.
2. ``apply``: apply a part to the local graph partition, write each touched record once to
   the changelog-backed table, and acknowledge the part when the publisher asked for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from operator import itemgetter
from typing import Any, TypeAlias

import structlog

from agents.consumer_tuning import collect_young
from agents.offset_continuity import OffsetContinuity
from agents.reporting import header_value, reject
from agents.table_writes import write_records
from pipeline.routing import route_chunk
from pipeline.standing import begin_part, collect_matches, finish_routed_part
from pipeline.steps import Part, Step, StepKind, decode_part, encode_part
from pipeline.storage import dirty_writes
from schemas.codec import Encoding, content_type_of, encode, response_encoding
from schemas.errors import ErrorCode, WireError
from schemas.limits import Limits
from schemas.ops import Chunk
from schemas.validation import parse_chunk_in_slices

__all__ = ["register_ingest"]

log = structlog.get_logger(__name__)
Turn: TypeAlias = Callable[[], Awaitable[None]]
VALIDATE_PER_APPLY = 2  # chunk items validated per turn, per graph step applied per turn


def _ack_requested(headers: Any) -> bool:
    return header_value(headers, "ack") in ("1", "true")


def register_ingest(engine: Any) -> None:
    """Attach the route and apply agents to ``engine.app``."""
    app = engine.app
    partitions = engine.settings.partitions
    durable_store = engine.settings.store == "rocksdb"
    apply_slice = engine.settings.ingest_slice  # steps applied between two loop turns
    validate_slice = apply_slice * VALIDATE_PER_APPLY
    turn = engine.loop_share.turn

    @app.agent(engine.input_topic, name="graph-route")  # type: ignore[untyped-decorator]
    async def route(stream: Any) -> None:
        continuity = OffsetContinuity()
        async for event in stream.events():
            msg = event.message
            source = (msg.topic, msg.partition, msg.offset)
            if not continuity.follows(msg.partition, msg.offset):
                engine.count("input_offset_skips")
            raw = event.value
            headers = msg.headers
            ack = _ack_requested(headers)
            parsed: Chunk | WireError | None = None  # for the log record of a failure
            try:
                if not isinstance(raw, bytes):
                    raise TypeError("message without a value")
                parsed, parts = await _parse_and_route(
                    raw,
                    header_value(headers, "content-type"),
                    engine.limits,
                    partitions,
                    validate_slice,
                    turn,
                )
                if isinstance(parsed, WireError):
                    await reject(
                        engine,
                        parsed,
                        source=source,
                        key=msg.key,
                        raw=raw,
                        headers=headers,
                        encoding=response_encoding(raw, header_value(headers, "content-type")),
                        ack_requested=ack,
                    )
                    continue
                await _send_parts(engine, parsed, parts, source, ack)
            except Exception as exc:  # never let one message stop the stream
                log.exception(
                    "routing failed",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    chunk_id=getattr(parsed, "chunk_id", None),
                )
                await reject(
                    engine,
                    WireError(ErrorCode.INTERNAL, f"routing failed: {type(exc).__name__}"),
                    source=source,
                    key=msg.key,
                    raw=raw if isinstance(raw, bytes) else None,
                    headers=headers,
                    encoding=Encoding.JSON,
                )

    @app.agent(engine.apply_topic, name="graph-apply")  # type: ignore[untyped-decorator]
    async def apply(stream: Any) -> None:
        table = engine.table
        async for event in stream.events():
            msg = event.message
            part: Part | None = None  # for the log record of a failure
            try:
                part = decode_part(event.value)
                graph = engine.graph(msg.partition)
                engine.graphs.unsettled.add(msg.partition)
                begin_part(graph)
                await _apply_in_slices(graph, part.steps, apply_slice, turn)
                collect_young()
                finish_routed_part(graph, part.steps, part.source)
                matches, forwards = collect_matches(graph, partitions, part.source, part.chunk_id)
                if matches or forwards:
                    # Delivered before the state change is: a crash in between re-emits
                    # (same match ids) rather than loses a match.
                    await _send_matches(engine, part, matches, forwards)
                writes = dirty_writes(graph, graph.take_dirty())
                if writes:
                    engine.bump_versions((msg.partition,))
                await write_records(
                    app, table, msg.partition, writes, store_after_ack=durable_store
                )
                engine.graphs.unsettled.discard(msg.partition)
                engine.count("parts_applied")
                engine.count("steps_applied", len(part.steps))
                if part.ack and part.chunk_id:
                    await _send_ack(engine, part)
            except Exception:  # a bad internal part must not stop the partition
                log.exception(
                    "apply failed",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    chunk_id=part.chunk_id if part is not None else None,
                )
                engine.count("errors.internal")


_kind = itemgetter(0)  # a step's kind: scanned for node deletes at C speed


async def _one_turn() -> None:
    await asyncio.sleep(0)


async def _apply_in_slices(
    graph: Any, steps: list[Step], size: int, turn: Turn = _one_turn
) -> None:
    """Apply a part ``size`` steps at a time, letting the event loop run between slices
    (``turn``, see agents.loop_share): a part of a large chunk takes milliseconds, and queries
    (agents.query_lane) would wait for all of it. Nothing else applies to this partition
    meanwhile (one apply agent per worker).

    The first node delete a partition sees needs its reverse indexes, which it builds then
    (one pass over its entries, 2 s for a million): that runs ``size`` nodes at a
    time with a turn between, too."""
    if not graph.indexed and StepKind.NODE_DELETE in map(_kind, steps):
        for _ in graph.build_indexes_stepwise(size):
            await turn()
    for start in range(0, len(steps), size):
        if start:
            await turn()
        graph.apply(steps[start : start + size])


async def _parse_and_route(
    raw: bytes,
    content_type: str | None,
    limits: Limits,
    partitions: int,
    size: int,
    turn: Turn = _one_turn,
) -> tuple[Chunk | WireError, dict[int, list[Step]]]:
    """Validate ``size`` items at a time and route, with a loop turn between each step: a
    chunk of thousands of ops takes milliseconds to validate, and queries would wait."""
    steps = parse_chunk_in_slices(raw, content_type, limits, size)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            parsed: Chunk | WireError = done.value
            break
        await turn()
    if isinstance(parsed, WireError):
        return parsed, {}
    await turn()
    return parsed, route_chunk(parsed.items, partitions)


async def _send_parts(
    engine: Any,
    chunk: Chunk,
    parts: dict[int, list[Step]],
    source: tuple[str, int, int],
    ack: bool,
) -> None:
    encoding = str(chunk.encoding)
    if not parts:
        if ack and chunk.chunk_id:
            await _send_ack(engine, Part(chunk.chunk_id, 0, 1, True, encoding, source, []))
        return
    count = len(parts)
    await engine.loop_share.turn()  # routing took its own share of the loop
    for index, partition in enumerate(sorted(parts)):
        part = Part(chunk.chunk_id, index, count, ack, encoding, source, parts[partition])
        await engine.apply_topic.send(value=encode_part(part), partition=partition)
    engine.count("chunks_routed")
    engine.count("items_routed", len(chunk.items))


async def _send_matches(
    engine: Any, part: Part, matches: list[Any], forwards: dict[int, list[Any]]
) -> None:
    encoding = Encoding(part.encoding)
    headers = [("content-type", content_type_of(encoding).encode())]
    pending = []
    for match in matches:
        pending.append(
            await engine.matches_topic.send(
                key=match["match_id"].encode(), value=encode(match, encoding), headers=headers
            )
        )
    for partition, steps in forwards.items():
        confirm = Part(part.chunk_id, 0, 1, False, part.encoding, part.source, steps)
        pending.append(
            await engine.apply_topic.send(value=encode_part(confirm), partition=partition)
        )
    await asyncio.gather(*pending)
    engine.count("standing_matches", len(matches))


async def _send_ack(engine: Any, part: Part) -> None:
    assert part.chunk_id is not None
    encoding = Encoding(part.encoding)
    body = {
        "chunk_id": part.chunk_id,
        "status": "applied",
        "part": str(part.index),
        "parts": part.count,
        "spawned": [],
    }
    await engine.acks_topic.send(
        key=part.chunk_id.encode(),
        value=encode(body, encoding),
        headers=[("content-type", content_type_of(encoding).encode())],
    )
