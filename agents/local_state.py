"""The graph partitions this worker holds in memory, rebuilt from the table after recovery."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from pipeline.graph import GraphPartition
from pipeline.storage import rebuild_partitions

__all__ = ["LocalGraphs", "raw_records"]

log = structlog.get_logger(__name__)


class LocalGraphs:
    """Partition number -> :class:`GraphPartition` for the partitions assigned here."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._graphs: dict[int, GraphPartition] = {}
        self.assigned: set[int] = set()

    def get(self, partition: int) -> GraphPartition:
        graph = self._graphs.get(partition)
        if graph is None:
            graph = self._graphs[partition] = GraphPartition(partition)
        return graph

    def items(self) -> Iterable[tuple[int, GraphPartition]]:
        return self._graphs.items()

    def as_mapping(self) -> Mapping[int, GraphPartition]:
        """The partitions held here, for evaluating a query in-process."""
        return {p: g for p, g in self._graphs.items() if p in self.assigned}

    def rebuild(self, table: Any, actives: Iterable[Any], apply_topic: str) -> None:
        """Replace local state with what the table holds for the active apply partitions.

        The rebuild creates millions of objects that live on. So the collector runs once
        before it (what is garbage by then is freed, not kept), stays off during it, and the
        result is frozen (``gc.freeze``): no later collection scans it again.
        """
        wanted = {tp.partition for tp in actives if tp.topic == apply_topic}
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            self._graphs = rebuild_partitions(raw_records(table.data), self.partitions, wanted)
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
        self.assigned = wanted
        log.info(
            "graph state rebuilt",
            partitions=sorted(wanted),
            nodes=sum(g.node_count for g in self._graphs.values()),
            edges=sum(g.edge_count for g in self._graphs.values()),
        )


def raw_records(store: Any) -> Iterable[tuple[bytes, bytes | None]]:
    """The store's records as raw bytes, without Faust's per-record decoding.

    A memory store keeps them in a dict (``store.data``); a serialized store (RocksDB)
    yields them from its ``_iteritems``, the raw counterpart of ``items()`` that Faust's
    ``SerializedStore`` defines for its subclasses (active partitions only).
    """
    data = getattr(store, "data", None)
    if isinstance(data, dict):
        return data.items()
    iteritems = getattr(store, "_iteritems", None)
    if iteritems is not None:
        return iteritems()  # type: ignore[no-any-return]
    return ((bytes(k), None if v is None else bytes(v)) for k, v in store.items())
