"""The client's query cache: what it keeps, for how long, and what it never serves."""

from __future__ import annotations

from typing import Any

import pytest

from project_engine.sdk.query_cache import CACHEABLE_TYPES, QueryCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def khop(node: str, **extra: Any) -> dict[str, Any]:
    return {"type": "khop", "id": node, "depth": 2, "direction": "out", **extra}


def stored(cache: QueryCache, query: dict[str, Any], result: Any) -> str:
    key = cache.key(query)
    assert key is not None
    cache.put(key, result, cache.generation)
    return key


def test_a_repeat_within_the_ttl_is_served_and_after_it_is_not() -> None:
    clock = Clock()
    cache = QueryCache(ttl=2.0, clock=clock)
    key = stored(cache, khop("a"), {"nodes": ["b", "c"]})
    clock.now += 1.9
    assert cache.get(key) == (True, {"nodes": ["b", "c"]})
    clock.now += 0.2
    assert cache.get(key) == (False, None)
    assert len(cache) == 0


def test_request_fields_do_not_split_entries_but_arguments_do() -> None:
    cache = QueryCache(ttl=60.0)
    a = cache.key(khop("a", query_id="q1", timeout_ms=500, reply_to="mine"))
    assert a == cache.key({"direction": "out", "depth": 2, "id": "a", "type": "khop"})
    assert a != cache.key(khop("a", depth=3))
    assert a != cache.key(khop("b"))


@pytest.mark.parametrize(
    "query",
    [
        {"type": "digest"},
        {"type": "standing_register", "standing_id": "s", "pattern": {}},
        {"type": "standing_list"},
        {"id": "a"},
        {"type": "node", "id": "a", "weird": float("nan")},
        {"type": "node", "id": "a", "weird": object()},
    ],
)
def test_queries_that_change_state_or_do_not_canonicalise_are_not_cached(
    query: dict[str, Any],
) -> None:
    assert QueryCache(ttl=60.0).key(query) is None


def test_a_ttl_of_zero_caches_nothing() -> None:
    cache = QueryCache(ttl=0.0)
    assert not cache.enabled
    assert all(cache.key({"type": t, "id": "a"}) is None for t in CACHEABLE_TYPES)


def test_every_hit_is_a_fresh_copy_the_caller_may_change() -> None:
    cache = QueryCache(ttl=60.0)
    key = stored(cache, khop("a"), {"nodes": [{"id": "b", "props": {"w": 1}}]})
    _, first = cache.get(key)
    first["nodes"][0]["props"]["w"] = 99
    first["nodes"].append("junk")
    assert cache.get(key) == (True, {"nodes": [{"id": "b", "props": {"w": 1}}]})


def test_a_result_asked_for_before_a_clear_is_not_kept() -> None:
    cache = QueryCache(ttl=60.0)
    key = cache.key(khop("a"))
    assert key is not None
    asked_at = cache.generation
    cache.clear()  # the client's own add_graph started meanwhile
    cache.put(key, {"nodes": ["stale"]}, asked_at)
    assert cache.get(key) == (False, None)
    cache.put(key, {"nodes": ["fresh"]}, cache.generation)
    assert cache.get(key) == (True, {"nodes": ["fresh"]})


def test_clear_drops_every_entry() -> None:
    cache = QueryCache(ttl=60.0)
    keys = [stored(cache, khop(n), n) for n in "abc"]
    cache.clear()
    assert [cache.get(k) for k in keys] == [(False, None)] * 3


def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    cache = QueryCache(ttl=60.0, size=2)
    a = stored(cache, khop("a"), 1)
    b = stored(cache, khop("b"), 2)
    assert cache.get(a) == (True, 1)  # a is now the most recent
    c = stored(cache, khop("c"), 3)
    assert cache.get(b) == (False, None)
    assert cache.get(a) == (True, 1) and cache.get(c) == (True, 3)


def test_a_result_msgpack_cannot_encode_is_not_kept() -> None:
    cache = QueryCache(ttl=60.0)
    key = stored(cache, khop("a"), {"big": 2**70})
    assert cache.get(key) == (False, None)


@pytest.mark.parametrize(("ttl", "size"), [(-1.0, 10), (1.0, 0)])
def test_bad_ttl_or_size_is_refused(ttl: float, size: int) -> None:
    with pytest.raises(ValueError):
        QueryCache(ttl=ttl, size=size)
