"""Just enough of the Kafka wire protocol to check and set up the local broker without a JVM.

Blocking request/response exchanges over a plain socket: ``ApiVersions`` (answered on every
listener, also before SASL authentication), ``Metadata`` (the round trip that proves the
broker serves clients and has registered itself), and ``AlterUserScramCredentials`` with
``DescribeUserScramCredentials`` (to add SCRAM users to a data dir formatted earlier).
Used from synchronous code, so it works whether or not an asyncio loop is running in the
caller's thread.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "BrokerInfo",
    "ProtocolError",
    "api_versions",
    "metadata_brokers",
    "scram_users",
    "upsert_scram",
]

CLIENT_ID = "project-engine-localkafka"
API_METADATA = 3
API_VERSIONS = 18
API_DESCRIBE_SCRAM = 50
API_ALTER_SCRAM = 51
SCRAM_SHA_256 = 1  # mechanism id of SCRAM-SHA-256 in AlterUserScramCredentials
SCRAM_ITERATIONS = 4096


class ProtocolError(OSError):
    """The broker answered with an error code or something this module cannot read."""


@dataclass(frozen=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self, nullable: bool = False) -> str | None:
        size = self.take(">h")
        if size < 0:
            if nullable:
                return None
            raise ProtocolError("unexpected null string in response")
        raw = self.data[self.pos : self.pos + size]
        self.pos += size
        return raw.decode("utf-8")

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def compact_string(self) -> str | None:
        size = self.uvarint() - 1
        if size < 0:
            return None
        raw = self.data[self.pos : self.pos + size]
        self.pos += size
        return raw.decode("utf-8")


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _compact_bytes(raw: bytes) -> bytes:
    return _uvarint(len(raw) + 1) + raw


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProtocolError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def _exchange(
    sock: socket.socket, api_key: int, version: int, body: bytes, *, flexible: bool = False
) -> _Reader:
    """Send one request and return a reader positioned after the response header."""
    correlation_id = int.from_bytes(os.urandom(3), "big")
    client = CLIENT_ID.encode()
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client)) + client
    if flexible:
        header += _uvarint(0)  # no tagged fields
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    reader = _Reader(_recv_exact(sock, size))
    if reader.take(">i") != correlation_id:
        raise ProtocolError("response correlation id does not match the request")
    if flexible and api_key != API_VERSIONS:
        reader.uvarint()  # response header tagged fields (always empty here)
    return reader


def _read_api_versions(sock: socket.socket) -> dict[int, tuple[int, int]]:
    reader = _exchange(sock, API_VERSIONS, 0, b"")
    error = reader.take(">h")
    if error:
        raise ProtocolError(f"ApiVersions failed with error code {error}")
    versions: dict[int, tuple[int, int]] = {}
    for _ in range(reader.take(">i")):
        key, low, high = reader.take(">h"), reader.take(">h"), reader.take(">h")
        versions[key] = (low, high)
    return versions


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def api_versions(host: str, port: int, timeout: float = 2.0) -> dict[int, tuple[int, int]]:
    """The broker's supported ``{api_key: (min_version, max_version)}``."""
    with _connect(host, port, timeout) as sock:
        return _read_api_versions(sock)


def metadata_brokers(host: str, port: int, timeout: float = 2.0) -> list[BrokerInfo]:
    """The brokers a ``Metadata`` request (for no topics) returns; empty until registered."""
    with _connect(host, port, timeout) as sock:
        low, high = _read_api_versions(sock).get(API_METADATA, (0, -1))
        version = min(high, 8)  # v1-v8 share the non-flexible layout read below
        if version < max(low, 1):
            raise ProtocolError(f"broker supports Metadata v{low}-v{high} only")
        body = struct.pack(">i", 0)  # an empty topic list: brokers only
        if version >= 4:
            body += b"\x00"  # allow_auto_topic_creation = false
        if version >= 8:
            body += b"\x00\x00"  # no cluster/topic authorized operations
        reader = _exchange(sock, API_METADATA, version, body)
        if version >= 3:
            reader.take(">i")  # throttle_time_ms
        brokers = []
        for _ in range(reader.take(">i")):
            node_id = reader.take(">i")
            broker_host = reader.string() or ""
            broker_port = reader.take(">i")
            reader.string(nullable=True)  # rack
            brokers.append(BrokerInfo(node_id, broker_host, broker_port))
        return brokers


def upsert_scram(host: str, port: int, users: Mapping[str, str], timeout: float = 10.0) -> None:
    """Create or replace SCRAM-SHA-256 credentials of ``users`` (name -> password)."""
    body = _uvarint(1)  # no deletions (compact array of length 0)
    body += _uvarint(len(users) + 1)
    for name, password in users.items():
        salt = os.urandom(32)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
        body += _compact_bytes(name.encode())
        body += struct.pack(">bi", SCRAM_SHA_256, SCRAM_ITERATIONS)
        body += _compact_bytes(salt) + _compact_bytes(salted) + _uvarint(0)
    body += _uvarint(0)
    with _connect(host, port, timeout) as sock:
        reader = _exchange(sock, API_ALTER_SCRAM, 0, body, flexible=True)
        reader.take(">i")  # throttle_time_ms
        for _ in range(reader.uvarint() - 1):
            user = reader.compact_string()
            error = reader.take(">h")
            message = reader.compact_string()
            reader.uvarint()  # tagged fields
            if error:
                raise ProtocolError(f"could not set SCRAM credentials of {user!r}: {message}")


def scram_users(host: str, port: int, names: Iterable[str], timeout: float = 5.0) -> set[str]:
    """Which of ``names`` the broker's metadata already holds SCRAM-SHA-256 credentials for."""
    wanted = list(names)
    body = _uvarint(len(wanted) + 1)
    for name in wanted:
        body += _compact_bytes(name.encode()) + _uvarint(0)
    body += _uvarint(0)
    with _connect(host, port, timeout) as sock:
        reader = _exchange(sock, API_DESCRIBE_SCRAM, 0, body, flexible=True)
    reader.take(">i")  # throttle_time_ms
    reader.take(">h")  # top-level error: per-user results below say which ones are missing
    reader.compact_string()
    found: set[str] = set()
    for _ in range(reader.uvarint() - 1):
        user = reader.compact_string()
        error = reader.take(">h")
        reader.compact_string()  # error message
        mechanisms = set()
        for _ in range(reader.uvarint() - 1):
            mechanisms.add(reader.take(">b"))
            reader.take(">i")  # iterations
            reader.uvarint()  # tagged fields
        reader.uvarint()  # tagged fields
        if user is not None and not error and SCRAM_SHA_256 in mechanisms:
            found.add(user)
    return found
