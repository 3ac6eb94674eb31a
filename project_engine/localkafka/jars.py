"""The Apache Kafka runtime jars: resolved once from Maven Central into a cache, then reused.

The broker runs from the ``kafka_2.13`` artifact and its runtime dependencies (plus an SLF4J
binding), copied into ``<cache>/kafka-<version>/lib`` by Maven's dependency plugin. A lib
folder is used only when a marker written after a complete copy lists every jar in it;
resolution goes through a staging folder renamed into place, so an interrupted or
concurrent download never leaves a half-filled lib folder behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from project_engine.localkafka.host import MVN_HINT, LocalKafkaError, relevant_line, require_tool

__all__ = [
    "KAFKA_VERSION",
    "SCALA_VERSION",
    "classpath",
    "default_cache_dir",
    "jars_complete",
    "lib_dir",
    "resolve_jars",
]

KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
SLF4J_VERSION = "2.0.17"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MARKER = ".complete"
MVN_TIMEOUT = 900.0

_POM = f"""\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>project-engine</groupId>
  <artifactId>local-kafka-runtime</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{SCALA_VERSION}</artifactId>
      <version>{KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>{SLF4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>{SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""


def default_cache_dir() -> Path:
    """``~/.cache/project-engine``: the root under which each Kafka version gets a folder."""
    return Path.home() / ".cache" / "project-engine"


def lib_dir(cache_dir: Path | None = None) -> Path:
    """Where the jars of :data:`KAFKA_VERSION` live under ``cache_dir``."""
    root = cache_dir if cache_dir is not None else default_cache_dir()
    return root.expanduser() / f"kafka-{KAFKA_VERSION}" / "lib"


def jars_complete(lib: Path) -> bool:
    """True when ``lib`` holds every jar its completion marker lists (and the server jar)."""
    marker = lib / MARKER
    if not marker.is_file():
        return False
    names = [n for n in marker.read_text(encoding="utf-8").splitlines() if n.strip()]
    server_jar = f"kafka_{SCALA_VERSION}-{KAFKA_VERSION}.jar"
    return server_jar in names and all((lib / n).is_file() for n in names)


def classpath(lib: Path) -> str:
    """The ``-cp`` value naming every jar in ``lib`` (the JVM expands the wildcard)."""
    return str(lib / "*")


def resolve_jars(cache_dir: Path | None = None, *, timeout: float = MVN_TIMEOUT) -> Path:
    """Return the lib folder for :data:`KAFKA_VERSION`, downloading it with Maven if needed.

    Raises :class:`LocalKafkaError` when ``mvn`` is missing or the resolution fails.
    """
    lib = lib_dir(cache_dir)
    if jars_complete(lib):
        return lib
    mvn = require_tool("mvn", MVN_HINT)
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lib-staging-", dir=lib.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="project-engine-kafka-pom-") as pom_dir:
            pom = Path(pom_dir) / "pom.xml"
            pom.write_text(_POM, encoding="utf-8")
            _copy_dependencies(mvn, pom, staging, timeout)
        names = sorted(p.name for p in staging.glob("*.jar"))
        if f"kafka_{SCALA_VERSION}-{KAFKA_VERSION}.jar" not in names:
            raise LocalKafkaError(
                f"Maven finished but the Kafka server jar is missing in {staging}"
            )
        (staging / MARKER).write_text("\n".join(names) + "\n", encoding="utf-8")
        _move_into_place(staging, lib)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not jars_complete(lib):
        raise LocalKafkaError(
            f"the Kafka jars in {lib} are incomplete: delete the folder and retry"
        )
    return lib


def _copy_dependencies(mvn: str, pom: Path, out: Path, timeout: float) -> None:
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={out}",
    ]
    try:
        done = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "MAVEN_OPTS": os.environ.get("MAVEN_OPTS", "-Xmx512m")},
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalKafkaError(
            f"downloading the Kafka {KAFKA_VERSION} jars with Maven took over {timeout:.0f}s"
        ) from exc
    if done.returncode != 0:
        why = relevant_line((done.stdout + "\n" + done.stderr).splitlines())
        raise LocalKafkaError(
            f"Maven could not resolve the Kafka {KAFKA_VERSION} jars "
            f"(exit {done.returncode}): {why}"
        )


def _move_into_place(staging: Path, lib: Path) -> None:
    """Rename ``staging`` to ``lib``; an incomplete ``lib`` is replaced, a complete one kept."""
    if lib.exists():
        if jars_complete(lib):
            return  # another process finished first
        shutil.rmtree(lib, ignore_errors=True)
    try:
        staging.rename(lib)
    except OSError:
        if not jars_complete(lib):
            raise
