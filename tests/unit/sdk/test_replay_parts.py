"""Replay's pure parts: the namespace it fills, the worker's settings, when it is done."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from project_engine import worker_process
from project_engine.commands.export import resolve_topic
from project_engine.commands.replay import ReplayOptions, target_settings
from project_engine.sdk.errors import EngineError, EngineTimeout
from project_engine.worker_process import settings_env, wait_until_applied
from schemas.settings import KafkaSecurity, Settings

LIVE = Settings(topic_prefix="live-", app_id="engine", data_dir=Path("/data"))


def test_the_replay_namespace_gets_its_prefix_app_id_partitions_and_data_dir() -> None:
    target = target_settings(LIVE, ReplayOptions(into="replay1-"), partitions=12)
    assert (target.topic_prefix, target.app_id, target.partitions) == (
        "replay1-",
        "engine-replay1",
        12,
    )
    assert target.topics.input == "replay1-graph-input"
    assert target.data_dir == Path("/data/replay-engine-replay1")
    assert target.web_port != LIVE.web_port
    named = target_settings(LIVE, ReplayOptions(into="r2.", app_id="rebuild"), partitions=4)
    assert named.app_id == "rebuild"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ReplayOptions(into="live-"), "must differ from the live topic prefix"),
        (ReplayOptions(into="r1-", app_id="engine"), "must differ from the live app id"),
        (ReplayOptions(into="bad prefix"), "may hold only"),
        (ReplayOptions(into=""), "may hold only"),
    ],
)
def test_replay_refuses_anything_that_would_touch_the_live_namespace(
    options: ReplayOptions, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        target_settings(LIVE, options, partitions=4)


def test_the_worker_environment_rebuilds_the_same_settings_including_credentials() -> None:
    settings = LIVE.replace(
        partitions=7,
        store="rocksdb",
        query_cache_size=0,
        security=KafkaSecurity("SCRAM-SHA-512", "user", "secret"),
    )
    env = settings_env(settings)
    assert env["PROJECT_ENGINE_PASSWORD"] == "secret"
    assert Settings.load({}, env=env) == settings


def test_short_topic_names_get_the_prefix_and_full_names_stay() -> None:
    assert resolve_topic(LIVE, "input") == "live-graph-input"
    assert resolve_topic(LIVE, "dlq") == "live-graph-dlq"
    assert resolve_topic(LIVE, "other-topic") == "other-topic"


def fake_caught_up(monkeypatch: pytest.MonkeyPatch, answers: list[bool]) -> None:
    it = iter(answers)

    async def caught_up(settings: Settings) -> bool:
        return next(it, answers[-1])

    monkeypatch.setattr(worker_process, "_caught_up", caught_up)


async def test_the_wait_ends_when_committed_offsets_reach_the_end_and_two_digests_agree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_caught_up(monkeypatch, [False, True, True, True, True])
    digests = iter([{"digest": "a"}, {"digest": "b"}, {"digest": "b"}])
    calls = itertools.count()

    async def digest() -> dict[str, Any]:
        next(calls)
        return next(digests)

    got = await wait_until_applied(LIVE, digest, timeout=10, interval=0)
    assert got == {"digest": "b"} and next(calls) == 3


async def test_a_dead_worker_or_the_deadline_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_caught_up(monkeypatch, [False])

    async def digest() -> dict[str, Any]:
        raise AssertionError("not asked before the offsets are reached")

    with pytest.raises(EngineError, match="exited"):
        await wait_until_applied(LIVE, digest, timeout=10, alive=lambda: False, interval=0)
    with pytest.raises(EngineTimeout):
        await wait_until_applied(LIVE, digest, timeout=0.05, interval=0.01)
