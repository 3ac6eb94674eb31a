"""The worker's own view of query time, read from its Prometheus ``/metrics`` page.

The worker observes ``engine_query_seconds{type=...}`` from accepting a query (decoded and
validated) to handing its answer to the producer, cached answers included. The difference
of the histogram's ``_sum`` and ``_count`` before and after a measurement gives the mean
time a query of that type spent inside the worker's query agent; the rest of the round trip
is the SDK, Kafka, the worker's consumer and producer (batching, linger) and the network.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import EngineWorker

__all__ = [
    "QueryTimes",
    "WebWorker",
    "mean_seconds",
    "parse_query_times",
    "scrape_query_times",
]

QueryTimes = dict[str, tuple[float, float]]  # type -> (sum of seconds, count)

_SAMPLE = re.compile(
    r'^engine_query_seconds_(sum|count)\{type="([^"]+)"\}\s+([0-9.eE+-]+|NaN|[+-]Inf)\s*$'
)


@dataclass
class WebWorker(EngineWorker):
    """An :class:`EngineWorker` that remembers the port of its web server."""

    web_port: int | None = None

    def command(self, data_dir: Path, web_port: int) -> list[str]:
        self.web_port = web_port
        return super().command(data_dir, web_port)

    @property
    def metrics_url(self) -> str | None:
        return None if self.web_port is None else f"http://127.0.0.1:{self.web_port}/metrics"


def parse_query_times(text: str) -> QueryTimes:
    """``{type: (sum, count)}`` of the query-time histogram in a Prometheus text page."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        which, qtype, value = match.groups()
        (sums if which == "sum" else counts)[qtype] = float(value)
    return {t: (sums.get(t, 0.0), counts.get(t, 0.0)) for t in sorted(set(sums) | set(counts))}


def mean_seconds(before: QueryTimes, after: QueryTimes, qtype: str) -> float | None:
    """Mean seconds per query of ``qtype`` observed between two scrapes (None if none)."""
    s1, c1 = after.get(qtype, (0.0, 0.0))
    s0, c0 = before.get(qtype, (0.0, 0.0))
    return (s1 - s0) / (c1 - c0) if c1 > c0 else None


def _fetch(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode("utf-8", "replace")


async def scrape_query_times(worker: WebWorker, timeout: float = 5.0) -> QueryTimes | None:
    """The worker's query-time histogram now; None when the page cannot be read."""
    url = worker.metrics_url
    if url is None:
        return None
    try:
        text = await asyncio.to_thread(_fetch, url, timeout)
    except OSError:
        return None
    return parse_query_times(text)
