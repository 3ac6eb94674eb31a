"""``project-engine demo``: the main job on the local default.

Uses the Kafka at the configured bootstrap address, or starts a local broker there when
nothing answers and the address is on this machine; starts a worker; loads a sample graph
through the SDK; prints the answers to a few queries; stops what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

DEMO_QUERIES: list[dict[str, Any]] = [
    {"type": "stats"},
    {"type": "node", "id": "alice"},
    {"type": "node", "id": "bob"},
    {"type": "node", "id": "acme"},
    {"type": "node", "id": "nobody"},
    {"type": "neighbors", "id": "alice", "direction": "both"},
    {"type": "khop", "id": "alice", "depth": 2},
    {"type": "shortest_path", "src": "alice", "dst": "dave"},
    {"type": "subgraph", "id": "frank", "depth": 1, "direction": "both"},
    {"type": "top_degree", "k": 3, "direction": "both"},
    {"type": "khop", "id": "alice", "depth": 2},
]


def register(subparsers: Any) -> None:
    from project_engine.cli import add_connection_flags

    parser = subparsers.add_parser(
        "demo",
        help="start a local broker and worker if needed, load a sample graph, query it",
        description=__doc__,
    )
    add_connection_flags(parser)
    parser.add_argument("--edges", type=int, default=20_000, help="random edges to add (20000)")
    parser.add_argument("--keep-running", action="store_true", help="leave the worker running")
    parser.set_defaults(func=run)


def _worker_command(settings: Any, data_dir: Path, web_port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "project_engine.cli",
        "worker",
        "--bootstrap",
        settings.bootstrap,
        "--partitions",
        str(settings.partitions),
        "--data-dir",
        str(data_dir),
        "--web-port",
        str(web_port),
        "--log-level",
        "WARNING",
    ]


async def _load_and_query(settings: Any, edges: int) -> None:
    from project_engine.sample_graph import social_sample, uniform_edges
    from project_engine.sdk import create_project

    async with await create_project(settings, client_id="demo") as engine:
        started = time.perf_counter()
        summary = await engine.add_graph(social_sample(), wait=True, timeout=180)
        print(f"loaded sample graph: {summary.items} ops in {summary.chunks} chunks")
        summary = await engine.add_graph(
            uniform_edges(2_000, edges, seed=1), wait=True, timeout=180, ordered=False
        )
        took = time.perf_counter() - started
        print(f"loaded {summary.items} random edges; everything applied in {took:.1f}s")
        for q in DEMO_QUERIES:
            hits = engine.metrics.cache_hits
            started = time.perf_counter()
            result = await engine.query(q, timeout=30)
            ms = (time.perf_counter() - started) * 1000
            source = "cache" if engine.metrics.cache_hits > hits else "evaluated"
            text = json.dumps(result, sort_keys=True)
            if len(text) > 300:
                text = text[:300] + " ..."
            print(f"query {json.dumps(q)}  ({ms:.1f} ms, {source})\n  -> {text}")


def run(args: argparse.Namespace) -> int:
    from project_engine.cli import settings_from_args
    from project_engine.localkafka import LocalKafka, free_port, port_in_use
    from project_engine.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings.replace(log_level="ERROR"))
    # Reply readers may briefly see "not leader" right after the topics are created.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    with ExitStack() as stack:
        host, port = settings.bootstrap_servers[0].rsplit(":", 1)
        if host in ("127.0.0.1", "localhost") and not port_in_use(int(port)):
            print(f"starting a local Kafka broker on {host}:{port} ...", flush=True)
            kafka = stack.enter_context(LocalKafka(int(port)))
            print(f"broker ready at {kafka.bootstrap}", flush=True)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="engine-demo-")))
        web_port = free_port()
        log_path = workdir / "worker.log"
        log_file = stack.enter_context(log_path.open("wb"))
        worker = subprocess.Popen(
            _worker_command(settings, workdir / "data", web_port),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        print(f"worker started (pid {worker.pid}, log {log_path})", flush=True)
        try:
            asyncio.run(_load_and_query(settings, args.edges))
            if args.keep_running:
                print("worker keeps running; Ctrl-C to stop", flush=True)
                worker.wait()
        except Exception as exc:
            print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            print("\n".join(tail), file=sys.stderr)
            return 1
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
    return 0
