"""Prometheus metrics of one worker, kept in a registry of its own.

Most values are read at scrape time from what the worker already keeps (the ``EngineApp``
counters, result cache, graph partitions and Faust's consumer), by :class:`EngineCollector`.
Three histograms need every observation as it happens:

- chunk-part apply latency, timed by :class:`ApplyTimer`, a Faust sensor: the time from the
  apply agent taking a part off the apply topic to asking for the next one (apply, table
  writes, ack);
- query latency per query type, fed by every ``engine.observe_query`` call;
- event-loop lag, fed by :func:`agents.loop_lag.measure_loop_lag`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import psutil
from faust.sensors import Sensor
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from pipeline.graph import GraphPartition

__all__ = [
    "LATENCY_BUCKETS",
    "ApplyTimer",
    "EngineCollector",
    "EngineMetrics",
    "EngineView",
    "attach_metrics",
    "consumer_lag",
]

#: Seconds; from half a millisecond to the default query timeout, so p50/p95/p99 are readable.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

#: ``engine.counters`` name -> (metric name without ``_total``, help).
COUNTERS: Mapping[str, tuple[str, str]] = {
    "items_routed": ("engine_items_routed", "Ops of accepted input messages, routed to apply"),
    "chunks_routed": ("engine_chunks_routed", "Accepted input messages (chunks) routed to apply"),
    "parts_applied": ("engine_chunk_parts_applied", "Chunk parts applied to a graph partition"),
    "steps_applied": ("engine_steps_applied", "Steps (node or edge-half changes) applied"),
    "queries_accepted": ("engine_queries_accepted", "Valid queries accepted"),
    "queries_answered": ("engine_queries_answered", "Queries answered with a result"),
    "input_offset_skips": (
        "engine_input_offset_skips",
        "Times the route agent saw an input partition's offset jump forward (see logs)",
    ),
}
ERROR_PREFIX = "errors."
_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


class _Cache(Protocol):
    hits: int
    misses: int

    def __len__(self) -> int: ...


class _Graphs(Protocol):
    assigned: set[int]
    rebuild_seconds: float | None
    from_snapshot: set[int]

    def items(self) -> Iterable[tuple[int, GraphPartition]]: ...


class EngineView(Protocol):
    """What the collector reads of an ``EngineApp``."""

    counters: dict[str, int]
    cache: Any
    graphs: Any
    settings: Any
    app: Any


def _counter_families(counters: Mapping[str, int]) -> Iterator[Metric]:
    errors = CounterMetricFamily(
        "engine_errors", "Rejected messages and failures by code", labels=["code"]
    )
    for name, value in sorted(counters.items()):
        if name.startswith(ERROR_PREFIX):
            errors.add_metric([name[len(ERROR_PREFIX) :]], value)
            continue
        metric, doc = COUNTERS.get(name, (f"engine_{_UNSAFE.sub('_', name)}", f"Count of {name}"))
        yield CounterMetricFamily(metric, doc, value=value)
    for name, (metric, doc) in COUNTERS.items():
        if name not in counters:  # present from the first scrape, so rates start at zero
            yield CounterMetricFamily(metric, doc, value=0)
    yield errors


def _cache_families(cache: _Cache) -> Iterator[Metric]:
    yield CounterMetricFamily("engine_query_cache_hits", "Result cache hits", value=cache.hits)
    yield CounterMetricFamily(
        "engine_query_cache_misses", "Result cache misses", value=cache.misses
    )
    yield GaugeMetricFamily("engine_query_cache_entries", "Results held in the cache", len(cache))


def _graph_families(graphs: _Graphs) -> Iterator[Metric]:
    held = sorted((p, g) for p, g in list(graphs.items()) if p in set(graphs.assigned))
    nodes = GaugeMetricFamily(
        "engine_graph_nodes", "Nodes held per partition", labels=["partition"]
    )
    edges = GaugeMetricFamily(
        "engine_graph_edges", "Edges whose source a partition owns", labels=["partition"]
    )
    for partition, graph in held:
        nodes.add_metric([str(partition)], graph.node_count)
        edges.add_metric([str(partition)], graph.edge_count)
    yield nodes
    yield edges
    yield GaugeMetricFamily(
        "engine_assigned_partitions", "Graph partitions held and rebuilt here", len(held)
    )
    if graphs.rebuild_seconds is not None:
        yield GaugeMetricFamily(
            "engine_graph_rebuild_seconds",
            "Time the last rebuild of local graph state took (snapshot or store records)",
            graphs.rebuild_seconds,
        )
    yield GaugeMetricFamily(
        "engine_graph_partitions_from_snapshot",
        "Partitions the last rebuild took from a clean stop's snapshot",
        len(graphs.from_snapshot),
    )


def consumer_lag(app: Any, topics: Iterable[str]) -> list[tuple[str, int, int]]:
    """``(topic, partition, highwater - committed)`` for the assigned partitions of ``topics``.

    Reads Faust's consumer without waiting on its event loop, so a scrape answers even while
    the worker is busy. A partition the group never committed counts from the position after
    the last message read here, or from offset 0 when nothing was read yet. Partitions whose
    highwater is not known yet (before their first fetch) are left out.
    """
    wanted = set(topics)
    consumer = getattr(app, "_consumer", None)  # never create a consumer just to report on it
    if consumer is None:
        return []
    try:
        assignment = [tp for tp in consumer.assignment() if tp.topic in wanted]
    except Exception:  # not started, or stopping
        return []
    committed: dict[Any, int | None] = dict(getattr(consumer, "_committed_offset", {}))
    monitor = getattr(app, "_monitor", None)
    read: dict[Any, int] = dict(monitor.tp_read_offsets) if monitor is not None else {}
    if monitor is not None:
        for tp, offset in dict(monitor.tp_committed_offsets).items():
            if committed.get(tp) is None:
                committed[tp] = offset
    lags = []
    for tp in sorted(assignment):
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # partition just revoked
            continue
        if highwater is None:
            continue
        offset = committed.get(tp)
        if offset is None or offset < 0:
            last_read = read.get(tp)
            offset = 0 if last_read is None else last_read + 1
        lags.append((tp.topic, tp.partition, max(int(highwater) - int(offset), 0)))
    return lags


class EngineCollector:
    """Builds the scrape-time metric families from an ``EngineApp``-like object."""

    def __init__(self, engine: EngineView, process: psutil.Process | None = None) -> None:
        self.engine = engine
        self.process = process or psutil.Process()

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        yield from _counter_families(dict(engine.counters))
        yield from _cache_families(engine.cache)
        yield from _graph_families(engine.graphs)
        yield from self._consumer_families()
        yield from self._process_families()
        share = getattr(engine, "loop_share", None)
        if share is not None:
            yield CounterMetricFamily(
                "engine_query_priority_slices",
                "Ingest slices after which extra loop turns were given to arriving queries",
                share.favoured_slices,
            )

    def _consumer_families(self) -> Iterator[Metric]:
        topics = self.engine.settings.topics
        lag = GaugeMetricFamily(
            "engine_consumer_lag",
            "Highwater minus committed offset per assigned input and apply topic partition",
            labels=["topic", "partition"],
        )
        for topic, partition, value in consumer_lag(self.engine.app, (topics.input, topics.apply)):
            lag.add_metric([topic, str(partition)], value)
        yield lag
        app = self.engine.app
        rebalances = int(getattr(app, "rebalancing_count", 0) or 0)
        yield CounterMetricFamily(
            "engine_rebalances", "Rebalances this worker took part in", rebalances
        )

    def _process_families(self) -> Iterator[Metric]:
        with self.process.oneshot():
            rss = self.process.memory_info().rss
            cpu = self.process.cpu_times()
            threads = self.process.num_threads()
        yield GaugeMetricFamily("engine_process_resident_memory_bytes", "Resident set size", rss)
        yield CounterMetricFamily(
            "engine_process_cpu_seconds", "User and system CPU time", cpu.user + cpu.system
        )
        yield GaugeMetricFamily("engine_process_threads", "Threads of the process", threads)


class EngineMetrics:
    """The registry of one worker: the scrape-time collector plus the three histograms."""

    def __init__(self, engine: EngineView, process: psutil.Process | None = None) -> None:
        self.registry = CollectorRegistry()
        self.collector = EngineCollector(engine, process)
        self.registry.register(self.collector)
        self.apply_seconds = Histogram(
            "engine_chunk_part_apply_seconds",
            "Time to apply one chunk part: graph update, table writes, ack",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.query_seconds = Histogram(
            "engine_query_seconds",
            "Time from accepting a query to sending its answer, per query type",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.loop_lag_seconds = Histogram(
            "engine_event_loop_lag_seconds",
            "How much later than asked the worker's event loop ran a timed wake-up",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_apply(self, seconds: float) -> None:
        self.apply_seconds.observe(seconds)

    def observe_query(self, qtype: str, seconds: float) -> None:
        self.query_seconds.labels(qtype).observe(seconds)

    def observe_loop_lag(self, seconds: float) -> None:
        self.loop_lag_seconds.observe(seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return bytes(generate_latest(self.registry))


class ApplyTimer(Sensor):
    """Times each event of the apply topic's stream, from taken to done."""

    def __init__(self, topic: str, observe: Callable[[float], None]) -> None:
        super().__init__()
        self.topic = topic
        self.observe = observe

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        return {"t0": time.perf_counter()} if tp.topic == self.topic else None

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        if state:
            self.observe(time.perf_counter() - state["t0"])


def attach_metrics(engine: Any) -> EngineMetrics:
    """Create the worker's metrics and start feeding the two histograms."""
    metrics = EngineMetrics(engine)
    engine.app.sensors.add(ApplyTimer(engine.settings.topics.apply, metrics.observe_apply))
    keep_samples = engine.observe_query

    def observe_query(qtype: str, seconds: float) -> None:
        keep_samples(qtype, seconds)
        metrics.observe_query(qtype, seconds)

    # The agents call ``engine.observe_query``; this instance attribute adds the histogram.
    engine.observe_query = observe_query
    return metrics
