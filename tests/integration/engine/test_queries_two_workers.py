"""Queries through real Kafka and real worker processes answer what networkx computes.

Two workers share 8 partitions, so queries take the distributed paths (direct requests to a
node's owner, coordinator rounds over the partials topic); every query type is compared
with :class:`~tests.support.query_reference.QueryReference`, before and after one worker
stops and its partitions move to the other; both scan whole partitions (``digest``,
``top_degree``) 16 nodes or edges at a time. One worker holding every partition answers a
repeated query from its result cache and never serves a stale cached answer after a write.
A worker with a small traversal limit fails a hub expansion with ``limit_exceeded`` and
keeps answering.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from pipeline.partitioning import partition_for
from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk import Engine, QueryError, create_project
from project_engine.topics import ensure_topics
from schemas.settings import Settings
from tests.support.graphs import hub_edges, reference_of
from tests.support.query_reference import QueryReference
from tests.support.workers import WorkerProcess, eventually, unique_settings

pytestmark = pytest.mark.integration

Wire = dict[str, Any]
Query = dict[str, Any]

PARTITIONS = 8
EDGE_TYPES = ["", "KNOWS", "LIKES"]
EDGE_TYPE_ARGS: list[str | None] = [None, *EDGE_TYPES]
DIRECTIONS = ["out", "in", "both"]
LABELS = ["Person", "Place", "Thing"]
UNIFORM_NODES, UNIFORM_EDGES = 2_500, 9_000
POWERLAW_NODES, POWERLAW_EDGES = 2_500, 8_000
ABSENT_IDS = ["ghost", "nobody", "u-missing", "p99999"]
BATCH = 24  # queries in flight at once
QUERY_TIMEOUT = 60.0
PROBE_TIMEOUT = 20.0


# -- the graph --------------------------------------------------------------------------------


def edge(src: str, dst: str, etype: str, props: dict[str, Any]) -> Wire:
    return {"op": "upsert_edge", "src": src, "dst": dst, "type": etype, "props": props}


def random_graph(seed: int) -> list[Wire]:
    """A uniform random graph (``u*``) and a power-law one (``p*``), with labels, props,
    re-upserts that merge props, prop removals, edge deletes and node deletes, in order."""
    rng = random.Random(seed)
    ops: list[Wire] = []
    for _ in range(UNIFORM_EDGES):
        src, dst = f"u{rng.randrange(UNIFORM_NODES)}", f"u{rng.randrange(UNIFORM_NODES)}"
        ops.append(edge(src, dst, rng.choice(EDGE_TYPES), {"w": rng.randrange(100)}))
    targets = [f"p{i}" for i in range(5)]
    for _ in range(POWERLAW_EDGES):
        src = f"p{rng.randrange(POWERLAW_NODES)}"
        preferential = rng.random() < 0.85
        dst = rng.choice(targets) if preferential else f"p{rng.randrange(POWERLAW_NODES)}"
        targets.append(dst)
        ops.append(edge(src, dst, rng.choice(EDGE_TYPES), {"w": rng.randrange(100)}))
        if rng.random() < 0.3:  # hubs also get many out-edges
            ops.append(edge(dst, f"p{rng.randrange(POWERLAW_NODES)}", rng.choice(EDGE_TYPES), {}))
    edges = list(ops)
    all_ids = [f"u{i}" for i in range(UNIFORM_NODES)] + [f"p{i}" for i in range(POWERLAW_NODES)]
    for node_id in rng.sample(all_ids, len(all_ids) // 2):
        props: dict[str, Any] = {"rank": rng.randrange(1_000), "name": f"n-{node_id}"}
        if rng.random() < 0.3:
            props["score"] = rng.choice([0.5, 2.25, -1.0])
        labels = rng.sample(LABELS, rng.randint(1, 2))
        ops.append({"op": "upsert_node", "id": node_id, "labels": labels, "props": props})
    for node_id in rng.sample(all_ids, 200):  # merge: one prop removed, one added
        ops.append({"op": "upsert_node", "id": node_id, "props": {"name": None, "seen": True}})
    for e in rng.sample(edges, 300):  # edge props merged on re-upsert
        ops.append(edge(e["src"], e["dst"], e["type"], {"w": None, "again": 1}))
    for e in rng.sample(edges, len(edges) // 20):
        ops.append({"op": "delete_edge", "src": e["src"], "dst": e["dst"], "type": e["type"]})
    for node_id in rng.sample(all_ids, len(all_ids) // 50):
        ops.append({"op": "delete_node", "id": node_id})
    return ops


# -- queries ----------------------------------------------------------------------------------


@dataclass
class IdPool:
    """Where query arguments come from: live nodes of both graphs, hubs, deleted and absent ids."""

    uniform: list[str]
    powerlaw: list[str]
    hubs: list[str]
    deleted: list[str]

    @classmethod
    def of(cls, ref: QueryReference, ops: Sequence[Wire]) -> IdPool:
        live = sorted(ref.g.nodes)
        hubs = [n["id"] for n in ref.top_degree(8, "both")["nodes"]]
        deleted = sorted({op["id"] for op in ops if op["op"] == "delete_node"})
        assert deleted and not set(deleted) & set(live)
        return cls(
            uniform=[n for n in live if n.startswith("u")],
            powerlaw=[n for n in live if n.startswith("p")],
            hubs=hubs,
            deleted=deleted,
        )

    def pick(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.45:
            return rng.choice(self.uniform)
        if roll < 0.85:
            return rng.choice(self.powerlaw)
        if roll < 0.9:
            return rng.choice(self.hubs)
        if roll < 0.95:
            return rng.choice(self.deleted)
        return rng.choice(ABSENT_IDS)


def query_mix(ref: QueryReference, pool: IdPool, seed: int) -> list[Query]:
    """Every query type over many random arguments, every argument combination covered."""
    rng = random.Random(seed)
    queries: list[Query] = [{"type": "stats"}, {"type": "digest"}]
    for _ in range(70):
        queries.append({"type": "node", "id": pool.pick(rng)})
    limits: list[int | None] = [None, 1, 5, 50]
    for i in range(72):  # each direction x edge type x limit
        queries.append(
            {
                "type": "neighbors",
                "id": pool.pick(rng),
                "direction": DIRECTIONS[i % 3],
                "edge_type": EDGE_TYPE_ARGS[(i // 3) % 4],
                "limit": limits[(i // 12) % 4],
            }
        )
    for i in range(48):
        queries.append(
            {
                "type": "khop",
                "id": pool.pick(rng),
                "depth": 1 + i % 3,
                "direction": DIRECTIONS[(i // 3) % 3],
                "edge_type": rng.choice(EDGE_TYPE_ARGS),
            }
        )
    for i in range(110):
        direction, edge_type = DIRECTIONS[i % 3], rng.choice([None, None, *EDGE_TYPES])
        max_depth = rng.choice([None, 2, 4, 6, 10])
        src, kind = pool.pick(rng), i % 11
        same_graph = pool.uniform if src.startswith("u") else pool.powerlaw + pool.hubs
        dst = rng.choice(same_graph)
        if kind == 0:
            dst = src
        elif kind == 1:  # the two graphs share no node: never reachable
            dst = rng.choice(pool.powerlaw if src.startswith("u") else pool.uniform)
        elif kind == 2:
            dst = rng.choice(ABSENT_IDS + pool.deleted[:3])
        elif kind == 3:
            src, dst = rng.choice(ABSENT_IDS + pool.deleted[:3]), src
        elif kind <= 8:  # a node the search reaches in 2..5 hops, within max_depth or not
            h = ref.hops(direction, edge_type)
            dist = nx.single_source_shortest_path_length(h, src, cutoff=5) if src in h else {}
            far = [n for n, d in dist.items() if d >= 2] or [n for n, d in dist.items() if d]
            if far:
                dst = rng.choice(sorted(far))
                max_depth = rng.choice([dist[dst], 6, 10]) if kind < 8 else max(dist[dst] - 1, 1)
        queries.append(
            {
                "type": "shortest_path",
                "src": src,
                "dst": dst,
                "max_depth": max_depth,
                "direction": direction,
                "edge_type": edge_type,
            }
        )
    for i in range(24):
        queries.append(
            {
                "type": "subgraph",
                "id": pool.pick(rng),
                "depth": 1 + i % 2,
                "direction": DIRECTIONS[(i // 2) % 3],
                "edge_type": rng.choice(EDGE_TYPE_ARGS),
            }
        )
    for hub in pool.hubs[:2]:  # large answers: most of the power-law graph
        queries.append({"type": "subgraph", "id": hub, "depth": 2, "direction": "both"})
        queries.append({"type": "khop", "id": hub, "depth": 3, "direction": "both"})
    for k in (1, 10, 50):
        for direction in DIRECTIONS:
            queries.append({"type": "top_degree", "k": k, "direction": direction})
    return [{key: value for key, value in q.items() if value is not None} for q in queries]


@dataclass
class Mismatch:
    query: Query
    expected: Any
    got: Any

    def __str__(self) -> str:
        return f"{self.query}\n  expected {self.expected!r:.600}\n  got      {self.got!r:.600}"


@dataclass
class Checked:
    """Outcome of comparing many engine answers with the reference."""

    count: int = 0
    seconds: float = 0.0
    mismatches: list[Mismatch] = field(default_factory=list)

    def report(self, logs: str = "") -> str:
        shown = "\n".join(str(m) for m in self.mismatches[:10])
        return f"{len(self.mismatches)} of {self.count} answers differ:\n{shown}\n{logs}"


def expected_answer(ref: QueryReference, query: Query) -> Any:
    return ref.answer(query["type"], {k: v for k, v in query.items() if k != "type"})


def path_args(query: Query) -> tuple[str, str, int, str, str | None]:
    """A shortest_path query's arguments, defaults filled in, in QueryReference's order."""
    depth = query.get("max_depth") or 6
    return query["src"], query["dst"], depth, query.get("direction", "out"), query.get("edge_type")


def path_mismatch(ref: QueryReference, query: Query, got: Any) -> Mismatch | None:
    """A shortest_path answer must be networkx's length and the lexicographically smallest."""
    length = ref.path_length(*path_args(query))
    path = got.get("path") if isinstance(got, dict) else got
    got_length = None if path is None else len(path) - 1
    if got_length != length:
        return Mismatch(query, f"a path of length {length}", got)
    expected = ref.shortest_path(*path_args(query))
    return None if got == expected else Mismatch(query, expected, got)


async def ask(engine: Engine, query: Query, timeout: float = QUERY_TIMEOUT) -> Any:
    try:
        return await engine.query(query, timeout=timeout)
    except Exception as exc:  # reported as a mismatch with the query that caused it
        return exc


async def check_queries(engine: Engine, ref: QueryReference, queries: Sequence[Query]) -> Checked:
    """Run ``queries`` in concurrent batches and compare every answer with the reference."""
    checked = Checked()
    started = time.monotonic()
    for start in range(0, len(queries), BATCH):
        batch = queries[start : start + BATCH]
        answers = await asyncio.gather(*(ask(engine, q) for q in batch))
        for query, got in zip(batch, answers, strict=True):
            checked.count += 1
            if query["type"] == "shortest_path" and not isinstance(got, Exception):
                mismatch = path_mismatch(ref, query, got)
            else:
                expected = expected_answer(ref, query)
                mismatch = None if got == expected else Mismatch(query, expected, got)
            if mismatch is not None:
                checked.mismatches.append(mismatch)
    checked.seconds = time.monotonic() - started
    return checked


# -- two workers --------------------------------------------------------------------------------

REBUILT = re.compile(r"graph state rebuilt.*partitions=\[([0-9, ]*)\]")


def rebuilt_partitions(worker: WorkerProcess) -> frozenset[int] | None:
    """The partitions of the worker's latest local state rebuild, from its log."""
    if worker.log_path is None or not worker.log_path.exists():
        return None
    found = REBUILT.findall(worker.log_path.read_text(errors="replace"))
    if not found:
        return None
    return frozenset(int(p) for p in found[-1].split(",") if p.strip())


async def apply_assignment(settings: Settings) -> list[frozenset[int]] | None:
    """The apply-topic partitions of each member of a stable consumer group, else ``None``."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([settings.app_id])
    finally:
        await admin.close()
    _, _, state, _, _, members = response.groups[0]
    if state != "Stable":
        return None
    owned: list[frozenset[int]] = []
    for member in members:
        assignment = ConsumerProtocolMemberAssignment.decode(member[4])
        owned.append(
            frozenset(
                p
                for topic, partitions in assignment.assignment
                if topic == settings.topics.apply
                for p in partitions
            )
        )
    return owned


@dataclass
class Cluster:
    settings: Settings
    workers: list[WorkerProcess]
    engine: Engine
    ref: QueryReference
    pool: IdPool
    queries: list[Query]

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.log_tail(30)}" for w in self.workers)


async def split_between(settings: Settings, workers: Sequence[WorkerProcess]) -> bool:
    """True once the group's stable assignment splits the partitions between the workers
    and each worker rebuilt exactly its share."""
    owned = await apply_assignment(settings)
    if owned is None or len(owned) != len(workers) or not all(owned):
        return False
    if frozenset().union(*owned) != frozenset(range(settings.partitions)):
        return False
    return sorted(map(sorted, owned)) == sorted(
        sorted(rebuilt_partitions(w) or ()) for w in workers
    )


@pytest.fixture(scope="module")
async def cluster(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    """8 partitions over two worker processes holding the random graph, checked by digest."""
    settings = unique_settings(
        kafka_bootstrap, tmp_path_factory.mktemp("two-workers"), partitions=PARTITIONS
    )
    await ensure_topics(settings)
    small_scans = {"PROJECT_ENGINE_SCAN_SLICE": "16"}  # digests and top_degree in many steps
    workers = [WorkerProcess(settings, name="w1", extra_env=small_scans).start()]
    engine = await create_project(settings, client_id="two-workers", caching=False)
    try:
        workers.append(WorkerProcess(settings, name="w2", extra_env=small_scans).start())
        started = time.monotonic()
        split = await eventually(
            lambda: split_between(settings, workers), bool, timeout=120, interval=0.5
        )
        logs = "\n".join(w.log_tail(30) for w in workers)
        assert split is True, f"the partitions were never split between both workers\n{logs}"
        print(f"\nboth workers own partitions after {time.monotonic() - started:.1f}s")

        ops = random_graph(seed=2024)
        started = time.monotonic()
        summary = await engine.add_graph(ops, wait=True, timeout=180)
        assert summary.items == len(ops) and not summary.failed, summary
        ref = QueryReference(reference_of(ops))
        expected = ref.digest()
        got = await eventually(
            lambda: engine.query({"type": "digest"}, timeout=20),
            lambda v: v == expected,
            timeout=60,
        )
        assert got == expected, "\n".join(w.log_tail(30) for w in workers)
        stats = ref.stats()
        print(f"{len(ops)} ops ({stats}) applied in {time.monotonic() - started:.1f}s")
        pool = IdPool.of(ref, ops)
        yield Cluster(settings, workers, engine, ref, pool, query_mix(ref, pool, seed=7))
    finally:
        await engine.close()
        for worker in workers:
            worker.stop()


async def test_every_query_type_over_two_workers_matches_networkx(cluster: Cluster) -> None:
    first_worker = rebuilt_partitions(cluster.workers[0])
    assert first_worker and first_worker != frozenset(range(PARTITIONS))  # distributed paths
    assert all(w.alive for w in cluster.workers)
    types = {q["type"] for q in cluster.queries}
    assert types == {
        "stats", "digest", "node", "neighbors", "khop", "shortest_path", "subgraph", "top_degree"
    }  # fmt: skip
    checked = await check_queries(cluster.engine, cluster.ref, cluster.queries)
    print(f"\n{checked.count} queries checked against networkx in {checked.seconds:.1f}s")
    assert not checked.mismatches, checked.report(cluster.logs())
    found = [q for q in cluster.queries if q["type"] == "shortest_path"]
    reachable = [q for q in found if cluster.ref.path_length(*path_args(q)) is not None]
    assert len(reachable) >= 20 and len(found) - len(reachable) >= 6  # both kinds were asked


@dataclass
class Probe:
    """One stats query sent while the partitions move: when it was sent and answered (in
    seconds after the stop began) and the answer or the exception."""

    sent: float
    ended: float
    value: Any

    @property
    def answered(self) -> bool:
        return not isinstance(self.value, Exception)


async def test_answers_stay_the_same_after_a_worker_stops_and_its_partitions_move(
    cluster: Cluster,
) -> None:
    survivor, leaving = cluster.workers
    expected = cluster.ref.stats()
    stopped_at = time.monotonic()
    code = leaving.stop()
    stop_seconds = time.monotonic() - stopped_at
    assert code == 0, leaving.log_tail()

    async def timed_stats() -> Probe:
        sent = time.monotonic() - stopped_at
        value = await ask(cluster.engine, {"type": "stats"}, timeout=PROBE_TIMEOUT)
        return Probe(sent, time.monotonic() - stopped_at, value)

    # A new (cheap, every-partition) probe every 0.5s, without waiting for the previous ones:
    # the first answer marks the end of the window, not the end of a probe's timeout.
    probes: list[asyncio.Task[Probe]] = []

    async def first_answer() -> Probe | None:
        probes.append(asyncio.create_task(timed_stats()))
        answered = [t.result() for t in probes if t.done() and t.result().answered]
        return min(answered, key=lambda p: p.ended, default=None)

    first = await eventually(first_answer, lambda v: v is not None, timeout=120, interval=0.5)
    results = await asyncio.gather(*probes)
    assert isinstance(first, Probe), f"no answer within 120s\n{cluster.logs()}"
    late = max(p.ended - p.sent for p in results if p.answered)
    lost = [p.sent for p in results if not p.answered]
    print(
        f"\nunavailable for {first.ended:.1f}s after SIGTERM (the worker took {stop_seconds:.1f}s"
        f" to exit; the first answer went to a query sent at {first.sent:.1f}s); {len(results)}"
        f" probes, slowest answer {late:.1f}s, unanswered within {PROBE_TIMEOUT:.0f}s: {lost}"
    )
    wrong = [p for p in results if p.answered and p.value != expected]
    assert not wrong, f"wrong answers while the partitions moved: {wrong}\n{cluster.logs()}"
    assert await ask(cluster.engine, {"type": "digest"}) == cluster.ref.digest()
    owned = await eventually(
        lambda: apply_assignment(cluster.settings),
        lambda v: v == [frozenset(range(PARTITIONS))],
        timeout=30,
    )
    assert owned == [frozenset(range(PARTITIONS))], owned
    assert rebuilt_partitions(survivor) == frozenset(range(PARTITIONS)), survivor.log_tail()

    sample = random.Random(11).sample(cluster.queries, 100)
    checked = await check_queries(cluster.engine, cluster.ref, sample)
    print(f"{checked.count} queries checked again in {checked.seconds:.1f}s")
    assert not checked.mismatches, checked.report(cluster.logs())


# -- the result cache ---------------------------------------------------------------------------


class RawQueries:
    """Queries sent with a plain producer and answered on a reply topic of our own, so the
    whole answer envelope (including ``cached``) can be read."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = f"{settings.topic_prefix}raw-replies"
        self.producer = AIOKafkaProducer(**aiokafka_kwargs(settings), acks="all")
        self.consumer = AIOKafkaConsumer(
            self.topic,
            **aiokafka_kwargs(settings),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.replies: dict[str, dict[str, Any]] = {}

    async def __aenter__(self) -> RawQueries:
        await ensure_topics(self.settings, extra=[self.topic])
        await self.producer.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def ask(self, query: Query, timeout: float = 30.0) -> dict[str, Any]:
        query_id = uuid.uuid4().hex
        body = query | {"query_id": query_id, "reply_to": self.topic}
        await self.producer.send_and_wait(
            self.settings.topics.queries, json.dumps(body).encode(), key=query_id.encode()
        )
        deadline = time.monotonic() + timeout
        while query_id not in self.replies:
            assert time.monotonic() < deadline, f"no reply to {body}"
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    reply = json.loads(record.value)
                    self.replies[reply["query_id"]] = reply
        return self.replies.pop(query_id)


def ids_on_other_partitions(first: str, count: int, partitions: int) -> list[str]:
    """``count`` ids each owned by a partition other than ``first``'s."""
    home = partition_for(first, partitions)
    ids = (f"far{i}" for i in range(1_000))
    return [n for n in ids if partition_for(n, partitions) != home][:count]


async def test_repeated_query_is_served_from_cache_until_a_write_changes_its_answer(
    engine: Engine, settings: Settings, worker: WorkerProcess
) -> None:
    assert rebuilt_partitions(worker) == frozenset(range(settings.partitions))  # local path
    middle, end, later = ids_on_other_partitions("a", 3, settings.partitions)
    await engine.add_graph(
        [edge("a", "b", "", {}), edge("a", middle, "", {}), edge(middle, end, "", {})], wait=True
    )
    neighbors = {"type": "neighbors", "id": "a"}
    khop = {"type": "khop", "id": "a", "depth": 2}
    async with RawQueries(settings) as raw:
        first = await raw.ask(neighbors)
        assert first["status"] == "ok" and not first.get("cached"), first
        assert first["result"] == {"id": "a", "neighbors": sorted(["b", middle])}
        again = await raw.ask(neighbors)
        assert again.get("cached") is True and again["result"] == first["result"], again

        hop = await raw.ask(khop)
        assert not hop.get("cached") and hop["result"]["nodes"] == sorted(["b", middle, end])
        again = await raw.ask(khop)
        assert again.get("cached") is True and again["result"] == hop["result"], again

        await engine.add_graph([edge("a", "c", "", {})], wait=True)
        fresh = await raw.ask(neighbors)
        assert not fresh.get("cached"), fresh
        assert fresh["result"] == {"id": "a", "neighbors": sorted(["b", "c", middle])}
        again = await raw.ask(neighbors)
        assert again.get("cached") is True and again["result"] == fresh["result"], again

        hop = await raw.ask(khop)
        assert not hop.get("cached") and hop["result"]["nodes"] == sorted(["b", "c", middle, end])
        assert (await raw.ask(khop)).get("cached") is True

        # A write only to partitions the khop's second round read (not a's) invalidates it too.
        await engine.add_graph([edge(middle, later, "", {})], wait=True)
        hop = await raw.ask(khop)
        assert not hop.get("cached"), hop
        assert hop["result"]["nodes"] == sorted(["b", "c", middle, end, later]), hop
    assert worker.alive


# -- limits -------------------------------------------------------------------------------------


async def test_hub_khop_over_max_visited_fails_with_limit_exceeded_and_worker_keeps_answering(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    limited = WorkerProcess(
        settings, name="limited", extra_env={"PROJECT_ENGINE_QUERY_MAX_VISITED": "1000"}
    ).start()
    engine = await create_project(settings, client_id="limits")
    try:
        ready = await eventually(
            lambda: engine.query({"type": "stats"}, timeout=5), lambda v: isinstance(v, dict)
        )
        assert isinstance(ready, dict), limited.log_tail()
        hub = hub_edges("hub", 20_000, prefix="leaf")
        small = [edge("small", f"leaf{i}", "H", {}) for i in range(3)]
        summary = await engine.add_graph(
            hub + small, wait=True, timeout=180, ordered=False, chunk_size=2_000
        )
        assert not summary.failed, summary

        with pytest.raises(QueryError) as info:
            await engine.query({"type": "khop", "id": "hub", "depth": 1}, timeout=30)
        assert info.value.code == "limit_exceeded", info.value
        assert "1000" in info.value.message and "max_visited" in info.value.message, info.value

        fits = await engine.query({"type": "khop", "id": "small", "depth": 2}, timeout=30)
        assert fits["nodes"] == ["leaf0", "leaf1", "leaf2"], fits
        asked = time.monotonic()
        stats = await engine.query({"type": "stats"}, timeout=10)
        latency = time.monotonic() - asked
        print(f"\nstats answered {latency * 1000:.0f}ms after the failed hub khop")
        assert stats == reference_of(hub, small).stats()
        assert latency < 2.0
    finally:
        await engine.close()
        limited.stop()
