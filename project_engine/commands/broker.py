"""``project-engine broker``: run a real single-node Kafka in the foreground until stopped.

Prints ``bootstrap: 127.0.0.1:<port>`` (and ``sasl bootstrap: ...`` when SCRAM users are
given) then ``ready in X.XXs`` once clients can connect; SIGTERM or SIGINT stops the broker,
waits for it and exits 0. Failures (java/mvn missing, port taken, broker dying) are one line
on stderr and exit code 1. ``--fetch-only`` just downloads the jars and prints their folder.
Also runnable as ``python -m project_engine.commands.broker``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from project_engine.localkafka import SCRAM_MECHANISM, LocalKafka, LocalKafkaError, resolve_jars

__all__ = ["add_arguments", "main", "register", "run"]

PROG = "project-engine broker"
CACHE_ENV = "PROJECT_ENGINE_KAFKA_CACHE"
DEFAULT_PORT = 9092
DESCRIPTION = "Run a real single-node Apache Kafka (KRaft) on 127.0.0.1 until stopped."
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _StopRequested(Exception):
    """Raised in the main thread by the SIGTERM/SIGINT handler."""


def _scram_user(value: str) -> tuple[str, str]:
    name, sep, password = value.partition(":")
    if not sep or not name or not password:
        raise argparse.ArgumentTypeError(f"expected NAME:PASSWORD, got {value!r}")
    return name, password


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="client (PLAINTEXT) port (9092)"
    )
    parser.add_argument(
        "--controller-port", type=int, help="KRaft controller port (default: a free port)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the broker's data here across restarts "
        "(default: a temporary dir removed on exit)",
    )
    parser.add_argument(
        "--scram-user",
        type=_scram_user,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help=f"add a {SCRAM_MECHANISM} user and a SASL_PLAINTEXT listener (repeatable)",
    )
    parser.add_argument(
        "--sasl-port", type=int, help="SASL_PLAINTEXT port when users are given (--port + 1)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help=f"where the Kafka jars are cached (env {CACHE_ENV}, else ~/.cache/project-engine)",
    )
    parser.add_argument("--heap", default="512m", help="maximum JVM heap of the broker (512m)")
    parser.add_argument(
        "--fetch-only",
        action="store_true",
        help="only download the Kafka jars into the cache, print their folder and exit",
    )


def register(subparsers: Any) -> None:
    """Add the ``broker`` subcommand to the ``project-engine`` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "broker",
        help="run a local single-node Kafka broker in the foreground",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return 1


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    raise _StopRequested(signal.Signals(signum).name)


@contextmanager
def _signals(handler: Any) -> Iterator[None]:
    """Route SIGTERM/SIGINT to ``handler`` inside the block, restoring the old handlers."""
    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    """Run the broker until a stop signal; the process exit code."""
    env_cache = os.environ.get(CACHE_ENV)
    cache_dir: Path | None = args.cache_dir or (Path(env_cache) if env_cache else None)
    if args.fetch_only:
        with _signals(_on_stop_signal):
            try:
                print(resolve_jars(cache_dir), flush=True)
            except LocalKafkaError as exc:
                return _fail(str(exc))
            except _StopRequested as stop:
                return _fail(f"download of the Kafka jars interrupted by {stop}")
        return 0
    users = dict(args.scram_user)
    sasl_port = args.sasl_port if args.sasl_port is not None else args.port + 1
    try:
        kafka = LocalKafka(
            args.port,
            controller_port=args.controller_port,
            data_dir=args.data_dir,
            scram_users=users,
            sasl_port=sasl_port if users else None,
            cache_dir=cache_dir,
            heap=args.heap,
        )
    except LocalKafkaError as exc:
        return _fail(str(exc))
    code = 0
    with _signals(_on_stop_signal):
        try:
            began = time.monotonic()
            kafka.start()
            print(f"bootstrap: {kafka.bootstrap}", flush=True)
            if kafka.sasl_bootstrap is not None:
                print(f"sasl bootstrap: {kafka.sasl_bootstrap} ({SCRAM_MECHANISM})", flush=True)
            print(f"log: {kafka.log_path}", flush=True)
            print(f"ready in {time.monotonic() - began:.2f}s", flush=True)
            exit_code = kafka.wait()
            code = _fail(f"Kafka exited unexpectedly (code {exit_code}): {kafka.log_reason()}")
        except _StopRequested:
            code = 0
        except LocalKafkaError as exc:
            code = _fail(str(exc))
        finally:
            # A second signal must not interrupt the orderly stop (it escalates to SIGKILL).
            for sig in _STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            kafka.stop()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
