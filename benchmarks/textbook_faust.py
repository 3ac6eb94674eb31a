"""The "textbook Faust" baseline of the ingest benchmark: a plain Faust app that keeps edges in
a table, written the way the Faust documentation shows it.

Publishers send one JSON message per edge upsert, keyed by the edge. One agent iterates over
the stream (``async for op in stream``) and does one table write per message:
``edges["<src>\\0<type>\\0<dst>"] = props``. The table has as many partitions as the input
topic, so a key's table entry lives in the partition its messages arrive on, and Faust
writes one changelog record per table write. Every Faust setting keeps its default
(memory store, JSON values) except what running it locally needs: the broker, the app id, the
topic name, the partition count, the data directory, and the web server, which is off.

Run it as::

    python -m benchmarks.textbook_faust --broker HOST:PORT --app-id ID --topic NAME \\
        --partitions N --datadir DIR --ready-file PATH

It runs like ``faust -A <app> worker -l info`` from Faust's documentation. At Faust's
default level (warning) its worker would add a terminal progress spinner that turns the root
logger to debug level, so that every debug call of Faust and aiokafka builds a log record.

Once the app owns every input partition and its table is recovered, it writes ``ready`` to
the ready file, the signal for the benchmark to start publishing. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

__all__ = [
    "TABLE",
    "AppOptions",
    "build_app",
    "changelog_topic",
    "edge_key",
    "main",
    "parse_args",
]

TABLE = "edges"
READY_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class AppOptions:
    broker: str  # host:port
    app_id: str
    topic: str
    partitions: int
    datadir: Path
    ready_file: Path


def edge_key(op: Mapping[str, Any]) -> str:
    """The table key of an edge upsert: source, type and destination joined by NUL."""
    return f"{op['src']}\x00{op.get('type') or ''}\x00{op['dst']}"


def changelog_topic(app_id: str) -> str:
    """The name Faust gives the table's changelog topic."""
    return f"{app_id}-{TABLE}-changelog"


def parse_args(argv: Sequence[str] | None = None) -> AppOptions:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.textbook_faust",
        description="Run the plain Faust app that stores edge upserts in a table.",
    )
    parser.add_argument("--broker", required=True, help="Kafka bootstrap server, host:port")
    parser.add_argument("--app-id", required=True, help="Faust app id (consumer group)")
    parser.add_argument("--topic", required=True, help="input topic, one message per edge")
    parser.add_argument("--partitions", type=int, required=True, help="partitions of the topic")
    parser.add_argument("--datadir", type=Path, required=True, help="Faust's data directory")
    parser.add_argument("--ready-file", type=Path, required=True, help="written once ready")
    a = parser.parse_args(argv)
    if a.partitions < 1:
        parser.error("--partitions must be positive")
    broker = a.broker.removeprefix("kafka://")
    return AppOptions(broker, a.app_id, a.topic, a.partitions, a.datadir, a.ready_file)


def build_app(options: AppOptions) -> faust.App:
    """The Faust app: one topic, one table, one agent writing one table entry per message."""
    app = faust.App(
        options.app_id,
        broker=f"kafka://{options.broker}",
        store="memory://",
        datadir=str(options.datadir),
        web_enabled=False,
    )
    edges_topic = app.topic(options.topic, partitions=options.partitions)  # JSON values
    edges = app.Table(TABLE, partitions=options.partitions)

    @app.agent(edges_topic)
    async def store_edges(stream: Any) -> None:
        async for op in stream:
            edges[edge_key(op)] = op["props"]

    @app.task  # type: ignore[untyped-decorator]
    async def announce_ready() -> None:
        # Not part of the measured path: tells the benchmark when publishing may start.
        wanted = {(options.topic, p) for p in range(options.partitions)}
        tables: Any = app.tables  # the recovery service is not in Faust's declared types
        while True:
            owned = {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
            recovered = tables.recovery.completed.is_set()
            if recovered and not app.rebalancing and wanted <= owned:
                options.ready_file.write_text("ready")
                return
            await asyncio.sleep(READY_POLL_SECONDS)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    options.datadir.mkdir(parents=True, exist_ok=True)
    app = build_app(options)
    worker = faust.Worker(app, loglevel="info", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
