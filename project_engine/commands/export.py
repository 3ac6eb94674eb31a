"""``project-engine export OUT``: write a range of the input topic (or another) to a file.

Every partition is read from ``--from-offset`` (default: the start of the log) up to its
current end, or with ``--until-timestamp``/``--until`` up to the first record at or after
that time. Each record is written with its partition, offset, timestamp, key, headers and
raw value (base64 in JSON lines, bytes in msgpack), each partition in offset order; ``-``
writes to stdout. ``project-engine import`` publishes such a file again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import IO, Any, TextIO

from aiokafka.errors import KafkaError

from project_engine.sdk.errors import EngineError
from project_engine.sdk.log_io import PartitionRange, plan_range, read_range
from project_engine.sdk.log_records import ExportFormat, parse_until, write_record
from schemas.settings import Settings

__all__ = ["add_range_flags", "export_topic", "register", "resolve_topic", "run"]


def add_range_flags(parser: argparse.ArgumentParser) -> None:
    """``--from-offset``, ``--until-timestamp`` and ``--until`` (shared with ``replay``)."""
    parser.add_argument(
        "--from-offset", type=int, default=0, metavar="N", help="first offset of each partition (0)"
    )
    until = parser.add_mutually_exclusive_group()
    until.add_argument(
        "--until-timestamp",
        type=int,
        default=None,
        metavar="MS",
        help="stop each partition at its first record with a timestamp >= MS (epoch ms)",
    )
    until.add_argument(
        "--until", default=None, metavar="ISO", help="the same as an ISO 8601 time (UTC if no zone)"
    )


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "export",
        help="write a range of the input topic to a file (JSON lines or msgpack)",
        description="Write records of a topic (the input topic by default) to OUT ('-': stdout).",
    )
    parser.add_argument("out", help="file to write; '-' writes stdout")
    parser.add_argument("--format", choices=("jsonl", "msgpack"), default="jsonl")
    parser.add_argument(
        "--topic",
        default="input",
        help="input (default), queries, results, errors, dlq, acks, or a full topic name",
    )
    add_range_flags(parser)
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def resolve_topic(settings: Settings, name: str) -> str:
    """An engine topic by its short name (with the prefix), else ``name`` itself."""
    topics = settings.topics
    return str(getattr(topics, name)) if name in topics.__dataclass_fields__ else name


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings)
    try:
        until_ms = parse_until(args.until_timestamp, args.until)
    except ValueError as exc:
        print(f"project-engine export: {exc}", file=sys.stderr)
        return 2
    topic = resolve_topic(settings, args.topic)
    try:
        target = (
            contextlib.nullcontext(sys.stdout.buffer) if args.out == "-" else open(args.out, "wb")  # noqa: SIM115
        )
    except OSError as exc:
        print(f"project-engine export: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    with target as out:
        return asyncio.run(
            export_topic(settings, topic, out, args.format, args.from_offset, until_ms)
        )


def report_lost(ranges: list[PartitionRange], topic: str, err: TextIO) -> int:
    """Warn about requested records retention already deleted; returns how many."""
    lost = sum(r.lost for r in ranges)
    if lost:
        parts = ", ".join(f"{r.partition}: {r.lost}" for r in ranges if r.lost)
        print(
            f"warning: {lost} requested records of {topic} are no longer in the log "
            f"(deleted by retention; per partition {parts})",
            file=err,
        )
    return lost


async def export_topic(
    settings: Settings,
    topic: str,
    out: IO[bytes],
    fmt: ExportFormat,
    from_offset: int = 0,
    until_ms: int | None = None,
    *,
    err: TextIO | None = None,
) -> int:
    """Write the planned range of ``topic`` to ``out``; returns the exit code."""
    err = err or sys.stderr
    started = time.monotonic()
    try:
        ranges = await plan_range(settings, topic, from_offset=from_offset, until_ms=until_ms)
        report_lost(ranges, topic, err)
        count = 0
        async for record in read_range(settings, topic, ranges):
            write_record(out, record, fmt)
            count += 1
        out.flush()
    except (EngineError, ValueError) as exc:
        print(f"project-engine export: {exc}", file=err)
        return 1
    except (KafkaError, OSError) as exc:
        print(f"project-engine export: cannot read {topic}: {exc!r}", file=err)
        return 1
    seconds = time.monotonic() - started
    print(
        f"exported {count} records of {topic} ({len(ranges)} partitions) in {seconds:.2f} s",
        file=err,
    )
    return 0
