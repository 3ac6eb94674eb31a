"""A node's entry containers hold exactly what a plain set or dict would, in the form their
entries decide, also after deletes: up to ``SMALL`` entries a tuple naming their one type
once, or a flat list when they have two types or more; a set or dict beyond."""

from __future__ import annotations

import random

import pytest

from pipeline.entries import (
    SMALL,
    OutEntries,
    PairEntries,
    out_add,
    out_count,
    out_get,
    out_items,
    out_pairs,
    out_pop,
    out_put,
    pairs,
    pairs_add,
    pairs_count,
    pairs_discard,
    pairs_has,
    pairs_insert,
)
from tests.support.entry_forms import expected_form

# Ids equal to a type, and types equal to an id, must not be mistaken for each other.
NODES = [f"n{i}" for i in range(3 * SMALL)] + ["T", "U"]
TYPES = ["T", "U", "n1"]


def check_pairs(index: dict[str, PairEntries], model: dict[str, set[tuple[str, str]]]) -> None:
    assert index.keys() == {k for k, v in model.items() if v}
    for key, expected in model.items():
        entries = index.get(key)
        assert set(pairs(entries)) == expected
        assert pairs_count(entries) == len(expected) == len(pairs(entries))
        if expected:
            assert type(entries) is expected_form([t for t, _ in expected], set)


def check_out(out: dict[str, OutEntries], model: dict[str, dict[tuple[str, str], bytes]]) -> None:
    assert out.keys() == {k for k, v in model.items() if v}
    for key, expected in model.items():
        entries = out.get(key)
        assert {(t, d): p for t, d, p in out_items(entries)} == expected
        assert sorted(out_pairs(entries)) == sorted(expected)
        assert out_count(entries) == len(expected)
        if expected:
            assert type(entries) is expected_form([t for t, _ in expected], dict)


@pytest.mark.parametrize("types", [TYPES, ["T"]], ids=["mixed-types", "one-type"])
@pytest.mark.parametrize("seed", range(6))
def test_pair_containers_match_a_set_through_random_adds_and_discards(
    seed: int, types: list[str]
) -> None:
    rng = random.Random(seed)
    index: dict[str, PairEntries] = {}
    model: dict[str, set[tuple[str, str]]] = {"a": set(), "b": set()}
    sizes: list[int] = []
    for step in range(4000):
        key = rng.choice("ab")
        pair = (rng.choice(types), rng.choice(NODES))
        held = pair in model[key]
        assert pairs_has(index.get(key), *pair) == held
        if rng.random() < (0.6 if step < 2000 else 0.05):
            if held or rng.random() < 0.5:
                assert pairs_add(index, key, *pair) == (not held)
            else:
                pairs_insert(index, key, *pair)
            model[key].add(pair)
        else:
            assert pairs_discard(index, key, *pair) == held
            model[key].discard(pair)
        check_pairs(index, model)
        sizes.append(len(model["a"]))
    grown = sizes.index(max(sizes))
    assert sizes[grown] > SMALL >= min(sizes[grown:])  # hashed, and back to a list


@pytest.mark.parametrize("types", [TYPES, ["T"]], ids=["mixed-types", "one-type"])
@pytest.mark.parametrize("seed", range(6))
def test_out_containers_match_a_dict_through_random_puts_and_pops(
    seed: int, types: list[str]
) -> None:
    rng = random.Random(seed)
    out: dict[str, OutEntries] = {}
    model: dict[str, dict[tuple[str, str], bytes]] = {"a": {}, "b": {}}
    sizes: list[int] = []
    for step in range(4000):
        src = rng.choice("ab")
        key = (rng.choice(types), rng.choice(NODES))
        held = model[src].get(key)
        assert out_get(out.get(src), *key) == held
        props = bytes([rng.randrange(256)])
        if rng.random() < (0.6 if step < 2000 else 0.05):
            if held is None and rng.random() < 0.5:
                out_add(out, src, *key, props)
            else:
                assert out_put(out, src, *key, props) == (held is None)
            model[src][key] = props
        else:
            assert out_pop(out, src, *key) == held
            model[src].pop(key, None)
        check_out(out, model)
        sizes.append(len(model["a"]))
    grown = sizes.index(max(sizes))
    assert sizes[grown] > SMALL >= min(sizes[grown:])  # hashed, and back to a list


def test_missing_containers_read_as_empty() -> None:
    assert pairs(None) == [] and pairs_count(None) == 0 and not pairs_has(None, "T", "x")
    assert out_items(None) == [] and out_pairs(None) == [] and out_count(None) == 0
    assert out_get(None, "T", "x") is None
    assert out_pop({}, "a", "T", "x") is None and not pairs_discard({}, "a", "T", "x")


def test_a_type_equal_to_an_id_is_not_taken_for_the_id() -> None:
    index: dict[str, PairEntries] = {}
    pairs_insert(index, "k", "x", "T")  # type "x", node "T"
    assert not pairs_has(index["k"], "T", "x")
    assert pairs_add(index, "k", "T", "x")
    assert sorted(pairs(index["k"])) == [("T", "x"), ("x", "T")]
    out: dict[str, OutEntries] = {}
    out_add(out, "a", "x", "T", b"1")
    assert out_get(out["a"], "T", "x") is None
    assert out_put(out, "a", "T", "x", b"2")
    assert out_get(out["a"], "x", "T") == b"1" and out_get(out["a"], "T", "x") == b"2"


def test_entries_sharing_one_type_name_it_once_and_a_second_type_spreads_them() -> None:
    index: dict[str, PairEntries] = {}
    for node in ("a", "b", "c"):
        pairs_insert(index, "k", "T", node)
    assert index["k"] == ("T", "a", "b", "c")
    assert pairs_add(index, "k", "U", "a")
    assert sorted(pairs(index["k"])) == [("T", "a"), ("T", "b"), ("T", "c"), ("U", "a")]
    assert isinstance(index["k"], list)
    assert pairs_discard(index, "k", "U", "a")
    assert index["k"] == ("T", "a", "b", "c")
    out: dict[str, OutEntries] = {}
    out_add(out, "s", "T", "a", b"1")
    assert out_put(out, "s", "T", "b", b"2")
    assert out["s"] == ("T", "a", b"1", "b", b"2")
    assert not out_put(out, "s", "T", "a", b"3")
    assert out["s"] == ("T", "a", b"3", "b", b"2")
    out_add(out, "s", "U", "a", b"4")
    assert isinstance(out["s"], list) and out_count(out["s"]) == 3
    assert out_pop(out, "s", "U", "a") == b"4"
    assert out["s"] == ("T", "a", b"3", "b", b"2")


def test_a_list_left_for_a_one_type_tuple_still_reads_whole_to_a_scan_holding_it() -> None:
    out: dict[str, OutEntries] = {}
    for dst, etype in (("a", "T"), ("b", "T"), ("c", "U")):
        out_add(out, "s", etype, dst, b"p")
    held = out["s"]  # as a stepwise scan takes a pass's containers up front
    assert isinstance(held, list)
    assert out_pop(out, "s", "U", "c") == b"p"
    assert out["s"] == ("T", "a", b"p", "b", b"p")
    assert out_count(held) == 2 and sorted(out_pairs(held)) == [("T", "a"), ("T", "b")]
    index: dict[str, PairEntries] = {}
    for node, etype in (("a", "T"), ("b", "T"), ("c", "U")):
        pairs_insert(index, "k", etype, node)
    held_pairs = index["k"]
    assert pairs_discard(index, "k", "U", "c")
    assert index["k"] == ("T", "a", "b")
    assert pairs_count(held_pairs) == 2 and sorted(pairs(held_pairs)) == [("T", "a"), ("T", "b")]
