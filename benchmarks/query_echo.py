"""The floor of the query benchmark: a Kafka request/reply round trip that does no work.

An echo server (``python -m benchmarks.query_echo``, run by :class:`EchoProcess` as a child
process, as the worker is) reads every partition of a request topic with a plain aiokafka
consumer and produces each message, unchanged and with its key, to a reply topic, without
waiting for the broker's acknowledgement (as a worker sends its answers). The client side,
:class:`EchoClient`, does what the SDK's ``Engine.query`` does with plain aiokafka: an
idempotent ``acks="all"`` producer with the same linger sends the request with a unique
key and waits for the broker's acknowledgement, while a background consumer of every reply
partition hands the reply with that key to the waiting call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

__all__ = ["ENGINE_LINGER_MS", "READY", "EchoClient", "EchoProcess", "serve"]

READY = "echo ready"
#: The producer linger of the engine's request/reply path: the SDK's producer
#: (``Engine.connect``, ``linger_ms``) and the worker's (``producer_linger`` in agents/app.py).
ENGINE_LINGER_MS = 0
_PR_SET_PDEATHSIG = 1


async def _positioned_consumer(
    bootstrap: str, topic: str, partitions: int, client_id: str
) -> AIOKafkaConsumer:
    """A started consumer of every partition of ``topic``, positioned at their ends."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    for tp, offset in (await consumer.end_offsets(tps)).items():
        consumer.seek(tp, offset)
    return consumer


async def serve(bootstrap: str, requests: str, replies: str, partitions: int, linger: int) -> None:
    """Echo every message of ``requests`` to ``replies`` until cancelled or killed."""
    consumer = await _positioned_consumer(bootstrap, requests, partitions, "echo-server")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id="echo-server", acks="all", linger_ms=linger
    )
    try:
        await producer.start()
        print(READY, flush=True)
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for msg in records:
                    await producer.send(replies, msg.value, key=msg.key)
    finally:
        await producer.stop()
        await consumer.stop()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EchoProcess:
    """The echo server as a child process; a context manager that stops it on exit."""

    def __init__(
        self, bootstrap: str, requests: str, replies: str, partitions: int, linger_ms: int
    ) -> None:
        self.args = [
            *("--bootstrap", bootstrap, "--requests", requests, "--replies", replies),
            *("--partitions", str(partitions), "--linger-ms", str(linger_ms)),
        ]
        self.proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout: float = 60.0) -> EchoProcess:
        """Start the server and return once it reads its topic from the end."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.query_echo", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C reaches only the benchmark, which stops us
            preexec_fn=_die_with_parent,
        )
        try:
            assert self.proc.stdout is not None
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            line = self.proc.stdout.readline().strip() if ready else ""
            if line != READY:
                raise RuntimeError(f"the echo server did not start (said {line!r})")
        except BaseException:
            self.stop()
            raise
        return self

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
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EchoProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EchoClient:
    """Sends requests and waits for their echoes; use with ``async with``."""

    def __init__(
        self,
        bootstrap: str,
        requests: str,
        replies: str,
        partitions: int,
        linger_ms: int = ENGINE_LINGER_MS,
    ) -> None:
        self.bootstrap = bootstrap
        self.requests = requests
        self.replies = replies
        self.partitions = partitions
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="echo-client",
            enable_idempotence=True,
            acks="all",
            linger_ms=linger_ms,
        )
        self._waiters: dict[bytes, asyncio.Future[bytes]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EchoClient:
        self._consumer = await _positioned_consumer(
            self.bootstrap, self.replies, self.partitions, "echo-client-replies"
        )
        self._task = asyncio.create_task(self._read(self._consumer), name="echo-replies")
        await self.producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.producer.stop()
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for msg in records:
                    waiter = self._waiters.get(msg.key) if msg.key is not None else None
                    if waiter is not None and not waiter.done():
                        waiter.set_result(msg.value or b"")

    async def round_trip(self, value: bytes, timeout: float = 30.0) -> bytes:
        """Send ``value`` with a fresh key and return the echoed value."""
        key = uuid.uuid4().hex.encode()
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        try:
            async with asyncio.timeout(timeout):
                await self.producer.send_and_wait(self.requests, value, key=key)
                return await waiter
        finally:
            del self._waiters[key]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.query_echo", description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--requests", required=True, help="topic to read requests from")
    parser.add_argument("--replies", required=True, help="topic to write the echoes to")
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--linger-ms", type=int, default=ENGINE_LINGER_MS)
    a = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # transient leader errors
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(a.bootstrap, a.requests, a.replies, a.partitions, a.linger_ms))


if __name__ == "__main__":
    main()
