"""Standing queries: turning the changes one part made into matches of registered patterns.

While a partition has registrations, applying a part records change events (edge entries
created or removed, labels gained, props set). After the part, :func:`collect_matches`
checks every registered pattern against those events and the partition's state. Every
pattern is decided where its data lives: an edge and its source's labels at the source's
owner, degrees at the node's owner, and a two-hop ``a -[T1]-> b -[T2]-> c`` at b's owner,
which holds both b's in-entries and its out-edges. A destination-label condition is checked
by the destination's owner through a ``MATCH_CONFIRM`` step.

Each match carries an id derived from the pattern, what matched and the input position
that caused it, so a part applied again after a crash yields the same ids.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from pipeline.entries import out_pairs, pairs
from pipeline.graph import GraphPartition
from pipeline.partitioning import partition_for
from pipeline.steps import Step, StepKind

__all__ = ["begin_part", "collect_matches", "finish_routed_part", "match_id"]


def begin_part(graph: GraphPartition) -> None:
    """Start recording change events if any pattern is registered here."""
    graph.events = [] if graph.standing else None
    graph.confirms = []


def finish_routed_part(
    graph: GraphPartition, steps: list[Step], source: tuple[str, int, int]
) -> None:
    """After applying a part routed from an input message: record its position (settling
    confirmations that waited for it). Confirmation and registration parts don't count."""
    if source[2] >= 0 and any(step[0] != StepKind.MATCH_CONFIRM for step in steps):
        graph.mark_applied(*source)


def match_id(standing_id: str, binding: Mapping[str, Any], source: tuple[str, int, int]) -> str:
    text = json.dumps([standing_id, binding, list(source)], sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _match(
    standing_id: str, kind: str, binding: dict[str, Any], source: tuple[str, int, int],
    chunk_id: str | None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "match_id": match_id(standing_id, binding, source),
        "standing_id": standing_id,
        "kind": kind,
        "binding": binding,
        "chunk_id": chunk_id,
        "source": {"topic": source[0], "partition": source[1], "offset": source[2]},
    }


def _has_label(graph: GraphPartition, node_id: str, label: str) -> bool:
    record = graph.nodes.get(node_id)
    return record is not None and label in record.labels


def _degree(graph: GraphPartition, node_id: str, direction: str) -> int:
    if direction == "out":
        return graph.out_degree(node_id)
    if direction == "in":
        return graph.in_degree(node_id)
    return graph.out_degree(node_id) + graph.in_degree(node_id)


def collect_matches(
    graph: GraphPartition,
    partitions: int,
    source: tuple[str, int, int],
    chunk_id: str | None,
) -> tuple[list[dict[str, Any]], dict[int, list[Step]]]:
    """Matches found here, and confirmation steps to send to other partitions."""
    events = graph.events or []
    graph.events = None
    matches: dict[str, dict[str, Any]] = {}
    forwards: dict[int, list[Step]] = defaultdict(list)

    def emit(sid: str, kind: str, binding: dict[str, Any]) -> None:
        m = _match(sid, kind, binding, source, chunk_id)
        matches[m["match_id"]] = m

    for _node, _label, confirmed in graph.confirms:
        matches[confirmed["match_id"]] = confirmed
    graph.confirms = []
    if not events:
        return list(matches.values()), dict(forwards)

    for sid, pattern in sorted(graph.standing.items()):
        kind = pattern["kind"]
        if kind == "edge":
            for ev in events:
                if ev[0] != "out+" or ev[2] != pattern["edge_type"]:
                    continue
                src, etype, dst = ev[1], ev[2], ev[3]
                if "src_label" in pattern and not _has_label(graph, src, pattern["src_label"]):
                    continue
                binding = {"src": src, "type": etype, "dst": dst}
                label = pattern.get("dst_label")
                if label is None:
                    emit(sid, kind, binding)
                    continue
                owner = partition_for(dst, partitions)
                if owner == graph.partition:
                    if _has_label(graph, dst, label):
                        emit(sid, kind, binding)
                else:
                    m = _match(sid, kind, binding, source, chunk_id)
                    forwards[owner].append((StepKind.MATCH_CONFIRM, dst, label, m))
        elif kind == "node_label":
            for ev in events:
                if ev[0] == "label" and ev[2] == pattern["label"]:
                    emit(sid, kind, {"id": ev[1], "label": ev[2]})
        elif kind == "node_prop":
            for ev in events:
                if ev[0] == "prop" and ev[2] == pattern["key"]:
                    if "value" in pattern and ev[3] != pattern["value"]:
                        continue
                    emit(sid, kind, {"id": ev[1], "key": ev[2], "value": ev[3]})
        elif kind == "degree":
            _degree_matches(graph, sid, pattern, events, emit)
        elif kind == "two_hop":
            _two_hop_matches(graph, sid, pattern, events, emit)
    return list(matches.values()), dict(forwards)


def _degree_matches(
    graph: GraphPartition, sid: str, pattern: Mapping[str, Any], events: list[tuple[Any, ...]],
    emit: Any,
) -> None:  # fmt: skip
    direction, threshold = pattern["direction"], pattern["threshold"]
    kinds = {"out": ("out",), "in": ("in",), "both": ("out", "in")}[direction]
    delta: dict[str, int] = defaultdict(int)
    for ev in events:
        side, sign = ev[0][:-1], ev[0][-1]  # "out+", "out-", "in+", "in-"; ev[1] is the owner
        if side in kinds and sign in "+-":
            delta[ev[1]] += 1 if sign == "+" else -1
    for node_id, change in sorted(delta.items()):
        if change <= 0 or node_id not in graph.nodes:
            continue
        after = _degree(graph, node_id, direction)
        if after - change < threshold <= after:
            emit(sid, "degree", {"id": node_id, "direction": direction, "threshold": threshold})


def _two_hop_matches(
    graph: GraphPartition, sid: str, pattern: Mapping[str, Any], events: list[tuple[Any, ...]],
    emit: Any,
) -> None:  # fmt: skip
    first, second = pattern["first_type"], pattern["second_type"]
    for ev in events:
        if ev[0] == "in+" and ev[2] == first:  # a -[first]-> b arrived at b's owner
            a, b = ev[3], ev[1]
            for etype, c in sorted(out_pairs(graph.out_edges.get(b))):
                if etype == second:
                    emit(sid, "two_hop", {"a": a, "b": b, "c": c})
        elif ev[0] == "out+" and ev[2] == second:  # b -[second]-> c arrived at b's owner
            b, c = ev[1], ev[3]
            for etype, a in sorted(pairs(graph.in_edges.get(b))):
                if etype == first:
                    emit(sid, "two_hop", {"a": a, "b": b, "c": c})
