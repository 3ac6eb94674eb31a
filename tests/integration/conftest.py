"""Fixtures giving integration tests a real Kafka broker, started once per test session.

``kafka_bootstrap`` is, in order of preference: the broker named by
``PROJECT_ENGINE_TEST_BOOTSTRAP``; a Kafka container when a Docker engine answers; else a
``LocalKafka`` (the Maven-resolved broker jars run as a child JVM). It never skips.
``scram_kafka`` is always a separate ``LocalKafka`` with a SCRAM-SHA-256 user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from project_engine.localkafka import LocalKafka, free_port

BOOTSTRAP_ENV = "PROJECT_ENGINE_TEST_BOOTSTRAP"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
SCRAM_USER = "alice"
SCRAM_PASSWORD = "alice-secret"


class ScramKafka(NamedTuple):
    bootstrap: str
    sasl_bootstrap: str
    user: str
    password: str


def docker_answers(timeout: float = 5.0) -> bool:
    """True when ``docker info`` succeeds quickly, i.e. an engine is reachable."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        done = subprocess.run([docker, "info"], capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _kafka_container() -> Any:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers before the "community" package split
        from testcontainers.kafka import KafkaContainer
    container = KafkaContainer(KAFKA_IMAGE).with_kraft()
    return container.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka broker shared by the whole test session."""
    configured = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if configured:
        yield configured
        return
    if docker_answers():
        container = _kafka_container()
        try:
            container.start()
        except Exception as exc:  # no image, no network...: fall back to the local JVM
            warnings.warn(f"Kafka container did not start ({exc}); using LocalKafka", stacklevel=1)
        else:
            try:
                yield str(container.get_bootstrap_server())
            finally:
                container.stop()
            return
    with LocalKafka(free_port(), data_dir=tmp_path_factory.mktemp("kafka")) as kafka:
        yield kafka.bootstrap


@pytest.fixture(scope="session")
def scram_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScramKafka]:
    """A second local broker whose SASL_PLAINTEXT listener accepts one SCRAM-SHA-256 user."""
    kafka = LocalKafka(
        free_port(),
        data_dir=tmp_path_factory.mktemp("kafka-scram"),
        scram_users={SCRAM_USER: SCRAM_PASSWORD},
        sasl_port=free_port(),
    )
    with kafka:
        assert kafka.sasl_bootstrap is not None
        yield ScramKafka(kafka.bootstrap, kafka.sasl_bootstrap, SCRAM_USER, SCRAM_PASSWORD)
