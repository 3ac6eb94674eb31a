"""``project-engine digest``: print the graph digest of the configured namespace.

The digest (``{"digest": "<16 hex>", "nodes": N, "edges": E}``) does not depend on the order
the graph was built in, so ``project-engine digest --topic-prefix replay1-`` next to
``project-engine digest`` tells whether a replay rebuilt the live graph exactly. The answer
is always evaluated afresh (never from the workers' result cache).
"""

from __future__ import annotations

import argparse
import asyncio
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

__all__ = ["DIGEST_QUERY", "fetch_digest", "print_digest", "register", "run"]

DIGEST_QUERY = {"type": "digest"}


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "digest",
        help="print the order-independent digest of the graph",
        description="Print the digest query's answer for the configured namespace as JSON.",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (60)")
    add_connection_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings)
    return asyncio.run(print_digest(settings, timeout=args.timeout))


async def fetch_digest(settings: Settings, *, timeout: float = 60.0) -> dict[str, Any]:
    """The digest answer of the namespace's workers (raises the SDK's errors)."""
    async with await create_project(settings, caching=False) as engine:
        result = await engine.query(DIGEST_QUERY, timeout=timeout)
    if not isinstance(result, dict):
        raise QueryError("internal", f"unexpected digest answer {result!r}")
    return result


async def print_digest(
    settings: Settings,
    *,
    timeout: float = 60.0,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the digest as one JSON line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        result = await fetch_digest(settings, timeout=timeout)
    except QueryError as exc:
        print(f"error {exc.code}: {exc.message}", file=err)
        return 1
    except EngineTimeout as exc:
        print(f"error timeout: {exc} (is a worker running for this namespace?)", file=err)
        return 1
    except PermanentKafkaError as exc:
        print(f"error kafka: {exc}", file=err)
        return 1
    except EngineError as exc:
        print(f"error unavailable: {exc}", file=err)
        return 1
    print(to_json_line(result), file=out)
    return 0
