"""``project-engine tail errors|dlq|results|acks``: print a topic's messages as JSON lines.

Values are decoded from JSON or msgpack; DLQ entries (raw bad messages) are printed as
``{"headers": {...}, "value_base64": ...}``. Reads from the end unless
``--from-beginning``; stops after ``--max`` messages or ``--timeout`` idle seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time
from typing import Any, TextIO

from aiokafka.errors import KafkaError

from project_engine.sdk.errors import EngineError
from project_engine.sdk.replies import lookup_partitions, open_positioned_consumer
from project_engine.sdk.wire import decode_value, to_json_line
from schemas.settings import Settings

__all__ = ["STREAMS", "register", "render", "run", "tail"]

STREAMS = ("errors", "dlq", "results", "acks")


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "tail",
        help="print messages of the errors, dlq, results or acks topic as JSON lines",
        description="Print each message of a topic as one JSON line.",
    )
    parser.add_argument("stream", choices=STREAMS, help="which topic to read")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest")
    parser.add_argument("--max", type=int, default=None, help="stop after N messages")
    parser.add_argument(
        "--timeout", type=float, default=None, help="stop after S seconds without messages"
    )
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings)
    return asyncio.run(
        tail(
            settings,
            args.stream,
            from_beginning=args.from_beginning,
            max_messages=args.max,
            idle_timeout=args.timeout,
        )
    )


def render(stream: str, value: bytes | None, headers: Any) -> str:
    """One JSON line for a message of ``stream``."""
    raw = value or b""
    if stream == "dlq":
        return to_json_line(
            {
                "headers": {k: v.decode("utf-8", "replace") for k, v in headers or ()},
                "value_base64": base64.b64encode(raw).decode("ascii"),
            }
        )
    try:
        return to_json_line(decode_value(raw, headers))
    except ValueError:
        return to_json_line(
            {"undecodable": True, "value_base64": base64.b64encode(raw).decode("ascii")}
        )


async def tail(
    settings: Settings,
    stream: str,
    *,
    from_beginning: bool = False,
    max_messages: int | None = None,
    idle_timeout: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print messages of ``stream`` until ``max_messages`` or ``idle_timeout``; exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    topic = getattr(settings.topics, stream)
    try:
        partitions = await lookup_partitions(settings, topic)
        consumer = await open_positioned_consumer(
            settings, topic, partitions, from_beginning=from_beginning
        )
    except EngineError as exc:
        print(f"project-engine tail: {exc}", file=err)
        return 1
    except (KafkaError, OSError) as exc:
        print(f"project-engine tail: cannot read from {settings.bootstrap}: {exc!r}", file=err)
        return 1
    seen = 0
    last = time.monotonic()
    try:
        while max_messages is None or seen < max_messages:
            wait = 1.0
            if idle_timeout is not None:
                wait = min(wait, idle_timeout - (time.monotonic() - last))
                if wait <= 0:
                    break
            batches = await consumer.getmany(timeout_ms=max(1, int(wait * 1000)))
            records = sorted((m for ms in batches.values() for m in ms), key=lambda m: m.timestamp)
            for msg in records:
                out.write(render(stream, msg.value, msg.headers) + "\n")
                seen += 1
                if max_messages is not None and seen >= max_messages:
                    break
            if records:
                out.flush()
                last = time.monotonic()
    except BrokenPipeError:
        return 0
    finally:
        await consumer.stop()
    return 0
