"""Reading whole changelog partitions, from their first record to a fixed end offset, fast.

Faust's recovery hands changelog records to the table one event at a time (tens of
microseconds each), and aiokafka's consumer builds a ``ConsumerRecord`` object per record
(a few microseconds). To load a partition in bulk, :class:`ChangelogReader` sends its own
Fetch requests on a plain aiokafka client and applies the record batches of each response
straight to a mapping: the latest value per key wins, a ``None`` value (a tombstone) deletes
the key. Partitions are read concurrently, so the broker prepares one response while this
process applies another.

The end offset of each partition is taken once, before reading: records written after that
are left to the caller (Faust's recovery replays them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords

__all__ = ["ChangelogReader", "PartitionRead", "RecordSink", "apply_record_set"]

READ_UNCOMMITTED = 0
_NO_ERROR = 0
_RETRY_BACKOFF = 0.2


class RecordSink(Protocol):
    """What records are applied to: a dict, or anything with its ``[key] = value`` and ``pop``."""

    def __setitem__(self, key: bytes, value: bytes, /) -> None: ...

    def pop(self, key: bytes, default: None, /) -> bytes | None: ...


@dataclass(frozen=True)
class PartitionRead:
    """What reading one partition did: records applied, and where it stopped."""

    partition: int
    records: int
    end_offset: int  # every record below this offset has been applied

    @property
    def last_offset(self) -> int:
        """Offset of the last record the mapping reflects; -1 for an empty partition."""
        return self.end_offset - 1


def apply_record_set(
    raw: bytes | None, position: int, end: int, sink: RecordSink
) -> tuple[int, int]:
    """Apply the records at offsets ``[position, end)`` of one fetched record set to ``sink``.

    Returns the offset to fetch next and the number of records applied. Control batches
    (transaction markers) and records without a key are skipped; the returned position
    still moves past them.
    """
    if not raw:
        return position, 0
    records = MemoryRecords(raw)
    applied = 0
    pop = sink.pop
    while records.has_next():
        batch = records.next_batch()
        if batch is None:
            break
        next_offset = batch.next_offset
        if next_offset <= position:
            continue
        if not batch.is_control_batch:
            for record in batch:
                offset = record.offset
                if offset < position:
                    continue
                if offset >= end:
                    break
                key = record.key
                if key is None:
                    continue
                value = record.value
                if value is None:
                    pop(key, None)
                else:
                    sink[key] = value
                applied += 1
        position = min(next_offset, end)
        if position >= end:
            break
    return position, applied


class ChangelogReader:
    """Reads partitions of one topic from the beginning into a mapping, on its own client."""

    def __init__(
        self,
        kafka: Mapping[str, Any],
        *,
        fetch_bytes: int = 16 * 1024 * 1024,
        max_wait_ms: int = 200,
        stall_timeout: float = 30.0,
    ) -> None:
        self._kafka = dict(kafka)
        self._fetch_bytes = fetch_bytes
        self._max_wait_ms = max_wait_ms
        self._stall_timeout = stall_timeout

    async def read(
        self,
        topic: str,
        partitions: Iterable[int],
        sink: RecordSink,
        *,
        sinks: Mapping[int, RecordSink] | None = None,
    ) -> dict[int, PartitionRead | BaseException]:
        """Read each partition up to its end offset at the start into ``sink`` (or its own
        of ``sinks``); a failure is returned."""
        tps = [TopicPartition(topic, p) for p in sorted(set(partitions))]
        if not tps:
            return {}
        kafka = {**self._kafka, "client_id": f"{topic}-bulk-read"}
        offsets = AIOKafkaConsumer(**kafka, group_id=None, enable_auto_commit=False)
        client = AIOKafkaClient(**kafka)
        try:
            await offsets.start()
            starts = await offsets.beginning_offsets(tps)
            ends = await offsets.end_offsets(tps)
            await client.bootstrap()
            await client.add_topic(topic)  # resolves once metadata (leaders) include it
            reads = await asyncio.gather(
                *(
                    self._read_partition(
                        client, tp, starts[tp], ends[tp], (sinks or {}).get(tp.partition, sink)
                    )
                    for tp in tps
                ),
                return_exceptions=True,
            )
        finally:
            await offsets.stop()
            await client.close()
        return {tp.partition: read for tp, read in zip(tps, reads, strict=True)}

    async def _read_partition(  # retries until no progress for ``stall_timeout`` seconds
        self,
        client: AIOKafkaClient,
        tp: TopicPartition,
        start: int,
        end: int,
        sink: RecordSink,
    ) -> PartitionRead:
        position, applied = start, 0
        progressed_at = time.monotonic()
        while position < end:
            node = client.cluster.leader_for_partition(tp)
            if node is None or node < 0:
                await asyncio.sleep(_RETRY_BACKOFF)
                await client.force_metadata_update()
                raw = None
            else:
                raw = await self._fetch(client, node, tp, position)
            position_after, count = apply_record_set(raw, position, end, sink)
            applied += count
            now = time.monotonic()
            if position_after > position:
                position, progressed_at = position_after, now
            elif now - progressed_at > self._stall_timeout:
                raise KafkaError(f"no progress reading {tp} at offset {position} (end {end})")
        return PartitionRead(tp.partition, applied, end)

    async def _fetch(
        self, client: AIOKafkaClient, node: int, tp: TopicPartition, position: int
    ) -> bytes | None:
        request = FetchRequest(
            self._max_wait_ms,
            1,
            self._fetch_bytes,
            READ_UNCOMMITTED,
            [(tp.topic, [(tp.partition, position, self._fetch_bytes)])],
        )
        try:
            response = await client.send(node, request)
        except KafkaError as exc:
            if not exc.retriable:
                raise
            await asyncio.sleep(_RETRY_BACKOFF)  # e.g. a dropped connection: ask again
            return None
        for _topic, partitions in response.topics:
            for partition, error_code, _highwater, *part_data in partitions:
                if partition != tp.partition:
                    continue
                if error_code != _NO_ERROR:
                    error = for_code(error_code)(f"fetching {tp} at offset {position}")
                    if not error.retriable:
                        raise error
                    await asyncio.sleep(_RETRY_BACKOFF)  # e.g. leadership moved: ask again
                    await client.force_metadata_update()
                    return None
                raw: bytes | None = part_data[-1]
                return raw
        return None
