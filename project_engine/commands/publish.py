"""``project-engine publish FILE``: load graph ops from a file (or stdin) into the engine.

The file holds JSON lines (one op map per line) or, with ``--format edgelist``, SNAP-style
``src dst`` lines with ``#`` comments, each becoming an ``upsert_edge``. Bad lines are
reported with their line number and counted, never sent. A progress line (items/s) is
shown on a terminal; a one-line summary is always printed. Exit code 1 when anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, TextIO

from project_engine.sdk import AckTimeout, EngineError, create_project
from project_engine.sdk.sources import BadLine, read_edgelist, read_jsonl
from project_engine.sdk.summary import AddGraphSummary
from schemas.settings import Settings

__all__ = ["PublishOptions", "publish", "register", "run"]

MAX_REPORTED_LINES = 100
MAX_REPORTED_CHUNKS = 20


@dataclass(frozen=True)
class PublishOptions:
    file: str
    format: str = "jsonl"
    edge_type: str = ""
    chunk_size: int = 1000
    wait: bool = False
    timeout: float = 60.0
    encoding: str = "msgpack"
    ordered: bool = True


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "publish",
        help="publish graph ops from a JSON-lines or edge-list file",
        description="Publish graph ops from FILE ('-' for stdin) to the engine's input topic.",
    )
    parser.add_argument("file", help="JSON lines of ops, or an edge list; '-' reads stdin")
    parser.add_argument(
        "--format",
        choices=("jsonl", "edgelist"),
        default="jsonl",
        help="jsonl: one op map per line; edgelist: 'src dst' lines, '#' comments (jsonl)",
    )
    parser.add_argument("--edge-type", default="", help="edge type for edgelist lines ('')")
    parser.add_argument("--chunk-size", type=int, default=1000, help="ops per message (1000)")
    parser.add_argument(
        "--wait", action="store_true", help="wait until workers report every chunk applied"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for acks with --wait (60)"
    )
    parser.add_argument("--encoding", choices=("json", "msgpack"), default="msgpack")
    parser.add_argument(
        "--unordered",
        action="store_true",
        help="spread chunks over all partitions (faster, no ordering between chunks)",
    )
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings)
    options = PublishOptions(
        file=args.file,
        format=args.format,
        edge_type=args.edge_type,
        chunk_size=args.chunk_size,
        wait=args.wait,
        timeout=args.timeout,
        encoding=args.encoding,
        ordered=not args.unordered,
    )
    return asyncio.run(publish(settings, options))


class _BadLines:
    def __init__(self, name: str, err: TextIO) -> None:
        self.name = name
        self.err = err
        self.count = 0

    def __call__(self, bad: BadLine) -> None:
        self.count += 1
        if self.count <= MAX_REPORTED_LINES:
            print(f"{self.name}:{bad.line_no}: {bad.reason}", file=self.err)
        elif self.count == MAX_REPORTED_LINES + 1:
            print(f"{self.name}: more bad lines are counted but not shown", file=self.err)


def _open(path: str, stdin: IO[bytes] | None) -> IO[bytes]:
    if path == "-":
        return stdin or sys.stdin.buffer
    return open(path, "rb")


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    yield from stream


async def publish(
    settings: Settings,
    options: PublishOptions,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: IO[bytes] | None = None,
) -> int:
    """Publish the file named in ``options``; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    name = "<stdin>" if options.file == "-" else options.file
    try:
        stream = _open(options.file, stdin)
    except OSError as exc:
        print(f"project-engine publish: cannot read {name}: {exc.strerror}", file=err)
        return 1
    bad = _BadLines(name, err)
    if options.format == "edgelist":
        ops = read_edgelist(_lines(stream), bad, edge_type=options.edge_type)
    else:
        ops = read_jsonl(_lines(stream), bad)
    started = time.monotonic()
    try:
        async with await create_project(settings, encoding=options.encoding) as engine:
            progress = _Progress(engine.metrics, err) if err.isatty() else None
            try:
                summary = await engine.add_graph(
                    ops,
                    chunk_size=options.chunk_size,
                    wait=options.wait,
                    timeout=options.timeout,
                    ordered=options.ordered,
                )
            finally:
                if progress is not None:
                    await progress.stop()
    except AckTimeout as exc:
        print(f"project-engine publish: {exc}", file=err)
        _report(exc.summary, bad.count, out, err)
        return 1
    except (EngineError, ValueError) as exc:
        print(f"project-engine publish: {exc}", file=err)
        return 1
    finally:
        if options.file != "-":
            stream.close()
    summary.seconds = time.monotonic() - started
    return _report(summary, bad.count, out, err)


def _report(summary: AddGraphSummary, bad_lines: int, out: TextIO, err: TextIO) -> int:
    for chunk_id, error in summary.failed[:MAX_REPORTED_CHUNKS]:
        print(f"chunk {chunk_id} failed: {error}", file=err)
    if len(summary.failed) > MAX_REPORTED_CHUNKS:
        print(f"... and {len(summary.failed) - MAX_REPORTED_CHUNKS} more failed chunks", file=err)
    published = summary.items - summary.failed_items
    chunks = summary.chunks - len(summary.failed)
    failed = bad_lines + summary.failed_items
    rate = published / summary.seconds if summary.seconds > 0 else 0.0
    print(
        f"published {published} items in {chunks} chunks in {summary.seconds:.2f} s "
        f"({rate:.0f} items/s), {failed} failed",
        file=out,
    )
    return 1 if failed else 0


class _Progress:
    """Rewrites one stderr line with the items delivered so far and the rate."""

    def __init__(self, metrics: Any, err: TextIO, every: float = 0.5) -> None:
        self._metrics = metrics
        self._err = err
        self._every = every
        self._start_items = metrics.items_sent
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            self._show()

    def _show(self) -> None:
        items = self._metrics.items_sent - self._start_items
        elapsed = time.monotonic() - self._started
        rate = items / elapsed if elapsed > 0 else 0.0
        self._err.write(f"\r{items} items sent, {rate:.0f} items/s ")
        self._err.flush()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._show()
        self._err.write("\n")
        self._err.flush()
