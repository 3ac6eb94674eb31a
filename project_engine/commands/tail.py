"""``project-engine tail errors|dlq|results|acks``: print a topic's messages as JSON lines.

Reads through a :class:`~project_engine.sdk.stream.Stream` (every partition, no consumer
group). Values are decoded from JSON or msgpack; DLQ entries (raw bad messages) are printed
as ``{"headers": {...}, "value_base64": ...}``. Reads from the end unless
``--from-beginning``; stops after ``--max`` messages or ``--timeout`` idle seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from typing import Any, TextIO

from aiokafka.errors import KafkaError

from project_engine.sdk.errors import EngineError
from project_engine.sdk.stream import Stream
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
    reader = Stream(
        settings,
        kinds=(stream,),
        start="earliest" if from_beginning else "latest",
        keep_raw=True,
        wait_for_topics=False,
        client_id="project-engine-tail",
        buffer_size=1000,
    )
    try:
        await reader.start()
    except EngineError as exc:
        print(f"project-engine tail: {exc}", file=err)
        return 1
    except (KafkaError, OSError) as exc:
        print(f"project-engine tail: cannot read from {settings.bootstrap}: {exc!r}", file=err)
        return 1
    seen = 0
    try:
        while max_messages is None or seen < max_messages:
            item = await reader.get(timeout=idle_timeout)
            if item is None:
                break
            out.write(render(stream, item.raw, item.headers) + "\n")
            seen += 1
            if reader.buffered == 0:
                out.flush()
        out.flush()
    except BrokenPipeError:
        return 0
    finally:
        await reader.close()
    if reader.failure is not None:
        print(f"project-engine tail: reading stopped: {reader.failure!r}", file=err)
        return 1
    return 0
