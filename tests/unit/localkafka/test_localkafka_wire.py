"""The minimal Kafka protocol client of the local broker, against a scripted fake broker."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from project_engine.localkafka.wire import (
    BrokerInfo,
    ProtocolError,
    _Reader,
    _uvarint,
    api_versions,
    metadata_brokers,
)

Reply = Callable[[int, int, int], bytes]  # (api_key, version, correlation_id) -> response


def string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def api_versions_body(metadata_range: tuple[int, int]) -> bytes:
    keys = [(3, *metadata_range), (18, 0, 4)]
    return struct.pack(">hi", 0, len(keys)) + b"".join(struct.pack(">hhh", *k) for k in keys)


def metadata_v8_body(brokers: list[tuple[int, str, int]]) -> bytes:
    body = struct.pack(">ii", 0, len(brokers))
    for node_id, host, port in brokers:
        body += struct.pack(">i", node_id) + string(host) + struct.pack(">i", port)
        body += struct.pack(">h", -1)  # no rack
    return body + string("cluster") + struct.pack(">ii", 1, 0)


@pytest.fixture
def fake_broker() -> Iterator[Callable[[Reply], int]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(5)

    def serve(reply: Reply) -> int:
        def loop() -> None:
            conn, _ = server.accept()
            with conn:
                while head := conn.recv(4):
                    request = conn.recv(struct.unpack(">i", head)[0])
                    key, version, corr = struct.unpack_from(">hhi", request)
                    payload = reply(key, version, corr)
                    conn.sendall(struct.pack(">i", len(payload)) + payload)

        threading.Thread(target=loop, daemon=True).start()
        port: int = server.getsockname()[1]
        return port

    yield serve
    server.close()


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**31 - 1])
def test_unsigned_varints_round_trip(value: int) -> None:
    assert _Reader(_uvarint(value)).uvarint() == value


def test_metadata_round_trip_lists_the_registered_brokers(
    fake_broker: Callable[[Reply], int],
) -> None:
    seen_versions: list[tuple[int, int]] = []

    def reply(key: int, version: int, corr: int) -> bytes:
        seen_versions.append((key, version))
        body = api_versions_body((0, 13)) if key == 18 else metadata_v8_body([(1, "h", 9)])
        return struct.pack(">i", corr) + body

    port = fake_broker(reply)

    assert metadata_brokers("127.0.0.1", port) == [BrokerInfo(1, "h", 9)]
    assert seen_versions == [(18, 0), (3, 8)]


def test_api_versions_reports_each_api_version_range(
    fake_broker: Callable[[Reply], int],
) -> None:
    port = fake_broker(
        lambda key, version, corr: struct.pack(">i", corr) + api_versions_body((4, 13))
    )

    assert api_versions("127.0.0.1", port) == {3: (4, 13), 18: (0, 4)}


def test_a_response_to_another_request_is_rejected(fake_broker: Callable[[Reply], int]) -> None:
    port = fake_broker(lambda key, version, corr: struct.pack(">i", corr + 1) + b"\x00\x00")

    with pytest.raises(ProtocolError, match="correlation id"):
        api_versions("127.0.0.1", port)


def test_nothing_listening_raises_an_os_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(OSError):
            metadata_brokers("127.0.0.1", port, timeout=1)
