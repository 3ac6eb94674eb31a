"""``project-engine replay --into PREFIX``: rebuild the graph from the live input log, apart.

The selected range of the live input topic (every partition from ``--from-offset``, up to
its end or to ``--until-timestamp``/``--until``) is copied, partition by partition in
offset order, into the input topic of the fresh namespace ``PREFIX`` (created with the same
partition count). Then a worker for that namespace (app id ``--app-id``, default
``<live app id>-<PREFIX>``) applies it; once its consumer group has committed up to the end
of the copied input and two digest queries in a row agree, the digest is printed and the
worker stopped (unless ``--keep-worker``). The live topics, group and state are only read.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from aiokafka.errors import KafkaError

from project_engine.commands.digest import DIGEST_QUERY
from project_engine.commands.export import add_range_flags, report_lost
from project_engine.localkafka import free_port
from project_engine.sdk import EngineError, create_project
from project_engine.sdk.log_io import (
    PartitionRange,
    RecordPublisher,
    end_offsets,
    plan_range,
    read_range,
)
from project_engine.sdk.log_records import parse_until
from project_engine.sdk.wire import to_json_line
from project_engine.topics import TopicMismatch, ensure_topics, topic_partition_counts
from project_engine.worker_process import WorkerChild, wait_until_applied
from schemas.settings import Settings

__all__ = ["ReplayOptions", "copy_input", "register", "replay", "run", "target_settings"]

_PREFIX = re.compile(r"[A-Za-z0-9._\-]+")


@dataclass(frozen=True)
class ReplayOptions:
    into: str
    from_offset: int = 0
    until_ms: int | None = None
    app_id: str | None = None
    keep_worker: bool = False
    timeout: float = 600.0
    data_dir: Path | None = None


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "replay",
        help="rebuild the graph from the live input log in a fresh namespace, print its digest",
        description="Copy a range of the live input topic into the fresh namespace PREFIX, "
        "run a worker for it until everything is applied, print the digest. The live "
        "namespace is only read.",
    )
    parser.add_argument("--into", required=True, metavar="PREFIX", help="topic prefix to fill")
    add_range_flags(parser)
    parser.add_argument(
        "--app-id",
        dest="replay_app_id",
        metavar="ID",
        help="app id of the replay worker (<app id>-<PREFIX>)",
    )
    parser.add_argument("--keep-worker", action="store_true", help="leave the worker running")
    parser.add_argument(
        "--timeout", type=float, default=600.0, metavar="S", help="seconds to wait (600)"
    )
    parser.add_argument("--store", help="table store of the replay worker (memory)")
    parser.add_argument("--data-dir", help="data dir of the replay worker (<data dir>/replay-…)")
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.logs import configure_logging

    live = settings_from_args(args)
    configure_logging(live)
    try:
        until_ms = parse_until(args.until_timestamp, args.until)
    except ValueError as exc:
        print(f"project-engine replay: {exc}", file=sys.stderr)
        return 2
    options = ReplayOptions(
        into=args.into,
        from_offset=args.from_offset,
        until_ms=until_ms,
        app_id=args.replay_app_id,
        keep_worker=args.keep_worker,
        timeout=args.timeout,
        data_dir=Path(args.data_dir) if args.data_dir else None,
    )
    return asyncio.run(replay(live, options))


def target_settings(live: Settings, options: ReplayOptions, partitions: int) -> Settings:
    """The replay namespace's settings; ``ValueError`` when it would touch the live one."""
    if not _PREFIX.fullmatch(options.into):
        raise ValueError(f"--into may hold only letters, digits, '.', '_', '-': {options.into!r}")
    if options.into == live.topic_prefix:
        raise ValueError("--into must differ from the live topic prefix")
    app_id = options.app_id or f"{live.app_id}-{options.into.rstrip('-._')}"
    if app_id == live.app_id:
        raise ValueError("--app-id must differ from the live app id")
    return live.replace(
        topic_prefix=options.into,
        app_id=app_id,
        partitions=partitions,
        data_dir=options.data_dir or live.data_dir / f"replay-{app_id}",
        web_port=free_port(),
    )


async def _check_fresh(target: Settings) -> None:
    changelog = f"{target.app_id}-graph-changelog"
    existing = await topic_partition_counts(target, [target.topics.input, changelog])
    for topic, what in ((target.topics.input, "--into"), (changelog, "--app-id")):
        if topic in existing and sum((await end_offsets(target, topic)).values()) > 0:
            raise ValueError(f"{topic} already holds records: choose a fresh {what}")


async def copy_input(live: Settings, target: Settings, ranges: list[PartitionRange]) -> int:
    """Copy ``ranges`` of the live input topic to the same partitions of the target's."""
    publisher = await RecordPublisher(target, client_id="project-engine-replay").start()
    try:
        async for record in read_range(live, live.topics.input, ranges):
            await publisher.publish(record, target.topics.input, record.partition)
    finally:
        await publisher.stop()
    return publisher.sent


async def replay(
    live: Settings, options: ReplayOptions, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the replay described by ``options``; prints the digest; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    started = time.monotonic()
    try:
        ranges = await plan_range(
            live, live.topics.input, from_offset=options.from_offset, until_ms=options.until_ms
        )
        target = target_settings(live, options, len(ranges))
        await _check_fresh(target)
        await ensure_topics(target)
        report_lost(ranges, live.topics.input, err)
        copied = await copy_input(live, target, ranges)
    except (EngineError, ValueError, TopicMismatch) as exc:
        print(f"project-engine replay: {exc}", file=err)
        return 1
    except (KafkaError, OSError) as exc:
        print(f"project-engine replay: cannot copy the input: {exc!r}", file=err)
        return 1
    copy_seconds = time.monotonic() - started
    print(
        f"copied {copied} records ({len(ranges)} partitions) of {live.topics.input} "
        f"into {target.topics.input} in {copy_seconds:.2f} s",
        file=err,
    )
    child = WorkerChild(target, target.data_dir / "worker.log", detach=options.keep_worker)
    child.start()
    stop = not options.keep_worker
    try:
        async with await create_project(target, caching=False) as engine:
            digest = await wait_until_applied(
                target,
                lambda: engine.query(DIGEST_QUERY, timeout=10),
                timeout=options.timeout,
                alive=lambda: child.alive,
            )
    except (EngineError, KafkaError, OSError) as exc:
        print(f"project-engine replay: {exc}\n{child.log_tail()}", file=err)
        stop = True
        return 1
    finally:
        if stop:
            await asyncio.to_thread(child.stop)
    applied = time.monotonic() - started - copy_seconds
    print(f"worker (app id {target.app_id}) applied the input in {applied:.2f} s", file=err)
    if options.keep_worker and child.proc is not None:
        print(f"worker left running: pid {child.proc.pid}, log {child.log_path}", file=err)
    print(to_json_line(digest), file=out)
    return 0
