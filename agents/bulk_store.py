"""The graph table's memory store: Faust's, plus a bulk read of newly assigned partitions.

Faust's memory store keeps no offsets (``persisted_offset`` is always ``None``), so whenever a
worker gets an active partition, Faust's recovery replays that partition's whole changelog,
one event at a time. :class:`BulkRestoreStore` keeps Faust's table, changelog and recovery
and makes only the bulk of that replay fast:

1. ``on_rebalance`` is awaited by Faust's table manager before its recovery service asks for
   any offset. There the store drops what it holds of partitions no longer assigned here, then
   reads every newly active changelog partition from its first record up to its end offset,
   taken when the read starts (:class:`agents.changelog_reader.ChangelogReader`).
2. ``persisted_offset(tp)`` then returns the offset of the last record read. Faust's recovery
   takes it as the offset already applied: it seeks there, applies only events with a higher
   offset, and stops at the highwater it takes afterwards. So Faust replays only the records
   written since the bulk read started (usually none).
3. The offset then follows the partition: changelog batches Faust applies (that tail) and
   records the worker writes, once the broker acknowledged them (``set_persisted_offset``).
   A later rebalance that keeps the partition here replays only what came after.

Standby partitions, and active partitions whose bulk read failed, get Faust's own replay.
With transactions (``exactly_once``) the bulk read is skipped: it would read aborted records.

Edge records are nearly all of a graph's records, and the worker's graph holds what they
say. So once the graph of an active partition with a known offset is built, the store hands
that partition's edge records over to it (:meth:`BulkRestoreStore.hand_over`): it drops
them and keeps none the worker writes later, holding only the partition's other records.
Given :attr:`BulkRestore.fresh_graph`, a bulk read builds the worker's graph of each
partition as it reads (:class:`pipeline.storage.GraphRecordSink`): edge records never enter
the store, and a partition read in full is handed over at once.
Records Faust replays for a handed-over partition (a rebalance that keeps it here replays
what was written after the store's offset) are kept in order, deletions included, until
the graph takes them (:meth:`BulkRestoreStore.take_pending`). A partition that leaves, or
whose offset is forgotten, is no longer handed over: it is read in full when it comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from faust.stores import STORES
from faust.stores.memory import Store as MemoryStore
from faust.types import TP, EventT

from agents.changelog_reader import ChangelogReader, PartitionRead, RecordSink
from pipeline.graph import GraphPartition
from pipeline.storage import GraphRecordSink, TableWrite, is_edge_record

__all__ = ["OPTION", "SCHEME", "BulkRestore", "BulkRestoreStore", "store_url"]

log = structlog.get_logger(__name__)

#: URL scheme the store is registered under, and the key of its settings in the table options.
SCHEME = "graph-memory"
OPTION = "bulk_restore"


@dataclass(frozen=True)
class BulkRestore:
    """What the store needs to read changelogs itself, passed in the table's ``options``."""

    kafka: Mapping[str, Any] = field(repr=False)  # aiokafka connection and security kwargs
    key_holder: Callable[[bytes], int | None]  # a key's partition; None: every partition's
    # A new, empty graph for a partition, held by the worker from then on: a bulk read builds
    # it and hands the partition over straight away (None: the worker builds graphs later).
    fresh_graph: Callable[[int], GraphPartition] | None = None


def store_url() -> str:
    """Register :class:`BulkRestoreStore` with Faust (once); the URL for ``App(store=...)``."""
    STORES.aliases.setdefault(SCHEME, f"{__name__}:BulkRestoreStore")
    return f"{SCHEME}://"


class BulkRestoreStore(MemoryStore[bytes, bytes]):
    """Faust's memory store whose newly assigned active partitions are read in bulk."""

    def __post_init__(self) -> None:  # runs before ``__init__`` has set ``self.options``
        super().__post_init__()
        self._offsets: dict[TP, int] = {}  # active partition -> last changelog offset held
        self._held: set[int] = set()  # partitions whose records the store may hold
        self.bulk_records = 0  # records applied by bulk reads since the process started
        # Active partitions whose edge records the worker's graph holds instead of the store,
        # and the records Faust replayed for them since, in order (None: a deletion).
        self._handed: set[int] = set()
        self._pending: dict[int, list[TableWrite]] = {}

    @property
    def _bulk(self) -> BulkRestore | None:
        config = (self.options or {}).get(OPTION)
        return config if isinstance(config, BulkRestore) else None

    def persisted_offset(self, tp: TP) -> int | None:
        """Offset of the last changelog record the store holds for ``tp`` (if known)."""
        return self._offsets.get(tp)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """Note that the store holds ``tp``'s changelog up to ``offset`` (for known partitions)."""
        known = self._offsets.get(tp)
        if known is not None and offset > known:
            self._offsets[tp] = offset

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        events = batch if isinstance(batch, list) else list(batch)
        super().apply_changelog_batch(events, to_key, to_value)
        for event in events:
            message = event.message
            self.set_persisted_offset(message.tp, message.offset)
            key = event.key
            if message.partition in self._handed and isinstance(key, bytes):
                self._pending.setdefault(message.partition, []).append((key, message.value))
                if is_edge_record(key):
                    self.data.pop(key, None)
                    self._key_partition.pop(key, None)

    def keeps_edges(self, partition: int) -> bool:
        """Whether the store holds ``partition``'s edge records (not handed over)."""
        return partition not in self._handed

    def handed_over(self) -> set[int]:
        return set(self._handed)

    def take_pending(self, partition: int) -> list[TableWrite]:
        """The records replayed for handed-over ``partition`` since the last call, in order."""
        return self._pending.pop(partition, [])

    def release(self, partitions: Iterable[int]) -> None:
        """Stop handing ``partitions`` over and forget their offsets: a later rebalance reads
        them in full."""
        gone = set(partitions)
        self._handed -= gone
        for partition in gone:
            self._pending.pop(partition, None)
        for tp in [tp for tp in self._offsets if tp.partition in gone]:
            del self._offsets[tp]

    def hand_over(self, partitions: Iterable[int]) -> set[int]:
        """Drop the edge records of ``partitions`` whose graph the worker now holds, and keep
        none of theirs from now on. Only active partitions with a known offset qualify (the
        store can tell exactly what a later rebalance replays); returns those handed over."""
        if self._bulk is None:
            return set()
        known = {tp.partition for tp in self._offsets}
        new = (set(partitions) & known) - self._handed
        if not new:
            return set()
        self._handed |= new
        holder = self._bulk.key_holder
        if self._held <= self._handed:  # no partition's edge records stay: skip the owners
            doomed = [key for key in self.data if is_edge_record(key)]
        else:
            doomed = [key for key in self.data if is_edge_record(key) and holder(key) in new]
        for key in doomed:
            del self.data[key]
            self._key_partition.pop(key, None)
        log.info("edge records handed to the graph", partitions=sorted(new), records=len(doomed))
        return new

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        bulk = self._bulk
        if bulk is None:
            return
        topic = self.table.changelog_topic.get_topic_name()
        actives = {tp for tp in self.app.assignor.assigned_actives() if tp.topic == topic}
        standbys = {tp for tp in self.app.assignor.assigned_standbys() if tp.topic == topic}
        for tp in [tp for tp in self._offsets if tp not in actives]:
            del self._offsets[tp]
        self._handed &= {tp.partition for tp in self._offsets}
        for partition in [p for p in self._pending if p not in self._handed]:
            del self._pending[partition]
        to_read = actives - self._offsets.keys()
        if self.app.in_transaction or generation_id != self.app.consumer_generation_id:
            to_read = set()
        self._drop_except({tp.partition for tp in actives | standbys if tp not in to_read}, bulk)
        self._held |= {tp.partition for tp in actives | standbys}
        if to_read:
            await self._read(topic, to_read, bulk)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Drop records Faust replayed for partitions not active here (as Faust's store does).

        Unlike Faust's store, a record every partition holds (a standing query) stays while
        any partition is active here: a standby's copy of it is the active partitions' too.
        """
        bulk = self._bulk
        if bulk is None:
            await super().on_recovery_completed(active_tps, standby_tps)
            return
        active = {tp.partition for tp in active_tps}
        holder = bulk.key_holder
        for key, partition in list(self._key_partition.items()):
            if partition in active:
                continue
            del self._key_partition[key]
            if not (active and holder(key) is None):
                self.data.pop(key, None)

    def _drop_except(self, keep: set[int], bulk: BulkRestore) -> None:
        """Forget every record of partitions not in ``keep``."""
        if not self._held - keep:
            return
        self._held &= keep
        if not keep:
            self.data.clear()
            self._key_partition.clear()
            return
        holder = bulk.key_holder
        doomed = [key for key in self.data if (p := holder(key)) is not None and p not in keep]
        for key in doomed:
            del self.data[key]
            self._key_partition.pop(key, None)
        log.info("store dropped revoked partitions", records=len(doomed), kept=sorted(keep))

    async def _read(self, topic: str, tps: set[TP], bulk: BulkRestore) -> None:
        started = time.monotonic()
        fresh = bulk.fresh_graph
        sinks: dict[int, RecordSink] = {}
        if fresh is not None:
            sinks = {tp.partition: GraphRecordSink(fresh(tp.partition), self.data) for tp in tps}
        try:
            reads = await ChangelogReader(bulk.kafka).read(
                topic, (tp.partition for tp in tps), self.data, sinks=sinks
            )
        except Exception as exc:  # nothing read: Faust's recovery replays these partitions
            log.warning("changelog bulk read failed", topic=topic, error=repr(exc))
            return
        records = 0
        for tp in tps:
            read = reads.get(tp.partition)
            if isinstance(read, PartitionRead):
                self._offsets[tp] = read.last_offset
                records += read.records
                if tp.partition in sinks:  # its edge records went into the graph alone
                    self._handed.add(tp.partition)
            else:  # Faust's recovery replays this partition in full over what was read
                log.warning("changelog bulk read failed", tp=str(tp), error=repr(read))
        self.bulk_records += records
        seconds = time.monotonic() - started
        log.info(
            "changelog bulk read",
            topic=topic,
            partitions=sorted(tp.partition for tp in tps if tp in self._offsets),
            into_graph=bool(sinks),
            records=records,
            seconds=round(seconds, 3),
            records_per_second=round(records / seconds) if seconds > 0 else None,
        )
