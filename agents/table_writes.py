"""Writing a part's records to the graph table: the local store plus one batched changelog send.

Faust's ``table[key] = value`` sends one changelog message per key through its producer
buffer (tens of microseconds each), which caps ingest. Here the records of one part go to
the store directly and to the changelog partition of the current event as one aiokafka
record batch on the app's own producer, so:

- recovery sees exactly what ``table[key] = value`` would have written (raw bytes key and
  value, ``None`` value = tombstone), on the same changelog partition;
- Faust's commit flushes that producer before committing input offsets, so an offset is never
  committed before the changelog records of the events before it are acknowledged;
- one part's records normally travel as one record batch, which the broker appends whole;
- once the broker has acknowledged a part's records, the store is told the offset of the
  last one (``set_persisted_offset``): RocksDB keeps it on disk and the memory store of
  :mod:`agents.bulk_store` in memory, so a restart or rebalance replays only what came after;
- a memory store that handed a partition's edge records over to the worker's graph gets
  only that partition's other records.

Must be called inside the agent's processing of the event (the RocksDB store picks its
partition database from the current event).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faust.types import TP

from pipeline.storage import TableWrite, is_edge_record

__all__ = ["write_records"]


def _kafka_producer(app: Any) -> Any:
    """The aiokafka producer behind Faust's producer (started with the app)."""
    producer = app.producer._producer
    if producer is None:
        raise RuntimeError("the app's producer is not started")
    return producer


async def write_records(
    app: Any,
    table: Any,
    partition: int,
    writes: Sequence[TableWrite],
    *,
    store_after_ack: bool = False,
) -> None:
    """Send ``writes`` to the table's changelog partition and apply them to its store.

    With ``store_after_ack`` (the RocksDB store, which outlives the process) the store is
    written only once the broker has acknowledged the changelog batch, so local state is
    never ahead of the changelog: after a crash, recovery replays what the store missed,
    and nothing the store holds can be missing from the changelog. The store's persisted
    offset moves to the last record only after that record is both acknowledged and stored.
    """
    if not writes:
        return
    producer = _kafka_producer(app)
    topic = table.changelog_topic.get_topic_name()
    sent = []
    batch = producer.create_batch()
    for key, value in writes:
        if batch.append(key=key, value=value, timestamp=None) is None:
            sent.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                raise ValueError(f"table record of {len(key) + len(value or b'')} bytes too large")
    last_count = batch.record_count()  # at least the last write
    sent.append(await producer.send_batch(batch, topic, partition=partition))
    store = table.data
    tp = TP(topic, partition)
    keeps_edges = getattr(store, "keeps_edges", None)
    if keeps_edges is not None and not keeps_edges(partition):  # the graph holds them
        writes = [(key, value) for key, value in writes if not is_edge_record(key)]
    if store_after_ack:
        acked = await asyncio.gather(*sent)
        _store(store, writes)
        store.set_persisted_offset(tp, acked[-1].offset + last_count - 1)
        return
    _store(store, writes)
    sent[-1].add_done_callback(lambda fut: _note_offset(store, tp, fut, last_count))


def _store(store: Any, writes: Sequence[TableWrite]) -> None:
    for key, value in writes:
        if value is None:
            if key in store:
                del store[key]
        else:
            store[key] = value


def _note_offset(store: Any, tp: TP, fut: asyncio.Future[Any], records: int) -> None:
    """Once the last batch is acknowledged, tell the store the offset of its last record."""
    if not fut.cancelled() and fut.exception() is None:
        store.set_persisted_offset(tp, fut.result().offset + records - 1)
