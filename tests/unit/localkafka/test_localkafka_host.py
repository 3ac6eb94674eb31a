"""Host checks of the local broker: tools on PATH, port probing, choosing the failure line."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from project_engine.localkafka import LocalKafkaError, PortInUseError, free_port, port_in_use
from project_engine.localkafka.host import JAVA_HINT, ensure_port_free, relevant_line, require_tool


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_free_port_can_be_bound_right_away() -> None:
    port = free_port()

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
    assert 1024 <= port < 65536


def test_port_in_use_sees_a_listening_socket_and_not_a_free_port(listening: int) -> None:
    assert port_in_use(listening) is True
    assert port_in_use(free_port()) is False


def test_port_in_use_sees_a_listener_bound_to_all_interfaces() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        assert port_in_use(sock.getsockname()[1]) is True


def test_ensure_port_free_names_the_port_and_its_role(listening: int) -> None:
    with pytest.raises(PortInUseError) as info:
        ensure_port_free(listening, "broker")

    message = str(info.value)
    assert message == f"127.0.0.1:{listening} is already in use (broker port): choose another port"
    assert info.value.port == listening
    assert info.value.role == "broker"


def test_ensure_port_free_refuses_ports_out_of_range() -> None:
    with pytest.raises(LocalKafkaError, match="out of range"):
        ensure_port_free(70000, "SASL")


def test_missing_tool_message_says_what_is_missing_and_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(LocalKafkaError) as info:
        require_tool("java", JAVA_HINT)

    assert str(info.value) == (
        "java not found on PATH: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"
    )


def test_relevant_line_is_the_exception_message_logged_after_a_kafka_error() -> None:
    log = """\
2026-01-01T00:00:00.000 [main] INFO kafka.server.KafkaConfig - KafkaConfig values:
2026-01-01T00:00:01.000 [main] ERROR kafka.Kafka$ -  FATAL Exiting Kafka due to fatal exception
java.lang.RuntimeException: Stored node id 2 doesn't match previous node id 1 in /d/meta.properties.
\tat kafka.Kafka.main(Kafka.scala:1)
\t... 3 more
2026-01-01T00:00:02.000 [main] INFO kafka.server.BrokerServer - shutting down
"""

    assert relevant_line(log.splitlines()) == (
        "java.lang.RuntimeException: Stored node id 2 doesn't match previous node id 1 "
        "in /d/meta.properties."
    )


def test_relevant_line_strips_the_slf4j_prefix_of_an_error_without_exception() -> None:
    log = [
        "2026-01-01T00:00:00.000 [main] INFO a.B - fine",
        "2026-01-01T00:00:01.000 [main] ERROR kafka.network.SocketServer - bind failed on 9092",
        "2026-01-01T00:00:02.000 [main] INFO a.B - shutting down",
    ]

    assert relevant_line(log) == "bind failed on 9092"


def test_relevant_line_skips_maven_boilerplate_after_the_real_error() -> None:
    out = [
        "[ERROR] Failed to execute goal on project x: Could not resolve dependencies",
        "[ERROR] ",
        "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.",
        "[ERROR] Re-run Maven using the -X switch to enable full debug logging.",
        "[ERROR] For more information about the errors and possible solutions, read:",
        "[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/Dependency",
    ]

    assert relevant_line(out).endswith("Could not resolve dependencies")


def test_relevant_line_falls_back_to_the_last_line_and_is_kept_short() -> None:
    assert relevant_line([]) == "no output"
    assert relevant_line(["starting", "x" * 1000]) == "x" * 397 + "..."
