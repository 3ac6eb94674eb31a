"""Query arguments of the query benchmark: deterministic per seed, valid, over existing ids."""

from __future__ import annotations

import pytest

from benchmarks.query_args import KINDS, LOAD_MIX, QueryKind, interleave, kind, sample_queries
from project_engine.sdk.wire import encode_value
from schemas.limits import Limits
from schemas.queries import QueryRejection, parse_query


@pytest.mark.parametrize("k", KINDS, ids=lambda k: k.key)
def test_same_seed_gives_same_queries(k: QueryKind) -> None:
    assert k.sample(50, 1000, seed=3) == k.sample(50, 1000, seed=3)


def test_seeds_and_kinds_draw_independently() -> None:
    node = kind("node")
    assert node.sample(50, 1000, seed=3) != node.sample(50, 1000, seed=4)
    ids_node = [q["id"] for q in node.sample(50, 1000, seed=3)]
    ids_neighbors = [q["id"] for q in kind("neighbors_out").sample(50, 1000, seed=3)]
    assert ids_node != ids_neighbors


def test_a_prefix_of_a_longer_sample_is_the_shorter_sample() -> None:
    k = kind("khop2")
    assert k.sample(100, 500, seed=1)[:10] == k.sample(10, 500, seed=1)


def test_node_ids_are_those_of_the_generated_graph() -> None:
    for q in kind("neighbors_both").sample(500, 20, seed=9):
        assert q["id"] in {f"n{i}" for i in range(20)}


def test_shortest_path_pairs_are_distinct_endpoints() -> None:
    pairs = kind("shortest_path").sample(300, 3, seed=2)
    assert all(q["src"] != q["dst"] for q in pairs)
    assert {q["max_depth"] for q in pairs} == {6}
    single = kind("shortest_path").sample(2, 1, seed=2)
    assert all(q["src"] == q["dst"] == "n0" for q in single)


@pytest.mark.parametrize("k", KINDS, ids=lambda k: k.key)
def test_every_sampled_query_is_valid(k: QueryKind) -> None:
    for q in k.sample(5, 100, seed=1):
        parsed = parse_query(encode_value(q, "msgpack"), "application/msgpack", Limits())
        assert not isinstance(parsed, QueryRejection), parsed
        assert parsed.type == q["type"]


def test_kind_lookup_names_known_kinds() -> None:
    assert kind("stats").key == "stats"
    with pytest.raises(KeyError, match="node"):
        kind("nope")
    assert all(kind(key) for key in LOAD_MIX)


def test_sample_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        sample_queries(kind("node"), 1, 0, seed=1)
    with pytest.raises(ValueError):
        sample_queries(kind("node"), -1, 10, seed=1)


def test_interleave_takes_turns_then_the_rest() -> None:
    a = [{"i": 1}, {"i": 2}, {"i": 3}]
    b = [{"j": 1}]
    assert interleave([a, b]) == [{"i": 1}, {"j": 1}, {"i": 2}, {"i": 3}]
    assert interleave([]) == []
