"""``project-engine query '<json>'``: send one query and print its result as JSON.

The query is a JSON map (``-`` reads it from stdin). The result is printed with sorted
keys (indented with ``--pretty``); an engine error prints ``error <code>: <message>`` on
stderr and exits with 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from project_engine.sdk import (
    EngineError,
    EngineTimeout,
    PermanentKafkaError,
    QueryError,
    create_project,
)
from project_engine.sdk.wire import to_json_line
from schemas.settings import Settings

__all__ = ["parse_query", "register", "run", "run_query"]


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "query",
        help="run one query and print its result as JSON",
        description="Send QUERY (a JSON map, '-' for stdin) and print the result as JSON.",
    )
    parser.add_argument("query", help='the query, e.g. \'{"type": "node", "id": "a"}\'')
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON output")
    parser.add_argument("--encoding", choices=("json", "msgpack"), default="msgpack")
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def parse_query(text: str) -> dict[str, Any]:
    """The query map in ``text``; raises ``ValueError`` saying what is wrong."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the query is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"the query must be a JSON map, got {type(value).__name__}")
    return value


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings)
    text = sys.stdin.read() if args.query == "-" else args.query
    try:
        q = parse_query(text)
    except ValueError as exc:
        print(f"project-engine query: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(
        run_query(settings, q, timeout=args.timeout, pretty=args.pretty, encoding=args.encoding)
    )


async def run_query(
    settings: Settings,
    q: dict[str, Any],
    *,
    timeout: float,
    pretty: bool = False,
    encoding: str = "msgpack",
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run ``q`` and print its result; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        async with await create_project(settings, encoding=encoding) as engine:
            result = await engine.query(q, timeout=timeout)
    except QueryError as exc:
        print(f"error {exc.code}: {exc.message}", file=err)
        return 1
    except EngineTimeout as exc:
        print(f"error timeout: {exc}", file=err)
        return 1
    except PermanentKafkaError as exc:
        print(f"error kafka: {exc}", file=err)
        return 1
    except EngineError as exc:
        print(f"error unavailable: {exc}", file=err)
        return 1
    print(to_json_line(result, indent=2 if pretty else None), file=out)
    return 0
