"""Deterministic sample and benchmark graphs in wire form (seeded, reproducible)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

__all__ = ["power_law_edges", "social_sample", "uniform_edges"]

Op = dict[str, Any]


def social_sample() -> list[Op]:
    """A small labelled graph that the demo loads and queries."""
    people = {
        "alice": 31,
        "bob": 27,
        "carol": 45,
        "dave": 38,
        "erin": 22,
        "frank": 52,
    }
    ops: list[Op] = [
        {"op": "upsert_node", "id": name, "labels": ["Person"], "props": {"age": age}}
        for name, age in people.items()
    ]
    ops += [
        {"op": "upsert_node", "id": "acme", "labels": ["Company"], "props": {"founded": 1999}},
        {
            "op": "upsert_edge",
            "src": "alice",
            "dst": "bob",
            "type": "KNOWS",
            "props": {"since": 2019},
        },
        {"op": "upsert_edge", "src": "bob", "dst": "carol", "type": "KNOWS", "props": {}},
        {"op": "upsert_edge", "src": "carol", "dst": "dave", "type": "KNOWS", "props": {}},
        {"op": "upsert_edge", "src": "alice", "dst": "erin", "type": "KNOWS", "props": {}},
        {"op": "upsert_edge", "src": "erin", "dst": "frank", "type": "KNOWS", "props": {}},
        {"op": "upsert_edge", "src": "frank", "dst": "frank", "type": "LIKES", "props": {}},
    ]
    ops += [
        {"op": "upsert_edge", "src": p, "dst": "acme", "type": "WORKS_AT", "props": {}}
        for p in ("alice", "carol", "frank")
    ]
    ops += [
        {"op": "delete_edge", "src": "erin", "dst": "frank", "type": "KNOWS"},
        {"op": "upsert_node", "id": "bob", "props": {"age": 28, "city": "Lyon"}},
    ]
    return ops


def uniform_edges(nodes: int, edges: int, seed: int, prefix: str = "u") -> Iterator[Op]:
    """``edges`` edge upserts between ``nodes`` nodes chosen uniformly at random."""
    rng = random.Random(seed)
    for _ in range(edges):
        src, dst = rng.randrange(nodes), rng.randrange(nodes)
        yield {"op": "upsert_edge", "src": f"{prefix}{src}", "dst": f"{prefix}{dst}", "type": "E"}


def power_law_edges(nodes: int, edges: int, seed: int, prefix: str = "p") -> Iterator[Op]:
    """Edge upserts whose endpoints follow a Zipf-like law: a few hubs, a long tail."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(nodes)]
    picks = rng.choices(range(nodes), weights=weights, k=2 * edges)
    for i in range(edges):
        yield {
            "op": "upsert_edge",
            "src": f"{prefix}{picks[2 * i]}",
            "dst": f"{prefix}{picks[2 * i + 1]}",
            "type": "E",
        }
