"""The ``publish``, ``query`` and ``tail`` commands against the real broker.

Commands run as ``python -m project_engine.cli ...`` when every command module imports;
otherwise the command's ``run(args)`` is called in-process (in a worker thread).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import io
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from project_engine.sdk.wire import decode_value, encode_value
from schemas.settings import Settings

pytestmark = pytest.mark.integration
PARTITIONS = 4


@pytest.fixture
async def settings(kafka_bootstrap: str) -> Settings:
    settings = Settings(bootstrap=kafka_bootstrap, topic_prefix=f"c{uuid.uuid4().hex[:10]}-")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in settings.topics.all()])
    finally:
        await admin.close()
    return settings


def all_commands_import() -> bool:
    from project_engine.cli import COMMAND_MODULES

    try:
        for name in COMMAND_MODULES:
            importlib.import_module(f"project_engine.commands.{name}")
    except ImportError:
        return False
    return True


def _run_in_process(argv: list[str], stdin: bytes) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(f"project_engine.commands.{argv[0]}").register(sub)
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    fake_stdin = io.TextIOWrapper(io.BytesIO(stdin))
    saved = sys.stdin
    sys.stdin = fake_stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = int(args.func(args))
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


async def run_cli(settings: Settings, *argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    full = [*argv, "--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix]
    if not all_commands_import():
        return await asyncio.to_thread(_run_in_process, full, stdin)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "project_engine.cli",
        *full,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def input_items(settings: Settings) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topics.input, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        values: list[tuple[int, int, Any]] = []
        for tp in tps:
            consumer.seek(tp, 0)
        async with asyncio.timeout(30):
            while len(values) < sum(ends.values()):
                got = await consumer.getmany(timeout_ms=500)
                values += [
                    (m.partition, m.offset, decode_value(m.value, m.headers))
                    for ms in got.values()
                    for m in ms
                ]
    finally:
        await consumer.stop()
    return [op for _, _, v in sorted(values, key=lambda t: t[:2]) for op in v["items"]]


EDGES = """\
# Directed graph: test.txt
# FromNodeId\tToNodeId
1\t2
1\t3

2 3
oops
3 1
"""


async def test_publish_edgelist_round_trip_reports_bad_line_and_summary(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "graph.txt"
    path.write_text(EDGES)
    code, out, err = await run_cli(
        settings,
        "publish",
        str(path),
        "--format",
        "edgelist",
        "--edge-type",
        "knows",
        "--chunk-size",
        "3",
    )
    assert code == 1, "a bad line makes the exit code 1"
    assert f"{path}:7: " in err
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("published 4 items in 2 chunks in ")
    assert summary.endswith(", 1 failed")
    assert await input_items(settings) == [
        {"op": "upsert_edge", "src": s, "dst": d, "type": "knows", "props": {}}
        for s, d in [("1", "2"), ("1", "3"), ("2", "3"), ("3", "1")]
    ]


async def test_publish_json_lines_from_stdin_succeeds_with_exit_code_0(
    settings: Settings,
) -> None:
    ops = [{"op": "upsert_node", "id": f"n{i}", "props": {"i": i}} for i in range(25)]
    data = "".join(json.dumps(op) + "\n" for op in ops).encode()
    code, out, err = await run_cli(
        settings, "publish", "-", "--encoding", "json", "--unordered", stdin=data
    )
    assert code == 0, err
    assert out.strip().endswith(", 0 failed")
    assert "published 25 items in 1 chunks" in out
    assert await input_items(settings) == ops


async def test_publish_to_missing_topics_exits_1_with_the_topic_name(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = Settings(bootstrap=kafka_bootstrap, topic_prefix=f"gone{uuid.uuid4().hex[:8]}-")
    path = tmp_path / "g.txt"
    path.write_text("1 2\n")
    code, _, err = await run_cli(settings, "publish", str(path), "--format", "edgelist")
    assert code == 1
    assert f"{settings.topics.input}' does not exist" in err


@contextlib.asynccontextmanager
async def query_answerer(settings: Settings) -> AsyncIterator[None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await consumer.start()
    await producer.start()
    tps = [TopicPartition(settings.topics.queries, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)

    async def loop() -> None:
        while True:
            got = await consumer.getmany(timeout_ms=100)
            for m in (m for ms in got.values() for m in ms):
                q = decode_value(m.value, m.headers)
                if q["type"] == "node":
                    reply = {"query_id": q["query_id"], "status": "ok", "result": {"z": 1, "a": 2}}
                else:
                    error = {"code": "unknown_query_type", "message": f"no type {q['type']}"}
                    reply = {"query_id": q["query_id"], "status": "error", "error": error}
                await producer.send_and_wait(
                    settings.topics.results, encode_value(reply, "msgpack"), key=m.key
                )

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await producer.stop()


async def test_query_prints_the_result_as_sorted_json(settings: Settings) -> None:
    async with query_answerer(settings):
        code, out, err = await run_cli(settings, "query", '{"type": "node", "id": "a"}')
        assert (code, out) == (0, '{"a": 2, "z": 1}\n'), err
        code, out, _ = await run_cli(settings, "query", "-", "--pretty", stdin=b'{"type":"node"}')
        assert (code, out) == (0, '{\n  "a": 2,\n  "z": 1\n}\n')


async def test_query_error_prints_code_and_message_and_exits_1(settings: Settings) -> None:
    async with query_answerer(settings):
        code, out, err = await run_cli(settings, "query", '{"type": "nope"}', "--timeout", "20")
    assert code == 1
    assert out == ""
    assert "error unknown_query_type: no type nope" in err


async def test_tail_prints_decoded_values_and_dlq_entries_as_json_lines(
    settings: Settings,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await producer.start()
    try:
        event = {"code": "invalid_op", "message": "bad", "offset": 3}
        await producer.send_and_wait(settings.topics.errors, encode_value(event, "json"))
        await producer.send_and_wait(settings.topics.errors, encode_value(event, "msgpack"))
        await producer.send_and_wait(
            settings.topics.dlq, b"\xffnot-json", headers=[("error-code", b"undecodable")]
        )
    finally:
        await producer.stop()

    code, out, err = await run_cli(settings, "tail", "errors", "--from-beginning", "--max", "2")
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [event, event]

    code, out, err = await run_cli(
        settings, "tail", "dlq", "--from-beginning", "--max", "5", "--timeout", "2"
    )
    assert code == 0, err
    (line,) = out.splitlines()
    entry = json.loads(line)
    assert entry["headers"] == {"error-code": "undecodable"}
    assert base64.b64decode(entry["value_base64"]) == b"\xffnot-json"


async def test_tail_from_the_end_skips_old_messages_and_stops_when_idle(
    settings: Settings,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.acks, encode_value({"old": 1}, "json"))
    finally:
        await producer.stop()
    code, out, err = await run_cli(settings, "tail", "acks", "--timeout", "1")
    assert (code, out) == (0, ""), err
