"""What the local broker and its command check before any JVM runs: jars cache, java/mvn, ports."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from project_engine.commands.broker import main, register
from project_engine.localkafka import (
    LocalKafka,
    LocalKafkaError,
    PortInUseError,
    free_port,
    lib_dir,
)
from project_engine.localkafka.config import jvm_options
from project_engine.localkafka.jars import MARKER, jars_complete, resolve_jars

SERVER_JAR = "kafka_2.13-4.4.0.jar"


def fake_cache(root: Path) -> Path:
    """A cache root whose lib folder looks completely resolved."""
    lib = lib_dir(root)
    lib.mkdir(parents=True)
    for name in (SERVER_JAR, "kafka-clients-4.4.0.jar"):
        (lib / name).write_bytes(b"")
    (lib / MARKER).write_text(f"{SERVER_JAR}\nkafka-clients-4.4.0.jar\n")
    return root


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holding neither java nor mvn."""
    bin_dir = tmp_path / "empty-bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_lib_folder_is_versioned_under_the_cache_root(tmp_path: Path) -> None:
    assert lib_dir(tmp_path) == tmp_path / "kafka-4.4.0" / "lib"
    assert lib_dir().parts[-4:] == (".cache", "project-engine", "kafka-4.4.0", "lib")


def test_lib_folder_counts_as_complete_only_when_every_listed_jar_is_there(
    tmp_path: Path,
) -> None:
    lib = lib_dir(fake_cache(tmp_path))
    assert jars_complete(lib)

    (lib / "kafka-clients-4.4.0.jar").unlink()
    assert not jars_complete(lib)
    assert not jars_complete(tmp_path / "nowhere")


def test_complete_cache_is_reused_without_maven(tmp_path: Path, empty_path: Path) -> None:
    root = fake_cache(tmp_path / "cache")

    assert resolve_jars(root) == lib_dir(root)


def test_missing_maven_with_an_empty_cache_says_how_to_install_it(
    tmp_path: Path, empty_path: Path
) -> None:
    with pytest.raises(LocalKafkaError) as info:
        resolve_jars(tmp_path / "cache")

    assert str(info.value).startswith("mvn not found on PATH: install Maven")
    assert "apt-get install maven" in str(info.value)


def test_start_without_java_fails_naming_java_and_the_jdk_to_install(
    tmp_path: Path, empty_path: Path
) -> None:
    kafka = LocalKafka(free_port(), cache_dir=fake_cache(tmp_path / "cache"))

    with pytest.raises(LocalKafkaError, match=r"^java not found on PATH: install a JDK 17\+"):
        kafka.start()
    assert kafka.pid is None


def test_taken_port_is_refused_before_jars_are_resolved_or_java_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listening: int
) -> None:
    java = shutil.which("java")
    assert java is not None, "this test needs java on PATH"
    bin_dir = tmp_path / "java-only"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(bin_dir))  # no mvn: resolving jars would fail differently
    kafka = LocalKafka(listening, cache_dir=tmp_path / "empty-cache")

    with pytest.raises(PortInUseError, match=f"127.0.0.1:{listening} is already in use"):
        kafka.start()
    assert kafka.pid is None
    assert not (tmp_path / "empty-cache").exists()


def test_bad_heap_size_and_bad_scram_user_are_refused_when_constructed() -> None:
    with pytest.raises(LocalKafkaError, match="heap size"):
        LocalKafka(free_port(), heap="lots")
    with pytest.raises(LocalKafkaError, match="SCRAM"):
        LocalKafka(free_port(), scram_users={"a,b": "x"})


def test_jvm_initial_heap_never_exceeds_the_maximum_heap() -> None:
    assert jvm_options("128m")[:2] == ["-Xms128m", "-Xmx128m"]
    assert jvm_options("512m")[:2] == ["-Xms256m", "-Xmx512m"]
    assert jvm_options("1g")[:2] == ["-Xms256m", "-Xmx1g"]


def test_sasl_bootstrap_exists_only_with_scram_users() -> None:
    assert LocalKafka(free_port()).sasl_bootstrap is None
    kafka = LocalKafka(19092, scram_users={"alice": "secret"}, sasl_port=19094)
    assert kafka.bootstrap == "127.0.0.1:19092"
    assert kafka.sasl_bootstrap == "127.0.0.1:19094"


def test_command_without_java_exits_1_with_one_line_on_stderr(
    tmp_path: Path, empty_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--port", str(free_port()), "--cache-dir", str(fake_cache(tmp_path))])

    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "project-engine broker: java not found on PATH: "
        "install a JDK 17+ (apt-get install openjdk-17-jre-headless)\n"
    )


def test_command_on_a_taken_port_exits_1_naming_the_port(
    listening: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--port", str(listening)])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert f"127.0.0.1:{listening} is already in use (broker port)" in captured.err


def test_fetch_only_prints_the_lib_folder_of_the_cache_named_by_the_env_var(
    tmp_path: Path,
    empty_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = fake_cache(tmp_path / "env-cache")
    monkeypatch.setenv("PROJECT_ENGINE_KAFKA_CACHE", str(root))

    assert main(["--fetch-only"]) == 0
    assert capsys.readouterr().out == f"{lib_dir(root)}\n"


def test_fetch_only_without_maven_exits_1_with_the_install_hint(
    tmp_path: Path, empty_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--fetch-only", "--cache-dir", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err.startswith("project-engine broker: mvn not found on PATH")


def test_scram_user_option_must_be_name_colon_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--scram-user", "alice"])

    assert info.value.code == 2
    assert "expected NAME:PASSWORD" in capsys.readouterr().err


def test_module_entry_point_fails_cleanly_when_java_and_mvn_are_absent(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir), "PROJECT_ENGINE_KAFKA_CACHE": str(tmp_path / "c")}

    done = subprocess.run(
        [sys.executable, "-m", "project_engine.commands.broker", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("project-engine broker: java not found on PATH")
    assert done.stderr.count("\n") == 1


def test_register_adds_a_broker_subcommand_whose_func_runs_it(
    tmp_path: Path, empty_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="project-engine")
    register(parser.add_subparsers(dest="command"))
    root = fake_cache(tmp_path / "cache")

    args = parser.parse_args(["broker", "--fetch-only", "--cache-dir", str(root)])

    assert args.port == 9092
    assert args.controller_port is None
    assert args.data_dir is None
    assert args.scram_user == []
    assert args.func(args) == 0
    assert capsys.readouterr().out == f"{lib_dir(root)}\n"
