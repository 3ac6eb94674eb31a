"""Splitting a validated chunk into per-partition step lists, keeping input order.

An op touches the partitions that own its nodes: an edge upsert or delete goes to its
source's owner (the out entry) and its destination's owner (the in entry); a node delete
goes to every partition, since any of them may hold edges that touch the node.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.partitioning import partition_for
from pipeline.steps import Step, StepKind
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode

__all__ = ["route_chunk"]


def route_chunk(items: Iterable[Op], partitions: int) -> dict[int, list[Step]]:
    """Map each graph partition to the steps it must apply, in the order of ``items``."""
    parts: dict[int, list[Step]] = {}
    owner_cache: dict[str, int] = {}

    def owner(node_id: str) -> int:
        p = owner_cache.get(node_id)
        if p is None:
            p = owner_cache[node_id] = partition_for(node_id, partitions)
        return p

    def add(p: int, step: Step) -> None:
        steps = parts.get(p)
        if steps is None:
            parts[p] = [step]
        else:
            steps.append(step)

    for op in items:
        if isinstance(op, UpsertEdge):
            add(owner(op.src), (StepKind.OUT_UPSERT, op.src, op.type, op.dst, op.props))
            add(owner(op.dst), (StepKind.IN_UPSERT, op.dst, op.type, op.src))
        elif isinstance(op, UpsertNode):
            add(owner(op.id), (StepKind.NODE_UPSERT, op.id, op.labels, op.props))
        elif isinstance(op, DeleteEdge):
            add(owner(op.src), (StepKind.OUT_DELETE, op.src, op.type, op.dst))
            add(owner(op.dst), (StepKind.IN_DELETE, op.dst, op.type, op.src))
        elif isinstance(op, DeleteNode):
            for p in range(partitions):
                add(p, (StepKind.NODE_DELETE, op.id))
    return parts
