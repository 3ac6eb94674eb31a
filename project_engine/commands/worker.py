"""``project-engine worker``: run one engine worker process (Faust) in the foreground.

Creates the topics when missing, builds the Faust app from settings and runs it until
SIGTERM/SIGINT. Several workers on one host each need their own ``--web-port`` and
``--data-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

__all__ = ["register", "run", "run_worker"]


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "worker",
        help="run an engine worker (Faust) that applies chunks and answers queries",
        description="Run one engine worker in the foreground until SIGTERM/SIGINT.",
    )
    add_connection_flags(parser)
    parser.add_argument("--store", help="table store: memory or rocksdb (memory)")
    parser.add_argument("--data-dir", help="directory for local state (./engine-data)")
    parser.add_argument("--web-port", help="port of the worker's web endpoints (6066)")
    parser.add_argument("--web-host", help="address the web endpoints bind to (127.0.0.1)")
    parser.add_argument("--app-id", help="consumer group and state namespace (project-engine)")
    parser.set_defaults(func=run)


def run_worker(settings: Any) -> int:
    """Create the topics, then run the Faust worker for ``settings`` until stopped."""
    import faust

    from agents.app import build_engine
    from project_engine.logs import configure_logging
    from project_engine.topics import TopicMismatch, ensure_topics

    configure_logging(settings)
    try:
        asyncio.run(ensure_topics(settings))
    except TopicMismatch as exc:
        print(f"project-engine worker: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(
            f"project-engine worker: cannot reach Kafka at {settings.bootstrap} "
            f"({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = build_engine(settings)
    worker = faust.Worker(
        engine.app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
        workdir=str(settings.data_dir),
    )
    worker.execute_from_commandline()
    return 0


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args

    return run_worker(settings_from_args(args))
