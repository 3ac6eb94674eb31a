"""Fixtures of the reliability suite: a broker for the session, fresh settings per test.

The suite runs short by default; ``PROJECT_ENGINE_RELIABILITY=long`` scales every scenario
up (see :func:`tests.support.faults.scale`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.settings import Settings
from tests.integration.conftest import kafka_bootstrap  # noqa: F401  (the session broker)
from tests.support.faults import REPORTED, scale
from tests.support.workers import unique_settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability: faults, overload and hostile input against real workers and a real broker",
    )


@pytest.fixture
def size() -> str:
    """``short`` (default) or ``long``, read from the environment at test time."""
    return scale()


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:  # noqa: F811
    return unique_settings(kafka_bootstrap, tmp_path, partitions=4)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What each scenario survived, shown even when every test passed."""
    if REPORTED:
        terminalreporter.section("reliability figures")
        for line in REPORTED:
            terminalreporter.write_line(line)
