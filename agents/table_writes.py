"""Writing a part's records to the graph table: the local store plus one batched changelog send.

Faust's ``table[key] = value`` sends one changelog message per key through its producer
buffer (tens of microseconds each), which caps ingest. Here the records of one part go to
the store directly and to the changelog partition of the current event as one aiokafka
record batch on the app's own producer, so:

- recovery sees exactly what ``table[key] = value`` would have written (raw bytes key and
  value, ``None`` value = tombstone), on the same changelog partition;
- Faust's commit flushes that producer before committing input offsets, so an offset is never
  committed before the changelog records of the events before it are acknowledged;
- one part's records normally travel as one record batch, which the broker appends whole.

Must be called inside the agent's processing of the event (the RocksDB store picks its
partition database from the current event).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pipeline.storage import TableWrite

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
    and nothing the store holds can be missing from the changelog.
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
    if batch.record_count():
        sent.append(await producer.send_batch(batch, topic, partition=partition))
    if store_after_ack:
        await asyncio.gather(*sent)
    store = table.data
    for key, value in writes:
        if value is None:
            if key in store:
                del store[key]
        else:
            store[key] = value
