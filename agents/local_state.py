"""The graph partitions this worker holds in memory, rebuilt from the table after recovery.

With a durable store (RocksDB) a clean stop also writes them to a snapshot file
(:mod:`pipeline.snapshot`) next to the store, each partition with the store's persisted
changelog offset; the next rebuild takes a partition from the snapshot when the store
still reports that offset, and from the store's records otherwise. The file is removed
before its content is used, so it serves one start only: whatever happens after that start
(a crash, a rebalance) is rebuilt from the store.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import structlog
from faust.types import TP

from agents.loop_share import in_turns
from pipeline.graph import GraphPartition
from pipeline.snapshot import SnapshotError, read_snapshot, write_snapshot
from pipeline.storage import apply_records, rebuild_partitions_stepwise

__all__ = ["SNAPSHOT_SECONDS_PER_EDGE", "LocalGraphs", "raw_records"]

#: Time to write a snapshot, per edge held (3.2 us measured at 10^6 edges on 2 cores), with
#: some margin.
SNAPSHOT_SECONDS_PER_EDGE = 5e-6

log = structlog.get_logger(__name__)


class LocalGraphs:
    """Partition number -> :class:`GraphPartition` for the partitions assigned here."""

    def __init__(self, partitions: int, step: int | None = None) -> None:
        self.partitions = partitions
        # Stored records a rebuild reads between two turns of the event loop (None: all).
        self.step = step
        self._graphs: dict[int, GraphPartition] = {}
        self.assigned: set[int] = set()
        self.revocations = 0  # rebalances that took the partitions away: see revoke()
        # Partitions with a part applied in memory whose records are not yet all stored
        # (for good, if storing failed): never written to a snapshot.
        self.unsettled: set[int] = set()
        # The last rebuild: seconds it took and the partitions it took from a snapshot.
        self.rebuild_seconds: float | None = None
        self.from_snapshot: set[int] = set()

    def get(self, partition: int) -> GraphPartition:
        graph = self._graphs.get(partition)
        if graph is None:
            graph = self._graphs[partition] = GraphPartition(partition)
        return graph

    def fresh(self, partition: int) -> GraphPartition:
        """A new, empty graph for ``partition``, held from now on in place of any other (for a
        bulk read to fill before the next rebuild keeps it)."""
        graph = self._graphs[partition] = GraphPartition(partition)
        return graph

    def items(self) -> Iterable[tuple[int, GraphPartition]]:
        return self._graphs.items()

    def revoke(self) -> None:
        """The partitions are being taken away (a rebalance): until the next rebuild nothing
        here may answer from them, and a rebuild under way does not mark them assigned."""
        self.assigned = set()
        self.revocations += 1

    def as_mapping(self) -> Mapping[int, GraphPartition]:
        """The partitions held here, for evaluating a query in-process."""
        return {p: g for p, g in self._graphs.items() if p in self.assigned}

    async def rebuild(
        self,
        table: Any,
        actives: Iterable[Any],
        apply_topic: str,
        snapshot: Path | None = None,
    ) -> None:
        """Replace local state with what the table holds for the active apply partitions.

        A partition whose edge records the store handed over to the graph held here (the
        memory store, :mod:`agents.bulk_store`: after an earlier rebuild, or at once when its
        bulk read built the graph) stays, brought up to date with the records Faust replayed
        since. With ``snapshot`` (the file :meth:`write_snapshot` writes),
        partitions whose store offset still matches come from it; the rest from the store's
        records, after which the store hands the edge records of all of them over.

        Reading a durable store's records (seconds per million edges) gives the event loop
        a turn every :attr:`step` records, so ``/healthz`` and Faust's timers go on; Faust
        resumes the streams only once this returns, and its recovery writes nothing to the
        store meanwhile. The database handles are taken first, so a rebalance meanwhile
        cannot change what is read; it revokes the partitions (:meth:`revoke`), and then
        the rebuilt partitions are kept but not marked assigned: nothing answers from them
        until the recovery that follows. A memory store's records are read in one go: its
        bulk read for a new assignment changes them in place.

        The rebuild creates millions of objects that live on. So the collector runs once
        before it (what is garbage by then is freed, not kept), stays off during it, and the
        result is frozen (``gc.freeze``): no later collection scans it again.
        """
        wanted = {tp.partition for tp in actives if tp.topic == apply_topic}
        revocations = self.revocations
        started = time.perf_counter()
        store = table.data
        handed: set[int] = store.handed_over() if hasattr(store, "handed_over") else set()
        if handed - wanted:  # not expected (both follow the assignment): read them in full
            store.release(handed - wanted)
        lost = (handed & wanted) - self._graphs.keys()
        if lost:  # cannot happen: a graph is dropped only when its partition leaves
            raise RuntimeError(f"edge records of partitions {sorted(lost)} held nowhere")
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            graphs = {p: self._graphs[p] for p in wanted & handed}
            for p, graph in graphs.items():  # what Faust replayed since they were built
                apply_records(store.take_pending(p), graph)
            kept = set(graphs)
            # A snapshot loads in one step (about 0.4 s per 10^6 edges): read in frames, its
            # ids would be loaded again per frame, 1.7-2.2x slower in all.
            if snapshot is not None:
                graphs.update(_from_snapshot(snapshot, table, self.partitions, wanted - kept))
            from_store = wanted - graphs.keys()
            if from_store:
                step = None if isinstance(_memory_of(store), dict) else self.step
                records = raw_records(store)
                build = rebuild_partitions_stepwise(records, self.partitions, from_store, step)
                graphs.update(await in_turns(build))
            self._graphs = graphs
            if hasattr(store, "hand_over"):
                store.hand_over(wanted)
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
        if self.revocations == revocations:
            self.assigned = wanted
        else:
            log.info("graph state rebuilt while the partitions were revoked: none assigned")
        self.unsettled = set()
        self.rebuild_seconds = time.perf_counter() - started
        self.from_snapshot = wanted - from_store - kept
        log.info(
            "graph state rebuilt",
            partitions=sorted(wanted),
            from_snapshot=sorted(self.from_snapshot),
            kept=sorted(kept),
            nodes=sum(g.node_count for g in self._graphs.values()),
            edges=sum(g.edge_count for g in self._graphs.values()),
            seconds=round(self.rebuild_seconds, 3),
        )

    def write_snapshot(self, path: Path, table: Any, max_seconds: float) -> list[int]:
        """Write the settled partitions held here, each with its store offset, to ``path``.

        Written to a temporary file first and renamed, so ``path`` is always whole. Skipped
        (nothing written) when it would take longer than ``max_seconds`` by the estimate
        :data:`SNAPSHOT_SECONDS_PER_EDGE`: a stop has a bound. Returns the partitions written.
        """
        started = time.perf_counter()
        held = {
            p: g for p, g in self._graphs.items() if p in self.assigned and p not in self.unsettled
        }
        if not held:
            return []
        estimate = sum(g.edge_count for g in held.values()) * SNAPSHOT_SECONDS_PER_EDGE
        if estimate > max_seconds:
            log.warning(
                "graph snapshot skipped: it would take too long",
                estimate_seconds=round(estimate, 1),
                max_seconds=max_seconds,
            )
            return []
        offsets = {p: table.data.persisted_offset(_changelog_tp(table, p)) for p in held}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as out:
            write_snapshot(out, held, offsets, self.partitions)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
        log.info(
            "graph snapshot written",
            partitions=sorted(held),
            skipped=sorted(self.assigned - held.keys()),
            bytes=path.stat().st_size,
            seconds=round(time.perf_counter() - started, 3),
        )
        return sorted(held)


def _changelog_tp(table: Any, partition: int) -> TP:
    return TP(table.changelog_topic.get_topic_name(), partition)


def _from_snapshot(
    path: Path, table: Any, partitions: int, wanted: set[int]
) -> dict[int, GraphPartition]:
    """The wanted partitions the snapshot at ``path`` holds at the store's current offsets.

    The file (and any partial one) is removed before anything from it is used.
    """
    path.with_name(path.name + ".partial").unlink(missing_ok=True)
    try:
        with path.open("rb") as source:
            graphs, offsets = read_snapshot(source, partitions)
    except FileNotFoundError:
        return {}
    except (OSError, SnapshotError) as exc:
        log.warning("graph snapshot not used", path=str(path), reason=str(exc))
        graphs, offsets = {}, {}
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:  # a file that stays could be read again after a later change
        log.warning("graph snapshot not used: cannot remove it", path=str(path), reason=str(exc))
        return {}
    usable: dict[int, GraphPartition] = {}
    for p in sorted(wanted & graphs.keys()):
        stored = table.data.persisted_offset(_changelog_tp(table, p))
        if stored == offsets[p]:
            usable[p] = graphs[p]
        else:
            log.info(
                "graph snapshot partition outdated",
                partition=p,
                snapshot_offset=offsets[p],
                store_offset=stored,
            )
    return usable


def _memory_of(store: Any) -> Any:
    return getattr(store, "data", None)


def raw_records(store: Any) -> Iterable[tuple[bytes, bytes | None]]:
    """The store's records as raw bytes, without Faust's per-record decoding.

    A memory store keeps them in a dict (``store.data``); a RocksDB store yields those of
    the databases of its active partitions, taken now, so a rebalance while they are read
    does not change what is read (Faust's ``_iteritems`` would look them up as it goes).
    """
    data = _memory_of(store)
    if isinstance(data, dict):
        return data.items()
    if hasattr(store, "_dbs_for_actives") and hasattr(store, "_visible_items"):
        databases = list(store._dbs_for_actives())
        return itertools.chain.from_iterable(map(store._visible_items, databases))
    iteritems = getattr(store, "_iteritems", None)
    if iteritems is not None:
        return iteritems()  # type: ignore[no-any-return]
    return ((bytes(k), None if v is None else bytes(v)) for k, v in store.items())
