"""Running a worker for one namespace as a child process, and waiting until it caught up.

:class:`WorkerChild` starts ``project-engine worker`` with every setting passed through
``PROJECT_ENGINE_*`` environment variables (so credentials never appear on a command line)
and its output in a log file. :func:`wait_until_applied` returns the digest once the
worker's consumer group has committed up to the end of the namespace's input topic and of
its internal apply topic, and two digest queries in a row agree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk.errors import EngineError, EngineTimeout
from project_engine.sdk.log_io import end_offsets
from schemas.settings import ENV_PREFIX, Settings

__all__ = ["WorkerChild", "committed_offsets", "settings_env", "wait_until_applied"]


def settings_env(settings: Settings) -> dict[str, str]:
    """``PROJECT_ENGINE_*`` variables that make ``Settings.load`` rebuild ``settings``."""
    env: dict[str, str] = {}
    for f in dataclasses.fields(settings):
        if f.name != "security":
            env[ENV_PREFIX + f.name.upper()] = str(getattr(settings, f.name))
    for f in dataclasses.fields(settings.security):
        value = getattr(settings.security, f.name)
        if value is not None:
            env[ENV_PREFIX + f.name.upper()] = str(value)
    return env


@dataclasses.dataclass
class WorkerChild:
    """One ``project-engine worker`` child process for ``settings``."""

    settings: Settings
    log_path: Path
    detach: bool = False
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerChild:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(settings_env(self.settings))
        cmd = [sys.executable, "-m", "project_engine.cli", "worker"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=self.detach,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


async def committed_offsets(settings: Settings, group: str) -> dict[tuple[str, int], int]:
    """The offsets ``group`` has committed, by (topic, partition)."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): int(meta.offset) for tp, meta in offsets.items()}


async def _caught_up(settings: Settings) -> bool:
    committed = await committed_offsets(settings, settings.app_id)
    for topic in (settings.topics.input, settings.topics.apply):
        ends = await end_offsets(settings, topic)
        if any(committed.get((topic, p), 0) < end for p, end in ends.items() if end > 0):
            return False
    return True


async def wait_until_applied(
    settings: Settings,
    digest: Callable[[], Awaitable[dict[str, Any]]],
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 1.0,
) -> dict[str, Any]:
    """Wait until the namespace's worker applied its whole input; return the digest.

    ``digest`` is an async callable answering the digest query; ``alive`` tells whether
    the worker still runs (a dead worker ends the wait with :class:`EngineError`).
    Raises :class:`EngineTimeout` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    previous: dict[str, Any] | None = None
    while True:
        if not alive():
            raise EngineError("the worker exited before it applied the input")
        if time.monotonic() > deadline:
            raise EngineTimeout(f"the input was not applied within {timeout:.0f}s")
        try:
            if await _caught_up(settings):
                answer = await digest()
                if answer == previous:
                    return dict(answer)
                previous = answer
            else:
                previous = None
        except (EngineError, KafkaError, OSError):  # still starting: not answering yet
            previous = None
        await asyncio.sleep(interval)
