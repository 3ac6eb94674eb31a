"""``project-engine worker``: run one engine worker process (Faust) in the foreground.

Creates the topics when missing, builds the Faust app from settings and runs it until
SIGTERM/SIGINT. Several workers on one host each need their own ``--web-port`` and
``--data-dir``.

Stopping is graceful and bounded. On SIGTERM/SIGINT Faust stops fetching input, waits for
the events in hand (the chunk part being applied) to finish, commits their offsets and
flushes the producer. Faust waits for in-flight events without a time limit, so a
:class:`ShutdownWatchdog` armed on the first signal ends the process with
:data:`EXIT_SHUTDOWN_TIMEOUT` if the stop has not finished within ``shutdown_timeout``
seconds. Nothing is lost either way: offsets are committed only after what they cover has
been written, and a restart re-applies the rest (mutations are idempotent).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from typing import Any

import structlog

__all__ = [
    "EXIT_SHUTDOWN_TIMEOUT",
    "ShutdownWatchdog",
    "prepare_topics",
    "register",
    "run",
    "run_worker",
    "startup_failure",
]

#: Exit status when the stop did not finish within the bound (as timeout(1) uses).
EXIT_SHUTDOWN_TIMEOUT = 124

log = structlog.get_logger(__name__)


class ShutdownWatchdog:
    """Ends the process if a stop, once started, has not finished within ``timeout`` seconds.

    :meth:`arm` may be called many times (every signal, the final cleanup): the first call
    starts the countdown, later calls do nothing. The timer is a daemon thread, so a process
    that exits in time is never held up by it, and it fires even when the event loop or the
    interpreter's own shutdown (joining threads) hangs.
    """

    def __init__(self, timeout: float, exit_code: int = EXIT_SHUTDOWN_TIMEOUT) -> None:
        self.timeout = timeout
        self.exit_code = exit_code
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    @property
    def armed(self) -> bool:
        return self._timer is not None

    def arm(self, reason: str) -> None:
        with self._lock:
            if self._timer is not None:
                return
            self._timer = threading.Timer(self.timeout, self._expire, args=(reason,))
            self._timer.name = "shutdown-watchdog"
            self._timer.daemon = True
            self._timer.start()
        log.info("stopping", reason=reason, bound_seconds=self.timeout)

    def _expire(self, reason: str) -> None:
        try:
            log.error(
                "stop did not finish in time: exiting now",
                reason=reason,
                bound_seconds=self.timeout,
                exit_code=self.exit_code,
            )
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stderr.flush()
        finally:
            os._exit(self.exit_code)


def bounded_worker_class(watchdog: ShutdownWatchdog) -> type[Any]:
    """A ``faust.Worker`` that arms ``watchdog`` whenever it begins to stop.

    Faust (through ``mode``) installs its own SIGTERM/SIGINT handlers with
    ``loop.add_signal_handler`` and dispatches them to ``_on_sigterm``/``_on_sigint``; those
    are extended here, so the graceful stop they schedule runs exactly as before.
    ``on_worker_shutdown`` runs on every way out (signal, crash, end of start-up).
    """
    import faust

    class BoundedShutdownWorker(faust.Worker):
        def _on_sigterm(self) -> None:
            watchdog.arm("SIGTERM")
            super()._on_sigterm()

        def _on_sigint(self) -> None:
            watchdog.arm("SIGINT")
            super()._on_sigint()

        def on_worker_shutdown(self) -> None:
            watchdog.arm("worker shutting down")
            super().on_worker_shutdown()

    return BoundedShutdownWorker


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
    parser.add_argument(
        "--shutdown-timeout",
        help="seconds a stop may take before the process exits anyway (30)",
    )
    parser.set_defaults(func=run)


async def prepare_topics(settings: Any) -> None:
    """Create the topics; a failed bootstrap is replaced by its real cause when permanent.

    aiokafka reports every failed bootstrap as ``KafkaConnectionError``, bad credentials
    included; one direct connection per bootstrap server tells them apart, so a wrong
    password stops the worker at once with an authentication error.
    """
    from aiokafka.errors import KafkaConnectionError

    from project_engine.sdk.connect import bootstrap_failure_cause
    from project_engine.topics import ensure_topics

    try:
        await ensure_topics(settings)
    except KafkaConnectionError as exc:
        cause = await bootstrap_failure_cause(settings)
        if cause is not None:
            raise cause from exc
        raise


def startup_failure(settings: Any, exc: BaseException) -> str:
    """One line saying why the worker could not start; never contains the password."""
    from aiokafka.errors import KafkaError

    from project_engine.sdk.retry import as_permanent, classify
    from project_engine.topics import TopicMismatch

    sec = settings.security
    if isinstance(exc, TopicMismatch):
        text = str(exc)
    elif isinstance(exc, KafkaError) and classify(exc) == "permanent":
        who = f" as {sec.username} ({sec.sasl_mechanism})" if sec.sasl_mechanism else ""
        text = str(as_permanent(exc, f"connecting to {settings.bootstrap}{who}"))
    else:
        text = f"cannot reach Kafka at {settings.bootstrap} ({type(exc).__name__}: {exc})"
    text = " ".join(text.split())
    if sec.password:
        text = text.replace(sec.password, "***")
    return f"project-engine worker: {text}"


def run_worker(settings: Any) -> int:
    """Create the topics, then run the Faust worker for ``settings`` until stopped.

    Failing to create the topics (broker unreachable, bad credentials, partition count
    mismatch) ends the process with exit code 1 and a one-line message before Faust starts.
    """
    from agents.app import build_engine
    from project_engine.logs import configure_logging

    configure_logging(settings)
    try:
        asyncio.run(prepare_topics(settings))
    except Exception as exc:
        print(startup_failure(settings, exc), file=sys.stderr)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = build_engine(settings)
    worker_class = bounded_worker_class(ShutdownWatchdog(settings.shutdown_timeout))
    worker = worker_class(
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
