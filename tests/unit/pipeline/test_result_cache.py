"""The result cache answers repeats and never returns a result a later write could change."""

from __future__ import annotations

from pipeline.result_cache import ResultCache, cache_key


def test_repeated_query_is_a_hit_while_read_partitions_are_unchanged() -> None:
    cache = ResultCache(10)
    versions = {0: 3, 1: 5}
    cache.put("k", {"n": 1}, {0: 3})
    assert cache.get("k", versions.get) == (True, {"n": 1})
    assert (cache.hits, cache.misses) == (1, 0)


def test_write_to_a_read_partition_makes_the_entry_a_miss() -> None:
    cache = ResultCache(10)
    versions = {0: 3, 1: 5}
    cache.put("k", "old", {0: 3, 1: 5})
    versions[1] = 6
    assert cache.get("k", versions.get) == (False, None)
    assert len(cache) == 0 and cache.misses == 1


def test_write_to_another_partition_keeps_the_entry() -> None:
    cache = ResultCache(10)
    versions = {0: 3, 1: 5}
    cache.put("k", "v", {0: 3})
    versions[1] = 9
    assert cache.get("k", versions.get)[0] is True


def test_partition_unknown_here_counts_as_changed() -> None:
    cache = ResultCache(10)
    cache.put("k", "v", {7: 1})
    assert cache.get("k", {0: 1}.get)[0] is False


def test_least_recently_used_entry_is_evicted_at_capacity() -> None:
    cache = ResultCache(2)
    versions = {0: 1}
    cache.put("a", 1, {0: 1})
    cache.put("b", 2, {0: 1})
    cache.get("a", versions.get)
    cache.put("c", 3, {0: 1})
    assert cache.get("b", versions.get)[0] is False
    assert cache.get("a", versions.get)[0] is True


def test_cache_key_ignores_argument_order() -> None:
    assert cache_key("khop", {"id": "a", "depth": 2}) == cache_key("khop", {"depth": 2, "id": "a"})
    assert cache_key("khop", {"id": "a", "depth": 2}) != cache_key("khop", {"id": "a", "depth": 3})


def test_size_zero_disables_caching() -> None:
    cache = ResultCache(0)
    cache.put("k", 1, {})
    assert cache.get("k", {}.get) == (False, None)
