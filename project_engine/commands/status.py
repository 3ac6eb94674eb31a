"""``project-engine status``: a human summary of a running deployment.

Reads from Kafka the consumer group ``app_id`` (its members and the partitions each holds)
and the lag of each partition of the input topic (end offset minus the group's committed
offset). Given ``--web URL`` of workers, it also scrapes each worker's ``/metrics`` twice,
``--interval`` seconds apart, and prints rates and p50/p95/p99 latencies over that window
(over the worker's lifetime when nothing happened in the window), plus ``/readyz``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from prometheus_client.parser import text_string_to_metric_families

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk.replies import lookup_partitions
from schemas.settings import Settings

__all__ = ["Member", "Scrape", "quantile", "register", "run", "status"]

RATES = (
    ("items/s", "engine_items_routed_total"),
    ("chunks/s", "engine_chunks_routed_total"),
    ("parts applied/s", "engine_chunk_parts_applied_total"),
    ("steps applied/s", "engine_steps_applied_total"),
    ("queries/s", "engine_queries_accepted_total"),
    ("errors/s", "engine_errors_total"),
)
QUANTILES = (0.5, 0.95, 0.99)


@dataclass
class Member:
    member_id: str
    host: str
    url: str | None = None
    actives: dict[str, list[int]] = field(default_factory=dict)
    standbys: dict[str, list[int]] = field(default_factory=dict)


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "status",
        help="show the workers, their partitions, input lag and (with --web) rates and latencies",
        description="Summarise a running deployment from Kafka and the workers' /metrics.",
    )
    parser.add_argument("--app-id", help="consumer group and state namespace (project-engine)")
    parser.add_argument(
        "--web", action="append", default=[], metavar="URL", help="a worker's web URL (repeatable)"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between two scrapes for rates (2)"
    )
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args

    settings = settings_from_args(args)
    try:
        text = asyncio.run(status(settings, args.web, max(args.interval, 0.0)))
    except Exception as exc:
        print(f"project-engine status: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0


async def status(settings: Settings, webs: Sequence[str], interval: float) -> str:
    """The whole report as text."""
    (state, members), lags, workers = await asyncio.gather(
        group_members(settings), input_lag(settings), scrape_workers(webs, interval)
    )
    lines = [f"group {settings.app_id}: {state}, {len(members)} member(s)"]
    for m in members:
        lines.append(f"  {m.member_id} host {m.host} web {m.url or '?'}")
        lines += [f"    {topic}: {_ranges(p)}" for topic, p in sorted(m.actives.items())]
        lines += [f"    {topic} (standby): {_ranges(p)}" for topic, p in sorted(m.standbys.items())]
    total = sum(lag for *_, lag in lags)
    lines.append(f"input {settings.topics.input}: lag {total}")
    for partition, end, committed, lag in lags:
        shown = "none" if committed is None else str(committed)
        lines.append(f"  partition {partition}: end {end} committed {shown} lag {lag}")
    for url, report in zip(webs, workers, strict=True):
        lines.append(f"worker {url}")
        lines += [f"  {line}" for line in report]
    return "\n".join(lines)


def _ranges(partitions: Iterable[int]) -> str:
    parts = sorted(set(partitions))
    out: list[str] = []
    for p in parts:
        if out and out[-1].split("-")[-1] == str(p - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{p}"
        else:
            out.append(str(p))
    return ",".join(out) or "-"


def decode_member(member_id: str, host: str, metadata: bytes, assignment: bytes) -> Member:
    """A group member from the raw DescribeGroups fields (Faust's assignor adds JSON)."""
    member = Member(member_id, host)
    try:
        decoded = ConsumerProtocolMemberAssignment.decode(assignment)
    except Exception:  # empty while the group rebalances
        return member
    member.actives = {t: sorted(p) for t, p in decoded.assignment if "__assignor" not in t}
    try:
        info = json.loads(zlib.decompress(decoded.user_data))
    except Exception:  # not a Faust member: the Kafka assignment is all there is
        return member
    member.url = info.get("url")
    split = info.get("assignment", {})
    member.actives = {t: sorted(p) for t, p in split.get("actives", {}).items() if p}
    member.standbys = {t: sorted(p) for t, p in split.get("standbys", {}).items() if p}
    for topics in (member.actives, member.standbys):
        for t in [t for t in topics if "__assignor" in t]:
            del topics[t]
    return member


async def group_members(settings: Settings) -> tuple[str, list[Member]]:
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([settings.app_id])
    finally:
        await admin.close()
    group = response.groups[0]
    state, members = group[2], group[5]
    decoded = [decode_member(m[0], m[2], m[3], m[4]) for m in members]
    return state or "unknown", sorted(decoded, key=lambda m: m.member_id)


async def input_lag(settings: Settings) -> list[tuple[int, int, int | None, int]]:
    """``(partition, end, committed, lag)`` for each partition of the input topic."""
    topic = settings.topics.input
    tps = [TopicPartition(topic, p) for p in await lookup_partitions(settings, topic)]
    consumer = AIOKafkaConsumer(**aiokafka_kwargs(settings), enable_auto_commit=False)
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await consumer.start()
    await admin.start()
    try:
        ends = await consumer.end_offsets(tps) if tps else {}
        committed = await admin.list_consumer_group_offsets(settings.app_id, partitions=tps)
    finally:
        await consumer.stop()
        await admin.close()
    rows = []
    for tp in tps:
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        rows.append((tp.partition, ends[tp], offset, ends[tp] - (offset or 0)))
    return rows


Scrape = dict[str, list[tuple[dict[str, str], float]]]


def parse_metrics(text: str) -> Scrape:
    """Sample name -> ``[(labels, value)]`` from the Prometheus text format."""
    out: Scrape = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


def _total(scrape: Scrape, name: str, **labels: str) -> float:
    rows = scrape.get(name, [])
    return sum(v for lab, v in rows if all(lab.get(k) == x for k, x in labels.items()))


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """``q``-quantile from cumulative ``(upper bound, count)`` buckets, as Prometheus does."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the largest finite bucket: report that bound
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def _buckets(scrape: Scrape, name: str, **labels: str) -> list[tuple[float, float]]:
    counts: dict[float, float] = {}
    for lab, value in scrape.get(f"{name}_bucket", []):
        if all(lab.get(k) == x for k, x in labels.items()):
            counts[float(lab["le"])] = counts.get(float(lab["le"]), 0.0) + value
    return sorted(counts.items())


def _latency_line(title: str, first: Scrape | None, last: Scrape, name: str, **labels: str) -> str:
    now = _buckets(last, name, **labels)
    window = "since start"
    if first is not None:
        before = dict(_buckets(first, name, **labels))
        delta = [(le, n - before.get(le, 0.0)) for le, n in now]
        if delta and delta[-1][1] > 0:
            now, window = delta, "last interval"
    if not now or now[-1][1] <= 0:
        return f"{title}: no samples"
    shown = []
    for q in QUANTILES:
        value = quantile(q, now)
        shown.append(f"p{round(q * 100)} {'-' if value is None else f'{value * 1000:.1f} ms'}")
    return f"{title}: {'  '.join(shown)}  (n={now[-1][1]:.0f}, {window})"


def summarize(first: Scrape | None, last: Scrape, seconds: float) -> list[str]:
    """Lines about one worker from one or two scrapes ``seconds`` apart."""
    lines = []
    if first is not None and seconds > 0:
        rates = [f"{t} {(_total(last, n) - _total(first, n)) / seconds:.1f}" for t, n in RATES]
        lines.append("rates: " + "  ".join(rates))
    lines.append(
        "totals: "
        + "  ".join(f"{n.removeprefix('engine_')} {_total(last, n):.0f}" for _, n in RATES)
    )
    lines.append(_latency_line("chunk part apply", first, last, "engine_chunk_part_apply_seconds"))
    qtypes = sorted({lab["type"] for lab, _ in last.get("engine_query_seconds_count", [])})
    for qtype in qtypes:
        lines.append(
            _latency_line(f"query {qtype}", first, last, "engine_query_seconds", type=qtype)
        )
    rss = _total(last, "engine_process_resident_memory_bytes") / 2**20
    lag = _total(last, "engine_consumer_lag")
    lines.append(f"consumer lag {lag:.0f}  memory {rss:.1f} MiB")
    return lines


def _get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


async def scrape_worker(url: str, interval: float) -> list[str]:
    base = url.rstrip("/")
    try:
        _, ready_body = await asyncio.to_thread(_get, f"{base}/readyz")
        first: Scrape | None = None
        started = time.monotonic()
        if interval > 0:
            first = parse_metrics((await asyncio.to_thread(_get, f"{base}/metrics"))[1])
            await asyncio.sleep(interval)
        seconds = time.monotonic() - started
        last = parse_metrics((await asyncio.to_thread(_get, f"{base}/metrics"))[1])
    except (OSError, ValueError) as exc:
        return [f"unreachable: {type(exc).__name__}: {exc}"]
    try:
        ready = json.loads(ready_body)
        readiness = "ready" if ready.get("ready") else f"not ready ({ready.get('reason')})"
    except ValueError:
        readiness = "readiness unknown"
    return [readiness, *summarize(first, last, seconds)]


async def scrape_workers(webs: Sequence[str], interval: float) -> list[list[str]]:
    return list(await asyncio.gather(*(scrape_worker(url, interval) for url in webs)))
