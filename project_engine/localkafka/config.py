"""The single-node KRaft broker's configuration: server.properties, JVM options, SCRAM users.

One JVM plays both KRaft roles (broker and controller) with a static one-voter quorum, so
restarting it on the same data dir with other ports works. Internal topics get one replica
and one partition, topics are never auto-created (the engine creates its own), and an
optional ``SASL_PLAINTEXT`` listener accepts SCRAM-SHA-256 logins.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from project_engine.localkafka.host import LOOPBACK, LocalKafkaError

__all__ = [
    "SCRAM_MECHANISM",
    "BrokerConfig",
    "jvm_options",
    "new_cluster_id",
    "read_cluster_id",
    "render_server_properties",
    "scram_format_args",
    "validate_scram_users",
]

SCRAM_MECHANISM = "SCRAM-SHA-256"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
META_PROPERTIES = "meta.properties"

# Characters that would break the "[name=...,password=...]" syntax of StorageTool --add-scram
# (or need escaping in SCRAM user names), refused for names and passwords alike.
_SCRAM_FORBIDDEN = re.compile(r'[,=\[\]"\s]')
_FORBIDDEN_TEXT = ', = [ ] " or whitespace'


@dataclass(frozen=True)
class BrokerConfig:
    """Ports and folders of one combined broker+controller node on the loopback interface."""

    port: int
    controller_port: int
    log_dir: Path
    sasl_port: int | None = None
    host: str = LOOPBACK
    node_id: int = 1
    num_partitions: int = 1

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def sasl_bootstrap(self) -> str | None:
        return None if self.sasl_port is None else f"{self.host}:{self.sasl_port}"


def render_server_properties(cfg: BrokerConfig) -> str:
    """The ``server.properties`` text for ``cfg`` (one ``key=value`` per line)."""
    h = cfg.host
    listeners = [f"PLAINTEXT://{h}:{cfg.port}"]
    advertised = [f"PLAINTEXT://{h}:{cfg.port}"]
    protocols = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    if cfg.sasl_port is not None:
        listeners.append(f"SASL_PLAINTEXT://{h}:{cfg.sasl_port}")
        advertised.append(f"SASL_PLAINTEXT://{h}:{cfg.sasl_port}")
        protocols.append("SASL_PLAINTEXT:SASL_PLAINTEXT")
    listeners.append(f"CONTROLLER://{h}:{cfg.controller_port}")
    props: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": cfg.node_id,
        "controller.quorum.voters": f"{cfg.node_id}@{h}:{cfg.controller_port}",
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": str(cfg.log_dir),
        "num.partitions": cfg.num_partitions,
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
    }
    if cfg.sasl_port is not None:
        props["sasl.enabled.mechanisms"] = SCRAM_MECHANISM
        key = f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config"
        props[key] = SCRAM_LOGIN_MODULE
    return "".join(f"{key}={value}\n" for key, value in props.items())


def jvm_options(heap: str) -> list[str]:
    """Options of the broker JVM: at most ``heap`` of memory, serial GC, timestamped logs."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", heap.strip())
    if match is None:
        raise LocalKafkaError(f"heap size {heap!r} is not like 512m or 1g")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
    initial = heap if int(match.group(1)) * scale < 256 << 20 else "256m"  # Xms <= Xmx
    return [
        f"-Xms{initial}",
        f"-Xmx{heap}",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
    ]


def new_cluster_id() -> str:
    """A fresh KRaft cluster id: a random UUID as 22 characters of unpadded base64url.

    Like Kafka's own ``Uuid.randomUuid`` it never starts with ``-`` (it would read as a
    command-line flag).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


def read_cluster_id(log_dir: Path) -> str | None:
    """The cluster id recorded in ``log_dir`` by a previous format, or None if unformatted."""
    meta = log_dir / META_PROPERTIES
    if not meta.is_file():
        return None
    for line in meta.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "cluster.id":
            return value.strip()
    return None


def validate_scram_users(users: Mapping[str, str]) -> None:
    """Refuse empty names/passwords and characters the SCRAM user syntax cannot carry."""
    for name, password in users.items():
        if not name or not password:
            raise LocalKafkaError(f"SCRAM user {name!r} needs a non-empty name and password")
        if _SCRAM_FORBIDDEN.search(name):
            raise LocalKafkaError(f"SCRAM user name {name!r} must not contain {_FORBIDDEN_TEXT}")
        if _SCRAM_FORBIDDEN.search(password):
            raise LocalKafkaError(f"SCRAM password of {name!r} must not contain {_FORBIDDEN_TEXT}")


def scram_format_args(users: Mapping[str, str]) -> list[str]:
    """``StorageTool format`` arguments that create ``users`` with SCRAM-SHA-256 credentials."""
    validate_scram_users(users)
    args: list[str] = []
    for name, password in users.items():
        args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]"]
    return args
