"""Evaluating queries against partition-local state: which partitions a query needs, the
partial answer each one gives, and how partials merge into the final result.

A query that names one node is answered by that node's owner alone; a global aggregate is
scattered to every partition and the partials are merged. Results are deterministic
(sorted) so two runs give byte-identical answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.digest import merge_digests, partition_digest
from pipeline.graph import GraphPartition
from pipeline.partitioning import partition_for

__all__ = ["evaluate_partial", "merge_partials", "target_partitions"]


class UnsupportedQuery(ValueError):
    """The query type is valid on the wire but has no evaluator here."""


def target_partitions(qtype: str, args: Mapping[str, Any], partitions: int) -> list[int]:
    """The partitions whose partial answers make up the result of this query."""
    if qtype == "node":
        return [partition_for(args["id"], partitions)]
    if qtype in ("stats", "digest"):
        return list(range(partitions))
    raise UnsupportedQuery(f"query type {qtype!r} is not supported by this engine version")


def evaluate_partial(qtype: str, args: Mapping[str, Any], graph: GraphPartition) -> Any:
    """The answer of one partition."""
    if qtype == "node":
        node_id = args["id"]
        record = graph.nodes.get(node_id)
        if record is None:
            return None
        return {
            "id": node_id,
            "labels": sorted(record.labels),
            "props": dict(sorted(record.props.items())),
            "out_degree": graph.out_degree(node_id),
            "in_degree": graph.in_degree(node_id),
        }
    if qtype == "stats":
        return {"nodes": graph.node_count, "edges": graph.edge_count}
    if qtype == "digest":
        return partition_digest(graph)
    raise UnsupportedQuery(f"query type {qtype!r} is not supported by this engine version")


def merge_partials(qtype: str, args: Mapping[str, Any], partials: Sequence[Any]) -> Any:
    """Combine the partial answers of every target partition into the final result."""
    if qtype == "node":
        return partials[0] if partials else None
    if qtype == "stats":
        return {
            "nodes": sum(int(p["nodes"]) for p in partials),
            "edges": sum(int(p["edges"]) for p in partials),
        }
    if qtype == "digest":
        return merge_digests(partials)
    raise UnsupportedQuery(f"query type {qtype!r} is not supported by this engine version")
