"""``LocalKafka``: one real Apache Kafka broker (KRaft, single node) run as a child JVM.

Owns the broker's lifecycle: check the ports, resolve the jars, write ``server.properties``,
format the data dir once, start ``java kafka.Kafka``, wait until a Metadata round trip shows
the broker serving clients, and stop it with SIGTERM (SIGKILL after a timeout). The broker
log goes to ``broker.log`` in the data dir. A data dir made by ``LocalKafka`` itself is
temporary and removed on stop; one given by the caller is kept and reused on restart.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from project_engine.localkafka import wire
from project_engine.localkafka.config import (
    BrokerConfig,
    jvm_options,
    new_cluster_id,
    read_cluster_id,
    render_server_properties,
    scram_format_args,
    validate_scram_users,
)
from project_engine.localkafka.host import (
    JAVA_HINT,
    LOOPBACK,
    LocalKafkaError,
    ensure_port_free,
    free_port,
    relevant_line,
    require_tool,
)
from project_engine.localkafka.jars import classpath, resolve_jars

__all__ = ["LocalKafka"]

STARTED_MARKER = b"Kafka Server started"
FORMAT_TIMEOUT = 120.0
_POLL = 0.1


class LocalKafka:
    """A single-node Kafka broker on 127.0.0.1, usable as a context manager.

    ``scram_users`` (name -> password) adds a ``SASL_PLAINTEXT`` listener on ``sasl_port``
    (a free port when None) accepting SCRAM-SHA-256 logins of those users.
    """

    def __init__(
        self,
        port: int = 9092,
        *,
        controller_port: int | None = None,
        data_dir: Path | None = None,
        scram_users: Mapping[str, str] | None = None,
        sasl_port: int | None = None,
        cache_dir: Path | None = None,
        heap: str = "512m",
        log_file: Path | None = None,
    ) -> None:
        self._scram_users = dict(scram_users or {})
        validate_scram_users(self._scram_users)
        self._port = port
        self._controller_port = controller_port
        self._sasl_port = (sasl_port or free_port()) if self._scram_users else None
        self._data_dir = data_dir
        self._cache_dir = cache_dir
        jvm_options(heap)  # refuse a malformed heap size now rather than at start
        self._heap = heap
        self._log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._temp_dir: Path | None = None

    # -- addresses and state -------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self._port}"

    @property
    def sasl_bootstrap(self) -> str | None:
        return None if self._sasl_port is None else f"{LOOPBACK}:{self._sasl_port}"

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs, else None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def data_dir(self) -> Path | None:
        """The data dir in use (the temporary one while running, if none was given)."""
        return self._data_dir if self._data_dir is not None else self._temp_dir

    @property
    def log_path(self) -> Path | None:
        """Where the broker's output goes (``broker.log`` in the data dir by default)."""
        if self._log_file is not None:
            return self._log_file
        data_dir = self.data_dir
        return None if data_dir is None else data_dir / "broker.log"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the broker and return once it answers a Metadata request as a registered node.

        Raises :class:`LocalKafkaError` (one line) when it cannot start; nothing is left
        running then.
        """
        if self._proc is not None:
            raise LocalKafkaError(f"the broker on {self.bootstrap} is already started")
        java = require_tool("java", JAVA_HINT)
        ensure_port_free(self._port, "broker")
        if self._sasl_port is not None:
            ensure_port_free(self._sasl_port, "SASL")
        if self._controller_port is not None:
            ensure_port_free(self._controller_port, "controller")
        lib = resolve_jars(self._cache_dir)
        atexit.register(self.stop)  # never leave the JVM behind when the interpreter exits
        try:
            self._launch(java, lib, timeout)
        except BaseException:
            self.stop()
            raise

    def _launch(self, java: str, lib: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if self._data_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="project-engine-kafka-"))
        data_dir = self.data_dir
        assert data_dir is not None
        data_dir.mkdir(parents=True, exist_ok=True)
        cfg = BrokerConfig(
            port=self._port,
            controller_port=self._controller_port or free_port(),
            log_dir=data_dir / "kraft",
            sasl_port=self._sasl_port,
        )
        props = data_dir / "server.properties"
        props.write_text(render_server_properties(cfg), encoding="utf-8")
        formatted_before = read_cluster_id(cfg.log_dir) is not None
        if not formatted_before:
            self._format(java, lib, props)
        log_path = self.log_path
        assert log_path is not None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = log_path.open("ab")
        log_start = self._log_handle.tell()
        self._proc = subprocess.Popen(
            [java, *jvm_options(self._heap), "-cp", classpath(lib), "kafka.Kafka", str(props)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches us; we stop the JVM in order
        )
        self._wait_ready(log_path, log_start, deadline)
        if self._scram_users and formatted_before:
            # --add-scram only applies when formatting; add users to an existing dir now.
            self._add_scram_users(deadline)

    def _add_scram_users(self, deadline: float) -> None:
        """Upsert the SCRAM users, then wait until the broker's metadata holds them all."""
        wanted = set(self._scram_users)
        try:
            wire.upsert_scram(LOOPBACK, self._port, self._scram_users)
            while wire.scram_users(LOOPBACK, self._port, wanted) != wanted:
                if time.monotonic() > deadline:
                    raise LocalKafkaError("the SCRAM users did not reach the broker in time")
                time.sleep(_POLL)
        except OSError as exc:
            raise LocalKafkaError(f"could not create the SCRAM users: {exc}") from exc

    def _format(self, java: str, lib: Path, props: Path) -> None:
        cmd = [java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", classpath(lib)]
        cmd += ["kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(props)]
        cmd += ["--ignore-formatted", *scram_format_args(self._scram_users)]
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=FORMAT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalKafkaError(
                f"formatting {props.parent} took over {FORMAT_TIMEOUT:.0f}s"
            ) from exc
        if done.returncode != 0:
            why = relevant_line((done.stdout + "\n" + done.stderr).splitlines())
            raise LocalKafkaError(f"formatting the Kafka data dir failed: {why}")

    def _wait_ready(self, log_path: Path, log_start: int, deadline: float) -> None:
        proc = self._proc
        assert proc is not None
        started = False
        seen = b""
        with log_path.open("rb") as log:
            log.seek(log_start)
            while True:
                if not started:
                    seen = seen[-len(STARTED_MARKER) :] + log.read()
                    started = STARTED_MARKER in seen
                code = proc.poll()
                if code is not None:
                    why = relevant_line(self._log_tail(log_path, log_start))
                    raise LocalKafkaError(f"Kafka exited during startup (code {code}): {why}")
                if started and self._answers():
                    return
                if time.monotonic() > deadline:
                    why = relevant_line(self._log_tail(log_path, log_start), "no log output")
                    raise LocalKafkaError(f"Kafka was not ready on {self.bootstrap} in time: {why}")
                time.sleep(_POLL)

    def _answers(self) -> bool:
        """True when the broker lists itself in Metadata and the SASL listener answers."""
        try:
            brokers = wire.metadata_brokers(LOOPBACK, self._port)
            if not any(b.port == self._port for b in brokers):
                return False
            if self._sasl_port is not None:
                wire.api_versions(LOOPBACK, self._sasl_port)
        except OSError:
            return False
        return True

    def log_reason(self) -> str:
        """The broker log line that best explains a failure or an unexpected exit."""
        log_path = self.log_path
        if log_path is None or not log_path.is_file():
            return "no broker log"
        return relevant_line(self._log_tail(log_path, 0), "empty broker log")

    @staticmethod
    def _log_tail(log_path: Path, start: int, size: int = 64 * 1024) -> list[str]:
        with log_path.open("rb") as log:
            log.seek(max(start, log_path.stat().st_size - size))
            return log.read().decode("utf-8", "replace").splitlines()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the JVM exits (or ``timeout`` passes); its exit code, None if running."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the JVM, SIGKILL it after ``timeout``, reap it; remove a temp data dir."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.pid is not None else "stopped"
        return f"LocalKafka({self.bootstrap}, {state})"
