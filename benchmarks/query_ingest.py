"""A concurrent ingest for the query benchmark, published from a child process of its own.

The queries measured during an ingest must not share an event loop (or a core's worth of
Python) with the publisher, whose chunk encoding would delay their sends and replies. So
``python -m benchmarks.query_ingest`` draws its seeded edges itself, connects an SDK engine
to the namespace given in ``PROJECT_ENGINE_*`` variables, says :data:`READY` on stdout,
waits for ``go`` on stdin, publishes with ``add_graph(wait=True, ordered=False)`` and prints
one JSON line: ``{"seconds", "items", "chunks", "failed"}``. :class:`IngestProcess` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.data import uniform_edge_ops
from project_engine.logs import configure_logging
from project_engine.sdk import create_project
from project_engine.worker_process import settings_env
from schemas.settings import ENV_PREFIX, Settings

__all__ = ["READY", "IngestProcess", "publish"]

READY = "ingest ready"
GO = "go"
_PR_SET_PDEATHSIG = 1


async def publish(settings: Settings, edges: int, nodes: int, seed: int, chunk: int) -> None:
    ops = uniform_edge_ops(nodes, edges, seed)
    async with await create_project(settings, client_id=f"bench-ingest-{seed}") as engine:
        await engine.add_graph([], wait=True)  # topic metadata and the ack reader, untimed
        print(READY, flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if line.strip() != GO:
            return
        started = time.perf_counter()
        summary = await engine.add_graph(
            ops, wait=True, ordered=False, chunk_size=chunk, timeout=600.0
        )
        seconds = time.perf_counter() - started
    result = {
        "seconds": round(seconds, 3),
        "items": summary.items,
        "chunks": summary.chunks,
        "failed": len(summary.failed),
    }
    print(json.dumps(result), flush=True)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class IngestProcess:
    """The publisher child: :meth:`start` returns once it is connected, :meth:`go` starts the
    ingest, :meth:`result` waits for its outcome; :meth:`stop` (idempotent) ends it."""

    def __init__(self, settings: Settings, edges: int, nodes: int, seed: int, chunk: int) -> None:
        self.settings = settings
        self.args = ["--edges", str(edges), "--nodes", str(nodes), "--seed", str(seed)]
        self.args += ["--chunk-size", str(chunk)]
        self.proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout: float = 120.0) -> IngestProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(settings_env(self.settings))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.query_ingest", *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            line = self._readline(timeout)
            if line != READY:
                raise RuntimeError(f"the ingest process did not get ready (said {line!r})")
        except BaseException:
            self.stop()
            raise
        return self

    def _readline(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().strip() if ready else ""

    def go(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(GO + "\n")
        self.proc.stdin.flush()

    def result(self, timeout: float) -> dict[str, Any]:
        """The publisher's result line (blocking: call it in a thread)."""
        line = self._readline(timeout)
        try:
            value = json.loads(line)
        except ValueError:
            raise RuntimeError(f"the ingest process ended without a result ({line!r})") from None
        if not isinstance(value, dict):
            raise RuntimeError(f"unexpected ingest result {line!r}")
        return value

    def stop(self, timeout: float = 10.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.query_ingest", description=__doc__)
    parser.add_argument("--edges", type=int, required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--chunk-size", type=int, default=1000)
    a = parser.parse_args(argv)
    settings = Settings.load({}, env=os.environ)
    configure_logging(settings.replace(log_level="ERROR"))  # on stderr: stdout is for us
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(publish(settings, a.edges, a.nodes, a.seed, a.chunk_size))


if __name__ == "__main__":
    main()
