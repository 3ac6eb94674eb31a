"""SASL/SCRAM for the worker, the SDK and the CLI against a broker that requires it.

The password only ever travels in ``PROJECT_ENGINE_PASSWORD`` (no command takes it as a
flag). With the right one, a worker ingests what the SDK and the CLI publish and answers
their queries; with a wrong one, each of them stops within seconds with an authentication
error, after at most a few connection attempts (counted by a TCP relay in front of the
SASL listener), and never shows the password in any output or log line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from project_engine.cli import COMMAND_MODULES
from project_engine.sdk import PermanentKafkaError, RetryPolicy, create_project
from project_engine.topics import ensure_topics
from schemas.settings import ENV_PREFIX, KafkaSecurity, Settings
from tests.integration.conftest import ScramKafka
from tests.support.workers import WorkerProcess, eventually, unique_settings

MECHANISM = "SCRAM-SHA-256"
PARTITIONS = 2
FAIL_FAST_SECONDS = 10.0
WORKER_EXIT_SECONDS = 30.0
MAX_CONNECTIONS = 3  # bootstrap attempt + one probe that reads the real cause, and no more

# A small labelled graph: 4 nodes (carol and dave created by their edges), 4 edges.
SDK_GRAPH: list[dict[str, Any]] = [
    {"op": "upsert_node", "id": "alice", "labels": ["Person"], "props": {"age": 31}},
    {"op": "upsert_node", "id": "bob", "labels": ["Person"]},
    {"op": "upsert_edge", "src": "alice", "dst": "bob", "type": "KNOWS"},
    {"op": "upsert_edge", "src": "bob", "dst": "carol", "type": "KNOWS"},
    {"op": "upsert_edge", "src": "carol", "dst": "alice", "type": "LIKES"},
    {"op": "upsert_edge", "src": "alice", "dst": "dave", "type": "WORKS_WITH"},
]
# Disjoint from SDK_GRAPH: 3 nodes, 2 edges.
CLI_GRAPH: list[dict[str, Any]] = [
    {"op": "upsert_node", "id": "cli-1", "labels": ["Service"], "props": {"tier": 1}},
    {"op": "upsert_edge", "src": "cli-1", "dst": "cli-2", "type": "CALLS"},
    {"op": "upsert_edge", "src": "cli-2", "dst": "cli-3", "type": "CALLS"},
]


class ConnectionCounter:
    """A TCP relay in front of the broker's SASL listener that counts client connections.

    Only bootstrap connections pass through it (the broker advertises its own address), so
    it counts every connection a client makes while it cannot even bootstrap.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Future[Any]] = set()
        self.connections = 0
        self.bootstrap = ""

    async def start(self) -> ConnectionCounter:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.bootstrap = f"127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._relays:
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        task = asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    seconds: float


def scram_env(user: str, password: str) -> dict[str, str]:
    return {
        f"{ENV_PREFIX}SASL_MECHANISM": MECHANISM,
        f"{ENV_PREFIX}USERNAME": user,
        f"{ENV_PREFIX}PASSWORD": password,
    }


def with_scram(settings: Settings, user: str, password: str) -> Settings:
    security = KafkaSecurity(sasl_mechanism=MECHANISM, username=user, password=password)
    return settings.replace(security=security)


async def run_cli(
    settings: Settings, env: Mapping[str, str], *argv: str, stdin: bytes = b""
) -> CliRun:
    """``python -m project_engine.cli ARGV`` with only ``env`` as PROJECT_ENGINE_* variables."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)} | dict(env)
    flags = ["--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix]
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "project_engine.cli",
        *argv,
        *flags,
        "--partitions",
        str(settings.partitions),
        "--log-level",
        "DEBUG",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 120)
    assert proc.returncode is not None
    return CliRun(proc.returncode, out.decode(), err.decode(), time.monotonic() - started)


def assert_never_shown(password: str, **outputs: str) -> None:
    for where, text in outputs.items():
        lines = [line for line in text.splitlines() if password in line]
        assert not lines, f"the password appears in {where}: {lines[:3]}"


@pytest.fixture(scope="module")
async def scram_worker(
    scram_kafka: ScramKafka, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[WorkerProcess, Settings]]:
    """A worker that logs in with SCRAM (password from the environment), logging at DEBUG."""
    plain = unique_settings(
        scram_kafka.sasl_bootstrap, tmp_path_factory.mktemp("scram-worker"), partitions=PARTITIONS
    )
    settings = with_scram(plain, scram_kafka.user, scram_kafka.password)
    await ensure_topics(settings)  # the admin client authenticates with SCRAM too
    worker = WorkerProcess(
        plain,
        extra_env=scram_env(scram_kafka.user, scram_kafka.password),
        extra_args=["--log-level", "DEBUG"],
    ).start()
    try:
        async with await create_project(settings, client_id="scram-ready") as engine:
            answer = await eventually(
                lambda: engine.query({"type": "stats"}, timeout=5),
                lambda v: isinstance(v, dict),
                timeout=120,
            )
        assert isinstance(answer, dict), f"worker never answered: {answer!r}\n{worker.log_tail()}"
        yield worker, settings
    finally:
        worker.stop()


@pytest.fixture
async def relay(scram_kafka: ScramKafka) -> AsyncIterator[ConnectionCounter]:
    counter = await ConnectionCounter(scram_kafka.sasl_bootstrap).start()
    yield counter
    await counter.close()


@pytest.fixture
def wrong_password() -> str:
    return f"wrong-{uuid.uuid4().hex}"


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every stdlib record of this process (aiokafka included) at DEBUG."""
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_no_command_takes_a_password_flag() -> None:
    for name in COMMAND_MODULES:
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"project_engine.commands.{name}").register(sub)
        for command, subparser in sub.choices.items():
            flags = re.findall(r"--[\w-]+", subparser.format_help())
            assert not [f for f in flags if "password" in f.lower()], command


@pytest.mark.integration
async def test_scram_worker_ingests_a_graph_the_sdk_publishes_and_answers_stats(
    scram_worker: tuple[WorkerProcess, Settings],
    scram_kafka: ScramKafka,
    monkeypatch: pytest.MonkeyPatch,
    all_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    worker, settings = scram_worker
    for name, value in scram_env(scram_kafka.user, scram_kafka.password).items():
        monkeypatch.setenv(name, value)
    async with await create_project(
        bootstrap=settings.bootstrap,
        topic_prefix=settings.topic_prefix,
        partitions=settings.partitions,
        caching=False,
    ) as engine:
        assert engine.settings.security.password == scram_kafka.password  # from the env
        before = await engine.query({"type": "stats"}, timeout=30)
        summary = await engine.add_graph(SDK_GRAPH, chunk_size=2, wait=True, timeout=60)
        after = await engine.query({"type": "stats"}, timeout=30)
        alice = await engine.query({"type": "node", "id": "alice"}, timeout=30)

    assert summary.ok and summary.items == len(SDK_GRAPH)
    assert after == {"nodes": before["nodes"] + 4, "edges": before["edges"] + 4}
    assert alice == {
        "id": "alice",
        "labels": ["Person"],
        "props": {"age": 31},
        "out_degree": 2,
        "in_degree": 1,
    }
    worker_log = worker.log_path.read_text(errors="replace") if worker.log_path else ""
    assert f"Authenticated as {scram_kafka.user} via {MECHANISM}" in worker_log
    captured = capsys.readouterr()
    assert_never_shown(
        scram_kafka.password,
        worker_log=worker_log,
        sdk_records=all_logs.text,
        sdk_stdout=captured.out,
        sdk_stderr=captured.err,
    )


@pytest.mark.integration
async def test_cli_publish_and_query_log_in_with_the_password_from_the_environment(
    scram_worker: tuple[WorkerProcess, Settings], scram_kafka: ScramKafka, tmp_path: Path
) -> None:
    worker, settings = scram_worker
    env = scram_env(scram_kafka.user, scram_kafka.password)
    stats = '{"type": "stats"}'
    before = await run_cli(settings, env, "query", stats, "--encoding", "json")
    assert before.code == 0, before.err
    path = tmp_path / "graph.jsonl"
    path.write_text("".join(json.dumps(op) + "\n" for op in CLI_GRAPH))

    published = await run_cli(settings, env, "publish", str(path), "--wait", "--timeout", "60")
    after = await run_cli(settings, env, "query", stats)
    node = await run_cli(settings, env, "query", '{"type": "node", "id": "cli-2"}')

    assert published.code == 0, published.err
    assert "published 3 items in 1 chunks" in published.out
    assert after.code == 0, after.err
    counts = json.loads(before.out)
    assert json.loads(after.out) == {"nodes": counts["nodes"] + 3, "edges": counts["edges"] + 2}
    assert node.code == 0, node.err
    assert json.loads(node.out) == {
        "id": "cli-2",
        "labels": [],
        "props": {},
        "out_degree": 1,
        "in_degree": 1,
    }
    for run in (before, published, after, node):
        assert f"Authenticated as {scram_kafka.user} via {MECHANISM}" in run.err
        assert_never_shown(scram_kafka.password, cli_stdout=run.out, cli_stderr=run.err)
    worker_log = worker.log_path.read_text(errors="replace") if worker.log_path else ""
    assert_never_shown(scram_kafka.password, worker_log=worker_log)


@pytest.mark.integration
async def test_sdk_with_a_wrong_password_fails_fast_with_an_authentication_error(
    scram_kafka: ScramKafka,
    relay: ConnectionCounter,
    wrong_password: str,
    tmp_path: Path,
    all_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = with_scram(
        unique_settings(relay.bootstrap, tmp_path), scram_kafka.user, wrong_password
    )
    started = time.monotonic()
    with pytest.raises(PermanentKafkaError) as info:
        await create_project(settings, retry=RetryPolicy(deadline=60))
    seconds = time.monotonic() - started

    message = str(info.value)
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f} s"
    assert 1 <= relay.connections <= MAX_CONNECTIONS, relay.connections
    assert "authentication failed" in message and "SaslAuthenticationFailed" in message
    captured = capsys.readouterr()
    assert_never_shown(
        wrong_password,
        error=f"{message}\n{info.value!r}\n{info.value.__cause__!r}",
        sdk_records=all_logs.text,
        sdk_stdout=captured.out,
        sdk_stderr=captured.err,
    )


@pytest.mark.integration
@pytest.mark.parametrize("command", ["query", "publish"])
async def test_cli_with_a_wrong_password_fails_fast_with_an_authentication_error(
    scram_kafka: ScramKafka,
    relay: ConnectionCounter,
    wrong_password: str,
    tmp_path: Path,
    command: str,
) -> None:
    settings = unique_settings(relay.bootstrap, tmp_path)
    env = scram_env(scram_kafka.user, wrong_password)
    if command == "query":
        run = await run_cli(settings, env, "query", '{"type": "stats"}')
    else:
        run = await run_cli(
            settings, env, "publish", "-", stdin=b'{"op": "delete_node", "id": "a"}\n'
        )

    assert run.code == 1, run.err
    assert run.seconds < FAIL_FAST_SECONDS, f"took {run.seconds:.1f} s"
    assert 1 <= relay.connections <= MAX_CONNECTIONS, relay.connections
    last = run.err.strip().splitlines()[-1]
    assert "authentication failed: check the username, password and SASL mechanism" in last
    assert "Traceback" not in run.err
    assert_never_shown(wrong_password, cli_stdout=run.out, cli_stderr=run.err)


@pytest.mark.integration
async def test_worker_with_a_wrong_password_exits_1_at_once_with_a_one_line_auth_error(
    scram_kafka: ScramKafka, relay: ConnectionCounter, wrong_password: str, tmp_path: Path
) -> None:
    settings = unique_settings(relay.bootstrap, tmp_path, partitions=PARTITIONS)
    worker = WorkerProcess(
        settings,
        extra_env=scram_env(scram_kafka.user, wrong_password),
        extra_args=["--log-level", "DEBUG"],
    )
    started = time.monotonic()
    proc = worker.start().proc
    assert proc is not None
    try:  # waiting in a thread keeps this loop, and so the relay, running
        await asyncio.to_thread(proc.wait, WORKER_EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {WORKER_EXIT_SECONDS:.0f} s\n{worker.log_tail()}")
    finally:
        code = worker.stop(timeout=10)
    seconds = time.monotonic() - started

    output = worker.log_path.read_text(errors="replace") if worker.log_path else ""
    last = output.strip().splitlines()[-1]
    assert code == 1, output[-2000:]
    assert seconds < WORKER_EXIT_SECONDS
    assert 1 <= relay.connections <= MAX_CONNECTIONS, relay.connections
    assert last.startswith(
        f"project-engine worker: connecting to {relay.bootstrap} as {scram_kafka.user}"
    )
    assert "authentication failed: check the username, password and SASL mechanism" in last
    assert "Traceback" not in output
    assert_never_shown(wrong_password, worker_log=output)
