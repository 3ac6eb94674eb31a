"""What the local broker needs from the host: tools on PATH, free TCP ports, readable errors.

Owns :class:`LocalKafkaError` (every failure of the local broker is reported with it, as one
line saying what went wrong and how to fix it), the lookup of ``java``/``mvn``, the port
checks done before a JVM is started, and the choice of the one log line worth showing when
a Java process fails.
"""

from __future__ import annotations

import errno
import re
import shutil
import socket
from collections.abc import Iterable

__all__ = [
    "JAVA_HINT",
    "MVN_HINT",
    "LocalKafkaError",
    "PortInUseError",
    "ensure_port_free",
    "free_port",
    "port_in_use",
    "relevant_line",
    "require_tool",
]

LOOPBACK = "127.0.0.1"
JAVA_HINT = "install a JDK 17+ (apt-get install openjdk-17-jre-headless)"
MVN_HINT = "install Maven 3.6+ (apt-get install maven) to download the Kafka jars once"


class LocalKafkaError(RuntimeError):
    """The local broker could not be prepared, started or stopped; the message is one line."""


class PortInUseError(LocalKafkaError):
    """A port the broker needs is already bound by another process."""

    def __init__(self, port: int, role: str, host: str = LOOPBACK) -> None:
        self.port = port
        self.role = role
        self.host = host
        super().__init__(f"{host}:{port} is already in use ({role} port): choose another port")


def require_tool(name: str, hint: str) -> str:
    """Return the absolute path of ``name`` on PATH, or raise saying what to install."""
    found = shutil.which(name)
    if found is None:
        raise LocalKafkaError(f"{name} not found on PATH: {hint}")
    return found


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when binding ``host:port`` fails the way the JVM's bind would (EADDRINUSE).

    ``SO_REUSEADDR`` is set as Java sets it, so sockets lingering in TIME_WAIT do not count
    while a listener on the same port (also one on 0.0.0.0) does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def ensure_port_free(port: int, role: str, host: str = LOOPBACK) -> None:
    """Raise :class:`PortInUseError` when ``port`` is taken; ``role`` names its use."""
    if not 0 < port < 65536:
        raise LocalKafkaError(f"{role} port {port} is out of range (1-65535)")
    if port_in_use(port, host):
        raise PortInUseError(port, role, host)


# Lines that say why a JVM failed, strongest first. Kafka logs a fatal startup error as
# "ERROR ..." followed by the exception's stack trace; Maven prefixes its errors "[ERROR]".
_STRONG = re.compile(r"\b(FATAL|ERROR)\b|^Exception in thread|^Error:")
_WEAK = re.compile(r"Exception|Error\b|\bWARN\b")
_EXCEPTION = re.compile(r"^(?:Caused by: )?[\w.$]+(?:Exception|Error): \S")
_NOISE = re.compile(
    r"^\s*(at |\.\.\. \d+ more)"
    r"|^\[ERROR\]\s*(->.*|\[Help \d+\].*|To see the full.*|Re-run Maven.*|For more information.*)?$"
)
_MAX_LINE = 400


def relevant_line(lines: Iterable[str], default: str = "no output") -> str:
    """The line of ``lines`` that best explains a failure, trimmed to one short line.

    That is the last ERROR/FATAL line, or the exception message printed right after it
    when there is one; else the last warning-like line; else the last line.
    """
    kept = [line.strip() for line in lines if line.strip() and not _NOISE.search(line)]
    for i in range(len(kept) - 1, -1, -1):
        if _STRONG.search(kept[i]):
            following = kept[i + 1] if i + 1 < len(kept) else ""
            chosen = following if _EXCEPTION.search(following) else kept[i]
            return _trim(_strip_prefix(chosen))
    for line in reversed(kept):
        if _WEAK.search(line):
            return _trim(_strip_prefix(line))
    return _trim(kept[-1]) if kept else default


def _strip_prefix(line: str) -> str:
    """Drop the "[thread] LEVEL logger - " prefix of slf4j-simple lines, keep the message."""
    match = re.match(r"^(?:\S+ )?\[[^\]]+\] (?:ERROR|WARN|INFO|FATAL) \S+ - (.*)$", line)
    return match.group(1) if match else line


def _trim(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."
