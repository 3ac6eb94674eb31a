"""The worker's Prometheus registry: scrape-time values from engine state, and the histograms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from agents.local_state import LocalGraphs
from agents.loop_share import LoopShare
from agents.metrics import ApplyTimer, EngineMetrics, attach_metrics
from pipeline.result_cache import ResultCache
from pipeline.routing import route_chunk
from schemas.settings import Settings
from tests.support.graphs import conflict_free_edges, to_ops

PARTITIONS = 4


@dataclass
class Engine:
    """The parts of ``EngineApp`` the metrics read, built from real engine objects."""

    settings: Settings
    graphs: LocalGraphs
    cache: ResultCache
    app: Any = None
    counters: dict[str, int] = field(default_factory=dict)
    query_seconds: dict[str, list[float]] = field(default_factory=dict)

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount

    def observe_query(self, qtype: str, seconds: float) -> None:
        self.query_seconds.setdefault(qtype, []).append(seconds)


def loaded_engine(edges: int = 300) -> Engine:
    settings = Settings.load({"topic_prefix": "m-", "partitions": str(PARTITIONS)}, env={})
    graphs = LocalGraphs(PARTITIONS)
    steps = route_chunk(to_ops(conflict_free_edges(100, edges, seed=3, prefix="v")), PARTITIONS)
    for partition, part_steps in steps.items():
        graphs.get(partition).apply(part_steps)
    graphs.assigned = {0, 1, 2}  # partition 3 was revoked: it must not be reported
    return Engine(settings=settings, graphs=graphs, cache=ResultCache(10))


def scrape(metrics: EngineMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_counters_errors_and_cache_come_from_engine_state() -> None:
    engine = loaded_engine()
    metrics = EngineMetrics(engine)
    before = scrape(metrics)
    for name in ("items_routed", "chunks_routed", "chunk_parts_applied", "steps_applied"):
        assert value(before, f"engine_{name}_total") == 0, name  # there before anything happens
    engine.count("items_routed", 1000)
    engine.count("chunks_routed")
    engine.count("parts_applied", 3)
    engine.count("steps_applied", 1800)
    engine.count("errors.invalid_json", 2)
    engine.count("errors.internal")
    engine.count("standing_matches", 5)  # a counter the metrics do not know by name
    engine.cache.put("k", {"r": 1}, {0: 1})
    engine.cache.get("k", lambda p: 1)
    engine.cache.get("other", lambda p: 1)
    after = scrape(metrics)
    assert value(after, "engine_items_routed_total") == 1000
    assert value(after, "engine_chunks_routed_total") == 1
    assert value(after, "engine_chunk_parts_applied_total") == 3
    assert value(after, "engine_steps_applied_total") == 1800
    assert value(after, "engine_errors_total", code="invalid_json") == 2
    assert value(after, "engine_errors_total", code="internal") == 1
    assert value(after, "engine_standing_matches_total") == 5
    assert value(after, "engine_query_cache_hits_total") == 1
    assert value(after, "engine_query_cache_misses_total") == 1
    assert value(after, "engine_query_cache_entries") == 1


def test_graph_sizes_per_held_partition() -> None:
    engine = loaded_engine()
    samples = scrape(EngineMetrics(engine))
    held = dict(engine.graphs.items())
    for p in (0, 1, 2):
        assert value(samples, "engine_graph_nodes", partition=str(p)) == held[p].node_count > 0
        assert value(samples, "engine_graph_edges", partition=str(p)) == held[p].edge_count > 0
    assert ("engine_graph_nodes", frozenset({("partition", "3")})) not in samples
    assert value(samples, "engine_assigned_partitions") == 3
    # No rebuild yet: no duration to report, and nothing came from a snapshot.
    assert ("engine_graph_rebuild_seconds", frozenset()) not in samples
    assert value(samples, "engine_graph_partitions_from_snapshot") == 0


def test_last_rebuild_reports_its_duration_and_snapshot_partitions() -> None:
    engine = loaded_engine()
    engine.graphs.rebuild_seconds = 1.25
    engine.graphs.from_snapshot = {0, 2}
    samples = scrape(EngineMetrics(engine))
    assert value(samples, "engine_graph_rebuild_seconds") == 1.25
    assert value(samples, "engine_graph_partitions_from_snapshot") == 2


def test_process_metrics_and_no_lag_without_a_consumer() -> None:
    samples = scrape(EngineMetrics(loaded_engine()))
    assert value(samples, "engine_process_resident_memory_bytes") > 10 * 2**20
    assert value(samples, "engine_process_cpu_seconds_total") > 0
    assert value(samples, "engine_process_threads") >= 1
    assert not [k for k in samples if k[0] == "engine_consumer_lag"]


def test_histograms_count_observations_in_their_buckets() -> None:
    metrics = EngineMetrics(loaded_engine())
    for seconds in (0.002, 0.004, 0.2):
        metrics.observe_apply(seconds)
    metrics.observe_query("khop", 0.03)
    samples = scrape(metrics)
    assert value(samples, "engine_chunk_part_apply_seconds_count") == 3
    assert value(samples, "engine_chunk_part_apply_seconds_bucket", le="0.005") == 2
    assert value(samples, "engine_chunk_part_apply_seconds_bucket", le="0.25") == 3
    assert value(samples, "engine_query_seconds_count", type="khop") == 1
    assert value(samples, "engine_query_seconds_bucket", type="khop", le="0.025") == 0
    assert value(samples, "engine_query_seconds_bucket", type="khop", le="0.05") == 1


def test_loop_lag_histogram_counts_each_wake_up_in_its_bucket() -> None:
    metrics = EngineMetrics(loaded_engine())
    for seconds in (0.0001, 0.0003, 0.3):
        metrics.observe_loop_lag(seconds)
    samples = scrape(metrics)
    assert value(samples, "engine_event_loop_lag_seconds_count") == 3
    assert value(samples, "engine_event_loop_lag_seconds_bucket", le="0.0005") == 2
    assert value(samples, "engine_event_loop_lag_seconds_bucket", le="0.25") == 2
    assert value(samples, "engine_event_loop_lag_seconds_bucket", le="0.5") == 3


def test_query_priority_slices_are_reported_when_the_engine_shares_its_loop() -> None:
    engine = loaded_engine()
    assert not [k for k in scrape(EngineMetrics(engine)) if "priority" in k[0]]
    share = LoopShare(2)
    share.favoured_slices = 7
    engine.loop_share = share  # type: ignore[attr-defined]
    samples = scrape(EngineMetrics(engine))
    assert value(samples, "engine_query_priority_slices_total") == 7


def test_each_worker_has_its_own_registry() -> None:
    first, second = EngineMetrics(loaded_engine()), EngineMetrics(loaded_engine())
    first.observe_apply(0.01)
    assert value(scrape(first), "engine_chunk_part_apply_seconds_count") == 1
    assert value(scrape(second), "engine_chunk_part_apply_seconds_count") == 0


def test_apply_timer_times_only_the_apply_topic() -> None:
    seen: list[float] = []
    timer = ApplyTimer("m-graph-apply", seen.append)
    state = timer.on_stream_event_in(TP("m-graph-apply", 2), 7, None, None)
    timer.on_stream_event_out(TP("m-graph-apply", 2), 7, None, None, state)
    other = timer.on_stream_event_in(TP("m-graph-input", 2), 7, None, None)
    timer.on_stream_event_out(TP("m-graph-input", 2), 7, None, None, other)
    assert len(seen) == 1 and 0 <= seen[0] < 1


def test_attach_feeds_both_histograms_and_keeps_query_samples() -> None:
    engine = loaded_engine()
    engine.app = faust.App("metrics-test", autodiscover=False)
    metrics = attach_metrics(engine)
    timers = [s for s in engine.app.sensors if isinstance(s, ApplyTimer)]
    assert len(timers) == 1 and timers[0].topic == "m-graph-apply"
    engine.observe_query("stats", 0.004)  # what the query agents call
    assert engine.query_seconds == {"stats": [0.004]}
    samples = scrape(metrics)
    assert value(samples, "engine_query_seconds_count", type="stats") == 1
