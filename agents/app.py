"""Building the Faust app for one worker: settings, topics, the graph table, the agents."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import faust
import structlog
from faust.auth import SASLCredentials, SSLCredentials
from faust.tables import TableManager

from agents import bulk_store, flow_control
from agents.consumer_tuning import (
    settle_heap,
    shorten_fetch_wait,
    tune_gc,
)
from agents.local_state import LocalGraphs
from agents.loop_share import LoopShare
from agents.memory_release import CHECK_SECONDS, IdleTrim, flush_write_buffers, malloc_trim
from pipeline.graph import GraphPartition
from pipeline.queries import QueryLimits
from pipeline.result_cache import ResultCache
from pipeline.storage import key_holder
from project_engine.kafka_config import aiokafka_kwargs, ssl_context
from schemas.limits import Limits
from schemas.settings import Settings

__all__ = ["EngineApp", "build_engine"]

PRODUCER_BUFFER_MAX_MESSAGES = 100_000

log = structlog.get_logger(__name__)


@dataclass
class EngineApp:
    """Everything the agents of one worker share."""

    settings: Settings
    app: faust.App
    limits: Limits
    graphs: LocalGraphs
    table: Any
    input_topic: Any
    apply_topic: Any
    queries_topic: Any
    query_exec_topic: Any
    query_partials_topic: Any
    errors_topic: Any
    dlq_topic: Any
    acks_topic: Any
    matches_topic: Any
    cache: ResultCache = field(default_factory=lambda: ResultCache(0))
    query_limits: QueryLimits = field(default_factory=QueryLimits)
    counters: dict[str, int] = field(default_factory=dict)
    query_seconds: dict[str, list[float]] = field(default_factory=dict)
    _versions: dict[int, int] = field(default_factory=dict)
    # Versions start from a random base per process: a version seen from another worker can
    # never be mistaken for one issued here.
    _version_seq: int = field(default_factory=lambda: secrets.randbits(62) << 1)
    _reply_topics: dict[str, Any] = field(default_factory=dict)
    answer_producer: Any = None  # the query lane's own producer, while it runs
    loop_share: LoopShare = field(default_factory=lambda: LoopShare(0))

    def graph(self, partition: int) -> GraphPartition:
        return self.graphs.get(partition)

    def version(self, partition: int) -> int | None:
        """The state version of a partition held here (``None`` when not held here)."""
        if partition not in self.graphs.assigned:
            return None
        return self._versions.get(partition, 0)

    def bump_versions(self, partitions: Any) -> None:
        """Mark partitions changed; versions are unique per worker, never reused."""
        for p in partitions:
            self._version_seq += 1
            self._versions[p] = self._version_seq

    def holds_every_partition(self) -> bool:
        return len(self.graphs.assigned) == self.settings.partitions

    def observe_query(self, qtype: str, seconds: float) -> None:
        samples = self.query_seconds.setdefault(qtype, [])
        samples.append(seconds)
        if len(samples) > 4096:
            del samples[:2048]

    def reply_topic(self, name: str) -> Any:
        topic = self._reply_topics.get(name)
        if topic is None:
            topic = self._reply_topics[name] = self.app.topic(
                name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
            )
        return topic

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount


def _credentials(settings: Settings) -> Any:
    sec = settings.security
    ctx = ssl_context(settings)
    if sec.sasl_mechanism:
        return SASLCredentials(
            username=sec.username,
            password=sec.password,
            ssl_context=ctx,
            mechanism=sec.sasl_mechanism,
        )
    if ctx is not None:
        return SSLCredentials(ctx)
    return None


def _table_store(
    settings: Settings, fresh_graph: Callable[[int], GraphPartition]
) -> tuple[str, Mapping[str, Any]]:
    """The store URL for the app and the options of the graph table's store."""
    if settings.store == "rocksdb":
        # Each partition's RocksDB has its own block cache (2 GiB by default) and memtables
        # (3 of 64 MiB): the graph is read from memory, so the store needs little of either.
        # Measured at 10^6 edges: worker RSS 221 -> 126 B per edge (115 with the idle flush
        # of agents.memory_release); at 10^7 edges 1018 MiB.
        return "rocksdb://", {
            "block_cache_size": 8 * 1024 * 1024,
            "write_buffer_size": 8 * 1024 * 1024,
            "max_write_buffer_number": 2,
        }
    # The memory store reads newly assigned changelog partitions in bulk (agents.bulk_store).
    restore = bulk_store.BulkRestore(
        kafka=aiokafka_kwargs(settings),
        key_holder=partial(key_holder, partitions=settings.partitions),
        fresh_graph=fresh_graph,
    )
    return bulk_store.store_url(), {bulk_store.OPTION: restore}


class _TableManager(TableManager):
    """Faust's table manager without the one-second pause it takes before starting, and
    with a hook that runs when it stops, before its tables and their stores do.

    Faust waits there for tables still being declared; the engine declares its one table
    before the app starts, so the pause only delays every start's readiness. At a stop,
    Faust stops the table manager once the streams are empty (the events in hand handled).
    """

    before_stop: Callable[[], object] | None = None

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    async def on_stop(self) -> None:
        if self.before_stop is not None:
            try:
                self.before_stop()
            except Exception:
                log.exception("stop hook of the table manager failed")
        await super().on_stop()


def _faust_app(settings: Settings, store: str) -> faust.App:
    return faust.App(
        settings.app_id,
        TableManager=_TableManager,
        broker=[f"kafka://{s}" for s in settings.bootstrap_servers],
        broker_credentials=_credentials(settings),
        store=store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_in_thread=True,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_router_enabled=False,
        broker_session_timeout=30.0,
        broker_heartbeat_interval=3.0,
        broker_rebalance_timeout=30.0,
        broker_commit_interval=1.0,
        producer_linger=0.0,
        producer_max_batch_size=1_048_576,
        producer_max_request_size=max(settings.max_message_bytes * 2, 2_097_152),
        consumer_max_fetch_size=max(settings.max_message_bytes * 2, 2_097_152),
        stream_buffer_maxsize=1024,
        # No standby copies: each would replay another worker's changelog one record at a
        # time on this event loop (measured: 2 workers ingest at 0.43x of 1 with standbys,
        # 1.09x without). A partition that moves is read in bulk instead (agents.bulk_store).
        table_standby_replicas=0,
        table_cleanup_interval=3600.0,
        autodiscover=False,
    )


def _snapshot_path(settings: Settings, app: faust.App) -> Path | None:
    """Where a clean stop leaves the graph snapshot: beside the RocksDB store it stands for.
    ``None`` for the memory store (nothing local to match) or with snapshots off."""
    if settings.store != "rocksdb" or not settings.snapshot_on_stop:
        return None
    return Path(app.conf.tabledir) / "graph.snapshot"


def build_engine(settings: Settings) -> EngineApp:
    """Create the Faust app with its topics, table and agents for ``settings``."""
    from agents.ingest import register_ingest
    from agents.query import register_queries
    from agents.web import register_web

    tune_gc()
    graphs = LocalGraphs(settings.partitions, settings.scan_slice or None)
    store_url, store_options = _table_store(settings, graphs.fresh)
    app = _faust_app(settings, store_url)
    flow_control.install(app)  # before any queue exists: see agents.flow_control
    topics = settings.topics
    parts = settings.partitions

    def topic(name: str) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=parts,
        )

    table = app.Table(
        "graph",
        key_type=bytes,
        value_type=bytes,
        partitions=parts,
        options=store_options,
    )
    engine = EngineApp(
        settings=settings,
        app=app,
        limits=Limits.from_settings(settings),
        graphs=graphs,
        table=table,
        input_topic=topic(topics.input),
        apply_topic=topic(topics.apply),
        queries_topic=topic(topics.queries),
        query_exec_topic=topic(topics.query_exec),
        query_partials_topic=topic(topics.query_partials),
        errors_topic=topic(topics.errors),
        dlq_topic=topic(topics.dlq),
        acks_topic=topic(topics.acks),
        matches_topic=topic(topics.matches),
        cache=ResultCache(settings.query_cache_size),
        query_limits=QueryLimits(
            max_visited=settings.query_max_visited,
            max_frontier=settings.query_max_frontier,
            max_result=settings.query_max_result,
        ),
        loop_share=LoopShare(settings.query_priority_turns),
    )

    snapshot = _snapshot_path(settings, app)
    idle_trim = IdleTrim(malloc_trim(), lambda: flush_write_buffers(table.data))

    @table.on_recover
    async def _rebuild() -> None:
        actives = app.assignor.assigned_actives()
        await engine.graphs.rebuild(table, actives, topics.apply, snapshot)
        engine.bump_versions(engine.graphs.assigned)
        settle_heap()
        idle_trim.now()
        shorten_fetch_wait(app)

    @app.timer(5.0)  # type: ignore[untyped-decorator]
    async def _keep_fetch_wait_short() -> None:  # the fetcher is recreated on restarts
        shorten_fetch_wait(app)

    @app.timer(CHECK_SECONDS)  # type: ignore[untyped-decorator]
    async def _release_freed_memory() -> None:
        idle_trim.check(engine.counters.get("parts_applied", 0))

    def _revoked(app_: Any, *args: Any, **kwargs: Any) -> None:
        # Until recovery rebuilds local state, nothing here may answer from it.
        engine.graphs.revoke()
        # Recovery's offset requests queue behind the consumer's parked fetch (1.5 s each).
        shorten_fetch_wait(app)

    app.on_partitions_revoked.connect(_revoked)  # type: ignore[arg-type]
    if snapshot is not None and isinstance(app.tables, _TableManager):
        # Half the stop's bound: the rest is for what Faust does after (commit, flush, leave).
        app.tables.before_stop = partial(
            engine.graphs.write_snapshot, snapshot, table, settings.shutdown_timeout / 2
        )

    # One part writes up to a few thousand records; the default (100) stalls the stream.
    app.producer.buffer.max_messages = PRODUCER_BUFFER_MAX_MESSAGES

    register_ingest(engine)
    register_queries(engine)
    register_web(engine)
    return engine
