"""A partition's digest terms are the hashes of its plain nodes and edges, read any number of
items at a time.

:func:`~pipeline.digest.partition_digest_stepwise` writes each item's canonical JSON text
from the partition's own layout (quoted ids, packed props); these tests hold it to
:func:`~pipeline.digest.graph_digest` of an independent reference graph (networkx), which
hashes the plain values with the JSON encoder.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from pipeline import digest as digest_module
from pipeline.digest import merge_digests, partition_digest, partition_digest_stepwise
from pipeline.graph import GraphPartition
from pipeline.routing import route_chunk
from schemas.ops import DeleteEdge, DeleteNode, Op, UpsertEdge, UpsertNode
from tests.support.reference import ReferenceGraph, reference_digest
from tests.support.stepwise import drive

AWKWARD_IDS = ["plain", 'quote"d', "back\\slash", "tab\there", "ünï", "雪", "emoji\U0001f600", ""]
AWKWARD_PROPS: list[dict[str, Any]] = [
    {},
    {"w": 7},
    {"b": 1, "a": 2},  # keys out of order: the text sorts them
    {"f": 2.5, "neg": -0.0, "big": 2**63 - 1, "small": -(2**63)},
    {"t": True, "n": None, "s": 'line\nbreak "q" \\ \u0001'},
    {"nested": {"z": [1, {"y": None}], "a": []}, "list": [1.0, "x", False]},
    {"ключ": "значение", "": ""},
]


def _graph_and_reference(
    ops: list[Op], partitions: int
) -> tuple[list[GraphPartition], dict[str, Any]]:
    """The partitions the ops build, and the digest of the independent reference graph."""
    graphs = [GraphPartition(p) for p in range(partitions)]
    for p, steps in route_chunk(ops, partitions).items():
        graphs[p].apply(steps)
    reference = ReferenceGraph()
    reference.apply(ops)
    return graphs, reference_digest(reference)


def _awkward_ops(seed: int, count: int) -> list[Op]:
    rng = random.Random(seed)
    ids = AWKWARD_IDS + [f"v{i}" for i in range(40)]
    ops: list[Op] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.7:
            props = rng.choice(AWKWARD_PROPS)
            ops.append(
                UpsertEdge(rng.choice(ids), rng.choice(ids), rng.choice(["", "T", "ü"]), props)
            )
        elif roll < 0.85:
            labels = tuple(rng.sample(["A", "B", "Ω"], rng.randint(0, 2)))
            ops.append(UpsertNode(rng.choice(ids), labels, rng.choice(AWKWARD_PROPS)))
        elif roll < 0.95:
            ops.append(DeleteEdge(rng.choice(ids), rng.choice(ids), "T"))
        else:
            ops.append(DeleteNode(rng.choice(ids)))
    return ops


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("partitions", [1, 3])
def test_partition_digests_merge_to_the_digest_of_the_plain_graph(
    seed: int, partitions: int
) -> None:
    graphs, reference = _graph_and_reference(_awkward_ops(seed, 600), partitions)
    merged = merge_digests(partition_digest(g) for g in graphs)
    assert merged == reference
    assert merged["edges"] > 100  # the ops left a graph worth comparing


@pytest.mark.parametrize("size", [1, 2, 7, 1000])
def test_stepwise_digest_gives_the_same_terms_whatever_the_step_size(size: int) -> None:
    (graph,), _ = _graph_and_reference(_awkward_ops(4, 400), 1)
    terms, yields = drive(partition_digest_stepwise(graph, size))
    assert terms == partition_digest(graph)
    items = graph.node_count + graph.edge_count
    assert yields == items // size


def test_stepwise_digest_refuses_a_step_size_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(partition_digest_stepwise(GraphPartition(0), 0))


def test_props_beyond_the_kept_texts_hash_as_the_kept_ones_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ops: list[Op] = [UpsertEdge(f"s{i % 7}", f"d{i}", "T", {"w": i % 50}) for i in range(300)]
    graphs, reference = _graph_and_reference(ops, 1)
    monkeypatch.setattr(digest_module, "_PROPS_TEXTS", 3)  # most props texts are not kept
    assert merge_digests(partition_digest(g) for g in graphs) == reference


def test_a_partition_changed_between_steps_is_read_as_it_is_then() -> None:
    ops: list[Op] = [UpsertEdge(f"s{i}", f"d{i}", "T", {"w": i}) for i in range(50)]
    (graph,), _ = _graph_and_reference(ops, 1)
    steps = partition_digest_stepwise(graph, 1)
    next(steps)  # one node read; the rest of the ids are taken already
    graph.apply(
        route_chunk([DeleteNode("s40"), DeleteNode("d40"), UpsertEdge("new", "d1", "T", {})], 1)[0]
    )
    terms, _ = drive(steps)
    _, after = _graph_and_reference([*ops, DeleteNode("s40"), DeleteNode("d40")], 1)
    # The deleted nodes and their edge are left out; the node and edge added after the ids
    # were taken are not seen, though the counts (taken at the end) hold them.
    assert f"{terms['sum']:016x}" == after["digest"]
    assert (terms["nodes"], terms["edges"]) == (after["nodes"] + 1, after["edges"] + 1)
