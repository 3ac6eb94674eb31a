"""Starting and stopping what a benchmark needs: a local broker, engine workers, a time bound.

Everything started here is stopped by the :class:`contextlib.ExitStack` it was registered on,
so it goes away on success, on an error, on Ctrl-C (SIGINT), on SIGTERM and when the run's
time limit passes. Worker processes also get SIGTERM from the kernel if this process dies
without cleaning up (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from project_engine.localkafka import free_port
from project_engine.logs import configure_logging
from schemas.settings import ENV_PREFIX, Settings

__all__ = [
    "BenchmarkTimeout",
    "EngineWorker",
    "bench_settings",
    "cpu_seconds",
    "interrupts_and_deadline",
    "machine_busy_seconds",
    "run_and_report",
    "tuning_env",
    "wait_for",
]

_PR_SET_PDEATHSIG = 1


class BenchmarkTimeout(KeyboardInterrupt):
    """The run took longer than its time limit.

    A ``KeyboardInterrupt`` so that it stops the run wherever it is raised, as Ctrl-C does:
    asyncio tasks re-raise it instead of keeping it as their result.
    """


def bench_settings(bootstrap: str, data_root: Path, partitions: int) -> Settings:
    """Settings with a topic prefix and app id of their own, so runs never share state."""
    tag = uuid.uuid4().hex[:10]
    return Settings.load(
        {"bootstrap": bootstrap, "topic_prefix": f"bench{tag}-", "app_id": f"bench-{tag}"},
        env={},
    ).replace(data_dir=data_root / tag, partitions=partitions)


#: Worker settings a benchmark may vary that the ``worker`` command takes from the environment.
TUNING = ("ingest_slice", "query_priority_turns")


def tuning_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a worker process the tuning of ``settings``."""
    return {ENV_PREFIX + name.upper(): str(getattr(settings, name)) for name in TUNING}


@contextlib.contextmanager
def interrupts_and_deadline(seconds: float) -> Iterator[None]:
    """Raise ``KeyboardInterrupt`` on SIGINT and SIGTERM, and :class:`BenchmarkTimeout` once
    ``seconds`` have passed, in the main thread, so ``finally`` blocks and exit stacks run.

    A handler of our own for SIGINT also keeps ``asyncio.run`` from turning Ctrl-C into a
    cancellation of its main task, which a client library's cleanup code may swallow.
    """

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise BenchmarkTimeout(f"the benchmark ran longer than its limit of {seconds:.0f}s")

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    old[signal.SIGALRM] = signal.signal(signal.SIGALRM, on_alarm)
    earlier_timer, _ = signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if earlier_timer > 0:  # give a timer set before us its remaining time back
            remaining = earlier_timer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001))


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class EngineWorker:
    """One ``project-engine worker`` child process; stop it with :meth:`stop` (idempotent)."""

    settings: Settings
    name: str = "worker"
    log_level: str = "WARNING"
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def command(self, data_dir: Path, web_port: int) -> list[str]:
        s = self.settings
        return [
            sys.executable,
            "-m",
            "project_engine.cli",
            "worker",
            "--bootstrap",
            s.bootstrap,
            "--topic-prefix",
            s.topic_prefix,
            "--app-id",
            s.app_id,
            "--partitions",
            str(s.partitions),
            "--data-dir",
            str(data_dir),
            "--web-port",
            str(web_port),
            "--log-level",
            self.log_level,
        ]

    def start(self) -> EngineWorker:
        data_dir = self.settings.data_dir / self.name
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(tuning_env(self.settings))
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(data_dir, free_port()),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the worker in order
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def __enter__(self) -> EngineWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds used so far by process ``pid`` (None if unknown)."""
    if pid is None:
        return None
    if pid == os.getpid():
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes on this machine used so far, summed over every core."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def wait_for(
    probe: Callable[[], Awaitable[Any]],
    accept: Callable[[Any], bool],
    *,
    timeout: float,
    interval: float = 0.5,
    alive: Callable[[], bool] = lambda: True,
) -> Any:
    """Call ``probe`` until ``accept`` holds for its value; raise ``TimeoutError`` after
    ``timeout`` seconds, or ``RuntimeError`` as soon as ``alive()`` turns false."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        if not alive():
            raise RuntimeError(f"gave up waiting: the process died (last answer {last!r:.200})")
        try:
            last = await probe()
            if accept(last):
                return last
        except Exception as exc:  # the engine may still be starting
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"no acceptable answer within {timeout:.0f}s: {last!r:.300}")
        await asyncio.sleep(interval)


class _Report(Protocol):
    def table(self) -> str: ...

    def write_json(self, path: Path) -> None: ...


def run_and_report(
    run: Callable[[], None], report: _Report, json_out: Path, time_limit: float
) -> int:
    """A benchmark entry's common part: quiet client logs, ``run`` under the deadline and
    signal handling, then the table and the JSON. Returns the exit code (0, 2 on the
    deadline, 130 when interrupted)."""
    configure_logging(Settings().replace(log_level="ERROR"))
    # The clients log transient errors (a new topic without a leader yet) that they retry.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        with interrupts_and_deadline(time_limit):
            run()
    except BenchmarkTimeout as exc:
        print(f"benchmark stopped: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    print(report.table())
    report.write_json(json_out)
    print(f"\nwrote {json_out}")
    return 0
