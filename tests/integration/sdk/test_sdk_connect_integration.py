"""Connecting: bad credentials fail fast, good ones work, an absent broker is retried."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from project_engine.localkafka import free_port
from project_engine.sdk import PermanentKafkaError, RetriesExhausted, RetryPolicy, create_project
from schemas.settings import KafkaSecurity, Settings

pytestmark = pytest.mark.integration


def scram_settings(scram_kafka: Any, password: str) -> Settings:
    return Settings(
        bootstrap=scram_kafka.sasl_bootstrap,
        topic_prefix=f"s{uuid.uuid4().hex[:10]}-",
        security=KafkaSecurity(
            sasl_mechanism="SCRAM-SHA-256", username=scram_kafka.user, password=password
        ),
    )


async def test_wrong_password_fails_fast_with_a_clear_message(scram_kafka: Any) -> None:
    settings = scram_settings(scram_kafka, "not-the-password")
    started = time.monotonic()
    with pytest.raises(PermanentKafkaError) as info:
        await create_project(settings, retry=RetryPolicy(deadline=60))
    assert time.monotonic() - started < 15, "bad credentials must not be retried"
    assert "authentication failed" in str(info.value)
    assert "not-the-password" not in str(info.value)


async def test_right_password_connects_and_publishes(scram_kafka: Any) -> None:
    settings = scram_settings(scram_kafka, scram_kafka.password)
    admin = AIOKafkaAdminClient(bootstrap_servers=scram_kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topics.input, 2, 1)])
    finally:
        await admin.close()
    async with await create_project(settings) as engine:
        summary = await engine.add_graph([{"op": "delete_node", "id": "a"}])
    assert summary.ok and engine.metrics.chunks_sent == 1


async def test_unreachable_broker_is_retried_until_the_deadline() -> None:
    settings = Settings(bootstrap=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        await create_project(settings, retry=RetryPolicy(base_delay=0.05, deadline=2.0))
    elapsed = time.monotonic() - started
    assert 0.05 < elapsed < 10
    assert info.value.attempts > 1
    assert "connecting to 127.0.0.1:" in str(info.value)
