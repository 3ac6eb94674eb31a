"""server.properties rendering, cluster ids and SCRAM user handling of the local broker."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from project_engine.localkafka import BrokerConfig, LocalKafkaError, new_cluster_id
from project_engine.localkafka.config import (
    read_cluster_id,
    render_server_properties,
    scram_format_args,
    validate_scram_users,
)


def parse(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_plain_config_is_a_single_node_kraft_combined_broker_and_controller(
    tmp_path: Path,
) -> None:
    props = parse(render_server_properties(BrokerConfig(19092, 19093, tmp_path / "kraft")))

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert props["log.dirs"] == str(tmp_path / "kraft")


def test_plain_config_never_auto_creates_topics_and_uses_one_replica_everywhere(
    tmp_path: Path,
) -> None:
    props = parse(render_server_properties(BrokerConfig(19092, 19093, tmp_path)))

    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "1"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert "sasl.enabled.mechanisms" not in props


def test_sasl_port_adds_a_scram_sha_256_listener_advertised_to_clients(tmp_path: Path) -> None:
    cfg = BrokerConfig(19092, 19093, tmp_path, sasl_port=19094)
    props = parse(render_server_properties(cfg))

    assert "SASL_PLAINTEXT://127.0.0.1:19094" in props["listeners"].split(",")
    assert "SASL_PLAINTEXT://127.0.0.1:19094" in props["advertised.listeners"].split(",")
    assert "SASL_PLAINTEXT:SASL_PLAINTEXT" in props["listener.security.protocol.map"].split(",")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-256"
    jaas = props["listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config"]
    assert jaas == "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert cfg.sasl_bootstrap == "127.0.0.1:19094"
    assert cfg.bootstrap == "127.0.0.1:19092"


def test_cluster_id_is_22_chars_of_unpadded_base64url_encoding_16_random_bytes() -> None:
    ids = {new_cluster_id() for _ in range(500)}

    assert len(ids) == 500
    for cid in ids:
        assert len(cid) == 22
        assert not cid.startswith("-")
        assert "=" not in cid
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_cluster_id_is_read_back_from_meta_properties_of_a_formatted_dir(tmp_path: Path) -> None:
    assert read_cluster_id(tmp_path) is None
    (tmp_path / "meta.properties").write_text(
        "#\nnode.id=1\ndirectory.id=abc\nversion=1\ncluster.id=QXKhsXNuRPy3Fz6twe5A3g\n"
    )

    assert read_cluster_id(tmp_path) == "QXKhsXNuRPy3Fz6twe5A3g"


def test_scram_users_become_storage_tool_add_scram_arguments() -> None:
    args = scram_format_args({"alice": "secret", "bob": "p@ss:word"})

    assert args == [
        "--add-scram",
        "SCRAM-SHA-256=[name=alice,password=secret]",
        "--add-scram",
        "SCRAM-SHA-256=[name=bob,password=p@ss:word]",
    ]


@pytest.mark.parametrize(
    ("users", "fragment"),
    [
        ({"": "secret"}, "non-empty"),
        ({"alice": ""}, "non-empty"),
        ({"al,ice": "secret"}, "user name 'al,ice'"),
        ({"alice": "se]cret"}, "password of 'alice'"),
        ({"alice": "a b"}, "password of 'alice'"),
    ],
)
def test_scram_users_that_the_add_scram_syntax_cannot_carry_are_refused(
    users: dict[str, str], fragment: str
) -> None:
    with pytest.raises(LocalKafkaError, match="SCRAM") as info:
        validate_scram_users(users)

    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
