"""``project-engine import FILE``: publish the records of an export file to the input topic.

Each record's raw value, key and headers are published unchanged to the input topic of the
target settings (another ``--topic-prefix`` or ``--bootstrap``), with an idempotent
producer. A record goes to the partition it came from when the target topic has it, else
to ``partition % partitions``, so every source partition keeps its order. Missing engine
topics of the target namespace are created first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import IO, Any, Literal, TextIO

from aiokafka.errors import KafkaError

from project_engine.sdk.errors import EngineError
from project_engine.sdk.log_io import RecordPublisher
from project_engine.sdk.log_records import read_records, target_partition
from project_engine.sdk.replies import lookup_partitions
from project_engine.topics import TopicMismatch, ensure_topics
from schemas.settings import Settings

__all__ = ["import_file", "register", "run"]


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "import",
        help="publish an export file's records unchanged to the input topic",
        description="Publish the records of FILE (written by 'export'; '-' reads stdin) "
        "to the input topic of the target namespace.",
    )
    parser.add_argument("file", help="an export file (JSON lines or msgpack); '-' reads stdin")
    parser.add_argument("--format", choices=("auto", "jsonl", "msgpack"), default="auto")
    parser.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="keep the records' original timestamps (mind the topic's retention.ms)",
    )
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings)
    try:
        source = (
            contextlib.nullcontext(sys.stdin.buffer) if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
        )
    except OSError as exc:
        print(f"project-engine import: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    with source as stream:
        return asyncio.run(
            import_file(settings, stream, args.format, keep_timestamps=args.keep_timestamps)
        )


async def import_file(
    settings: Settings,
    stream: IO[bytes],
    fmt: Literal["auto", "jsonl", "msgpack"] = "auto",
    *,
    keep_timestamps: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Publish every record of ``stream``; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    topic = settings.topics.input
    started = time.monotonic()
    publisher = RecordPublisher(settings)
    try:
        await ensure_topics(settings)
        partitions = len(await lookup_partitions(settings, topic))
        await publisher.start()
        try:
            for record in read_records(stream, fmt):
                target = target_partition(record.partition, partitions)
                await publisher.publish(record, topic, target, keep_timestamp=keep_timestamps)
        finally:
            await publisher.stop()
    except ValueError as exc:
        print(f"project-engine import: bad export file: {exc}", file=err)
        print(f"project-engine import: {publisher.sent} records were published", file=err)
        return 1
    except (EngineError, TopicMismatch) as exc:
        print(f"project-engine import: {exc}", file=err)
        return 1
    except (KafkaError, OSError) as exc:
        print(f"project-engine import: cannot publish to {topic}: {exc!r}", file=err)
        return 1
    seconds = time.monotonic() - started
    print(
        f"imported {publisher.sent} records into {topic} ({partitions} partitions) "
        f"in {seconds:.2f} s",
        file=out,
    )
    return 0
