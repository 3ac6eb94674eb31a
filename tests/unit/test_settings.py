"""Settings come from flags, then environment, then defaults; bad values name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import Settings, SettingsError


def test_defaults_match_the_documented_local_setup() -> None:
    s = Settings.load({}, env={})
    assert s.bootstrap == "127.0.0.1:9092"
    assert s.store == "memory"
    assert s.topics.input == "graph-input"
    assert s.topics.public() == (
        "graph-input",
        "graph-queries",
        "graph-results",
        "graph-errors",
        "graph-dlq",
        "graph-matches",
    )


def test_environment_overrides_defaults_and_flags_override_environment() -> None:
    env = {"PROJECT_ENGINE_BOOTSTRAP": "kafka:19092", "PROJECT_ENGINE_PARTITIONS": "8"}
    s = Settings.load({}, env=env)
    assert (s.bootstrap, s.partitions) == ("kafka:19092", 8)
    s = Settings.load({"partitions": "2", "bootstrap": None}, env=env)
    assert (s.bootstrap, s.partitions) == ("kafka:19092", 2)


def test_topic_prefix_applies_to_every_topic() -> None:
    s = Settings.load({"topic_prefix": "dev."}, env={})
    assert all(name.startswith("dev.") for name in s.topics.all())


def test_unknown_store_is_rejected_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"store \(PROJECT_ENGINE_STORE\).*unknown store"):
        Settings.load({}, env={"PROJECT_ENGINE_STORE": "cassandra"})


@pytest.mark.parametrize("bad", ["localhost", "host:port", "a:1,b", ":9092", "h:70000", ""])
def test_bad_bootstrap_string_is_rejected_naming_the_setting(bad: str) -> None:
    with pytest.raises(SettingsError, match="bootstrap"):
        Settings.load({"bootstrap": bad}, env={})


def test_non_numeric_port_is_rejected_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"web_port \(--web-port\).*expected a port number"):
        Settings.load({"web_port": "http"}, env={})


def test_non_numeric_partitions_from_environment_is_rejected() -> None:
    with pytest.raises(SettingsError, match="PROJECT_ENGINE_PARTITIONS"):
        Settings.load({}, env={"PROJECT_ENGINE_PARTITIONS": "four"})


def test_sasl_without_credentials_is_rejected() -> None:
    with pytest.raises(SettingsError, match="sasl_mechanism"):
        Settings.load({"sasl_mechanism": "SCRAM-SHA-256"}, env={})


def test_password_never_appears_in_repr() -> None:
    env = {
        "PROJECT_ENGINE_SASL_MECHANISM": "scram-sha-256",
        "PROJECT_ENGINE_USERNAME": "alice",
        "PROJECT_ENGINE_PASSWORD": "s3cret-value",
    }
    s = Settings.load({}, env=env)
    assert s.security.protocol == "SASL_PLAINTEXT"
    assert "s3cret-value" not in repr(s)


def test_data_dir_accepts_a_path() -> None:
    s = Settings.load({"data_dir": "/tmp/x"}, env={})
    assert s.data_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    ("raw", "expected"), [("false", False), ("0", False), ("Off", False), ("yes", True)]
)
def test_snapshot_on_stop_reads_true_and_false_words(raw: str, expected: bool) -> None:
    assert Settings().snapshot_on_stop is True
    loaded = Settings.load(env={"PROJECT_ENGINE_SNAPSHOT_ON_STOP": raw})
    assert loaded.snapshot_on_stop is expected
    assert Settings.load({"snapshot_on_stop": expected}).snapshot_on_stop is expected


def test_snapshot_on_stop_rejects_other_words_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="snapshot_on_stop"):
        Settings.load(env={"PROJECT_ENGINE_SNAPSHOT_ON_STOP": "maybe"})


def test_ingest_slice_reads_a_positive_count_and_refuses_zero() -> None:
    assert Settings().ingest_slice == 64
    assert Settings.load({}, env={"PROJECT_ENGINE_INGEST_SLICE": "256"}).ingest_slice == 256
    with pytest.raises(SettingsError, match="PROJECT_ENGINE_INGEST_SLICE"):
        Settings.load({}, env={"PROJECT_ENGINE_INGEST_SLICE": "0"})


def test_scan_slice_reads_a_count_where_zero_means_in_one_go() -> None:
    assert Settings().scan_slice == 2048
    assert Settings.load({}, env={"PROJECT_ENGINE_SCAN_SLICE": "0"}).scan_slice == 0
    assert Settings.load({}, env={"PROJECT_ENGINE_SCAN_SLICE": "64"}).scan_slice == 64
    with pytest.raises(SettingsError, match="PROJECT_ENGINE_SCAN_SLICE"):
        Settings.load({}, env={"PROJECT_ENGINE_SCAN_SLICE": "-1"})


def test_query_priority_turns_reads_a_count_and_allows_zero_but_not_less() -> None:
    assert Settings().query_priority_turns == 3
    env = {"PROJECT_ENGINE_QUERY_PRIORITY_TURNS": "0"}
    assert Settings.load({}, env=env).query_priority_turns == 0
    with pytest.raises(SettingsError, match="PROJECT_ENGINE_QUERY_PRIORITY_TURNS"):
        Settings.load({}, env={"PROJECT_ENGINE_QUERY_PRIORITY_TURNS": "-1"})
