"""Running real engine worker processes for integration tests, and waiting on their state."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from project_engine.localkafka import free_port
from schemas.settings import Settings

__all__ = ["WorkerProcess", "digest_reaches", "eventually", "unique_settings"]


_PRELOADED_CLI = (
    "import importlib, runpy; importlib.import_module({module!r}); "
    "runpy.run_module('project_engine.cli', run_name='__main__', alter_sys=True)"
)


def unique_settings(bootstrap: str, data_root: Path, **changes: Any) -> Settings:
    """Settings with a topic prefix and app id of their own, so tests never share state."""
    tag = uuid.uuid4().hex[:10]
    return Settings.load(
        {"bootstrap": bootstrap, "topic_prefix": f"t{tag}-", "app_id": f"engine-{tag}"},
        env={},
    ).replace(data_dir=data_root / tag, **changes)


@dataclass
class WorkerProcess:
    """One ``project-engine worker`` child process with its own web port and data dir."""

    settings: Settings
    name: str = "w1"
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    starts: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    web_port: int | None = None  # of the current (or last) start
    extra_args: list[str] = field(default_factory=list)  # appended flags win over earlier ones
    # A module imported in the worker process before the CLI runs (fault injection).
    preload: str | None = None

    def start(self) -> WorkerProcess:
        data_dir = self.settings.data_dir / self.name
        data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.log_path = data_dir / f"worker-{self.starts}.log"
        self.web_port = free_port()
        s = self.settings
        launch = ["-m", "project_engine.cli"]
        if self.preload is not None:
            launch = ["-c", _PRELOADED_CLI.format(module=self.preload)]
        cmd = [
            sys.executable,
            *launch,
            "worker",
            "--bootstrap",
            s.bootstrap,
            "--topic-prefix",
            s.topic_prefix,
            "--app-id",
            s.app_id,
            "--partitions",
            str(s.partitions),
            "--store",
            s.store,
            "--data-dir",
            str(data_dir),
            "--web-port",
            str(self.web_port),
            "--log-level",
            "INFO",
            *self.extra_args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROJECT_ENGINE_")}
        env.update(self.extra_env)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to commit, flush or leave the group."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
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

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    accept: Callable[[Any], bool],
    *,
    timeout: float = 120.0,
    interval: float = 0.5,
) -> Any:
    """Call ``probe`` until ``accept`` holds for its value; return the last value either way."""
    deadline = time.monotonic() + timeout
    value: Any = None
    while True:
        try:
            value = await probe()
            if accept(value):
                return value
        except Exception as exc:  # the engine may still be starting
            value = exc
        if time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


async def digest_reaches(
    engine: Any, worker: WorkerProcess, expected: dict[str, Any], timeout: float = 180.0
) -> None:
    """Wait until the engine's ``digest`` answer equals ``expected``; fail with the log."""
    got = await eventually(
        lambda: engine.query({"type": "digest"}, timeout=20),
        lambda v: v == expected,
        timeout=timeout,
    )
    assert got == expected, worker.log_tail()
