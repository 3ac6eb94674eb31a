"""Worker processes for the state benchmark, and what it reads from them while they run.

:class:`StoreWorker` is an :class:`~benchmarks.harness.EngineWorker` with a table store of
its choice that remembers its web port and when its process was started; started again
under the same name it reuses its data directory (a RocksDB store finds its files there).
The helpers read a process's resident memory from ``/proc/<pid>/status``, ask a worker's
``/readyz``, wait for a ``stats`` answer and for a consumer group whose members all hold
partitions.
"""

from __future__ import annotations

import asyncio
import functools
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.data import GraphCounts
from benchmarks.harness import EngineWorker, wait_for
from project_engine.commands.status import group_members
from project_engine.sdk import Engine
from schemas.settings import Settings

__all__ = [
    "StoreWorker",
    "parse_status_bytes",
    "process_memory",
    "ready_status",
    "settled_rss",
    "wait_group_settled",
    "wait_ready",
    "wait_stats",
]

POLL = 0.1


@dataclass
class StoreWorker(EngineWorker):
    """A worker child process with table store ``store`` (``memory`` or ``rocksdb``)."""

    store: str = "memory"
    web_port: int | None = None
    started_at: float | None = None  # time.monotonic() just before the process was created
    web_up_seconds: float | None = None  # from the start until the web server first answered

    def command(self, data_dir: Path, web_port: int) -> list[str]:
        self.web_port = web_port
        return [*super().command(data_dir, web_port), "--store", self.store]

    def start(self) -> StoreWorker:
        """Start the process; the log of an earlier run under this name is kept aside."""
        log = self.settings.data_dir / self.name / "worker.log"
        if log.exists():
            log.replace(log.with_name(f"worker.{time.time_ns()}.log"))
        self.started_at = time.monotonic()
        self.web_up_seconds = None
        super().start()
        return self

    @property
    def readyz_url(self) -> str | None:
        return None if self.web_port is None else f"http://127.0.0.1:{self.web_port}/readyz"

    def since_start(self) -> float:
        return 0.0 if self.started_at is None else time.monotonic() - self.started_at


def parse_status_bytes(text: str, name: str) -> int | None:
    """A ``kB`` field such as ``VmRSS`` of a ``/proc/<pid>/status`` text, in bytes."""
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key == name:
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                return int(parts[0]) * 1024
    return None


def process_memory(pid: int | None, name: str = "VmRSS") -> int | None:
    """Field ``name`` (``VmRSS`` resident now, ``VmHWM`` its peak) of process ``pid``."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return parse_status_bytes(text, name)


async def settled_rss(pid: int | None, settle: float, samples: int = 3) -> int | None:
    """RSS of ``pid`` after ``settle`` seconds of quiet: the lowest of a few readings
    one second apart (the worker's periodic work comes and goes)."""
    await asyncio.sleep(settle)
    readings: list[int] = []
    for i in range(samples):
        if i:
            await asyncio.sleep(1.0)
        rss = process_memory(pid)
        if rss is not None:
            readings.append(rss)
    return min(readings) if readings else None


def _http_status(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


async def ready_status(worker: StoreWorker, timeout: float = 2.0) -> int | None:
    """The HTTP status of the worker's ``/readyz`` (None while nothing answers)."""
    url = worker.readyz_url
    if url is None:
        return None
    try:
        status = await asyncio.to_thread(_http_status, url, timeout)
    except OSError:
        return None
    if worker.web_up_seconds is None:
        worker.web_up_seconds = worker.since_start()
    return status


def _alive(workers: Sequence[StoreWorker]) -> bool:
    return all(w.pid is not None for w in workers)


async def wait_ready(workers: Sequence[StoreWorker], timeout: float) -> None:
    """Until every worker's ``/readyz`` answers 200."""
    for worker in workers:
        await wait_for(
            functools.partial(ready_status, worker),
            lambda status: status == 200,
            timeout=timeout,
            interval=POLL,
            alive=lambda: _alive(workers),
        )


async def wait_stats(
    engine: Engine,
    expected: GraphCounts,
    workers: Sequence[StoreWorker],
    timeout: float,
    interval: float = POLL,
) -> dict[str, Any]:
    """Until a ``stats`` query answers exactly ``expected``."""
    answer: dict[str, Any] = await wait_for(
        lambda: engine.query({"type": "stats"}, timeout=10),
        lambda value: value == expected.as_stats(),
        timeout=timeout,
        interval=interval,
        alive=lambda: _alive(workers),
    )
    return answer


async def wait_group_settled(
    settings: Settings, workers: Sequence[StoreWorker], timeout: float, stable_for: float = 3.0
) -> float:
    """Seconds until the consumer group is ``Stable`` with one member per worker, each
    holding apply partitions, every worker ready, and all that unchanged for ``stable_for``."""
    started = time.monotonic()
    deadline = started + timeout
    since: float | None = None
    last: object = None
    while True:
        if not _alive(workers):
            raise RuntimeError("a worker exited while the group was settling")
        try:
            state, members = await group_members(settings)
            layout: object = (
                state,
                sorted(str(m.actives.get(settings.topics.apply)) for m in members),
            )
            statuses = [await ready_status(w) for w in workers]
            settled = (
                state == "Stable"
                and len(members) == len(workers)
                and all(m.actives.get(settings.topics.apply) for m in members)
                and all(s == 200 for s in statuses)
            )
        except Exception as exc:  # the group may not exist yet
            layout, settled = repr(exc), False
        now = time.monotonic()
        if settled and layout == last and since is not None:
            if now - since >= stable_for:
                return now - started
        else:
            since = now if settled else None
        last = layout
        if now > deadline:
            raise TimeoutError(f"the group did not settle within {timeout:.0f}s: {last!r:.300}")
        await asyncio.sleep(0.5)
