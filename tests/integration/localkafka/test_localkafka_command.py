"""The ``broker`` command as a real process: readiness output, port clashes, SIGTERM cleanup."""

from __future__ import annotations

import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from project_engine.localkafka import free_port, port_in_use
from project_engine.localkafka.wire import metadata_brokers

pytestmark = pytest.mark.integration

READY_WITHIN = 20.0
MODULE_COMMAND = [sys.executable, "-m", "project_engine.commands.broker"]


@dataclass
class BrokerProcess:
    """A running ``broker`` command whose stdout lines are collected by a thread."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        stderr = (
            self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
        )
        raise AssertionError(f"no {prefix!r} line in {timeout}s; stdout={self.seen} {stderr=}")

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def launch(command: list[str], *args: str) -> BrokerProcess:
    proc = subprocess.Popen(
        [*command, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return BrokerProcess(proc)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any(text in part for part in proc.info["cmdline"] or ()):
            found.append(proc.info["pid"])
    return found


@pytest.fixture(scope="module")
def running_broker() -> Iterator[tuple[BrokerProcess, int]]:
    port = free_port()
    broker = launch(MODULE_COMMAND, "--port", str(port))
    try:
        broker.wait_for("ready in ", READY_WITHIN)
        yield broker, port
    finally:
        broker.terminate()


def test_broker_command_prints_its_bootstrap_and_is_ready_within_20_seconds(
    running_broker: tuple[BrokerProcess, int],
) -> None:
    broker, port = running_broker

    assert broker.seen[0] == f"bootstrap: 127.0.0.1:{port}"
    assert sum(line.startswith("bootstrap: ") for line in broker.seen) == 1
    ready = float(broker.seen[-1].removeprefix("ready in ").removesuffix("s"))
    assert 0 < ready < READY_WITHIN
    assert [b.port for b in metadata_brokers("127.0.0.1", port)] == [port]


def test_second_broker_command_on_the_same_port_exits_1_with_a_clear_message(
    running_broker: tuple[BrokerProcess, int],
) -> None:
    _, port = running_broker

    done = subprocess.run(
        [*MODULE_COMMAND, "--port", str(port)], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"project-engine broker: 127.0.0.1:{port} is already in use (broker port): "
        "choose another port\n"
    )


def test_sigterm_stops_the_broker_command_with_exit_0_and_leaves_no_java_behind() -> None:
    port = free_port()
    broker = launch(MODULE_COMMAND, "--port", str(port))
    try:
        broker.wait_for("ready in ", READY_WITHIN)
        log_line = next(line for line in broker.seen if line.startswith("log: "))
        data_dir = str(Path(log_line.removeprefix("log: ")).parent)
        children = psutil.Process(broker.proc.pid).children(recursive=True)
        java_pids = [c.pid for c in children if "kafka.Kafka" in " ".join(c.cmdline())]
        assert len(java_pids) == 1
        assert processes_mentioning(data_dir) == java_pids
    finally:
        code = broker.terminate()

    assert code == 0
    assert not psutil.pid_exists(java_pids[0])
    assert processes_mentioning(data_dir) == []
    assert not Path(data_dir).exists()


def test_broker_command_exits_1_when_its_java_process_dies() -> None:
    broker = launch(MODULE_COMMAND, "--port", str(free_port()))
    try:
        broker.wait_for("ready in ", READY_WITHIN)
        (java,) = psutil.Process(broker.proc.pid).children()
        java.kill()
        code = broker.proc.wait(30)
    finally:
        broker.terminate()

    assert code == 1
    assert broker.proc.stderr is not None
    err = broker.proc.stderr.read()
    assert err.startswith("project-engine broker: Kafka exited unexpectedly (code -9): ")
    assert err.count("\n") == 1


def test_scram_users_add_a_sasl_bootstrap_line_on_the_next_port() -> None:
    port = free_port()
    while not _free(port + 1):
        port = free_port()
    broker = launch(MODULE_COMMAND, "--port", str(port), "--scram-user", "alice:secret")
    try:
        broker.wait_for("ready in ", READY_WITHIN)
    finally:
        assert broker.terminate() == 0

    assert broker.seen[:2] == [
        f"bootstrap: 127.0.0.1:{port}",
        f"sasl bootstrap: 127.0.0.1:{port + 1} (SCRAM-SHA-256)",
    ]


def _free(port: int) -> bool:
    return port < 65536 and not port_in_use(port)


def _cli_builds() -> bool:
    """True when every command module of ``project-engine`` imports (the CLI needs them all)."""
    try:
        from project_engine.cli import build_parser

        build_parser()
    except ImportError:
        return False
    return True


@pytest.mark.skipif(
    not _cli_builds(),
    reason="project-engine cannot build its CLI: a command module fails to import",
)
def test_project_engine_console_script_runs_the_broker_subcommand() -> None:
    script = shutil.which("project-engine") or str(Path(sys.executable).parent / "project-engine")
    broker = launch([script, "broker"], "--port", str(free_port()))
    try:
        line = broker.wait_for("bootstrap: ", READY_WITHIN)
        broker.wait_for("ready in ", READY_WITHIN)
    finally:
        assert broker.terminate() == 0
    assert line.startswith("bootstrap: 127.0.0.1:")
