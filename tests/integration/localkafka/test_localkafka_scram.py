"""SCRAM-SHA-256 logins on the local broker's SASL_PLAINTEXT listener, for real."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

pytestmark = pytest.mark.integration

ScramKafka = tuple[str, str, str, str]  # (bootstrap, sasl_bootstrap, user, password)


def sasl_options(user: str, password: str) -> dict[str, str]:
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


async def sasl_login(sasl_bootstrap: str, user: str, password: str) -> None:
    """Open one connection and authenticate; raises what the broker answers."""
    host, port = sasl_bootstrap.rsplit(":", 1)
    conn = await create_conn(
        host, int(port), request_timeout_ms=10000, **sasl_options(user, password)
    )
    conn.close()


async def test_scram_user_with_the_right_password_produces_and_consumes_over_sasl(
    scram_kafka: ScramKafka,
) -> None:
    _, sasl_bootstrap, user, password = scram_kafka
    topic = f"scram-{uuid.uuid4().hex[:8]}"
    auth = sasl_options(user, password)
    admin = AIOKafkaAdminClient(bootstrap_servers=sasl_bootstrap, **auth)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=sasl_bootstrap, **auth)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"authenticated", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=sasl_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        **auth,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
    finally:
        await consumer.stop()

    assert (record.key, record.value) == (b"k", b"authenticated")


async def test_right_scram_credentials_authenticate_a_connection(scram_kafka: ScramKafka) -> None:
    _, sasl_bootstrap, user, password = scram_kafka
    await sasl_login(sasl_bootstrap, user, password)


async def test_wrong_scram_password_fails_with_an_authentication_error(
    scram_kafka: ScramKafka,
) -> None:
    _, sasl_bootstrap, user, _password = scram_kafka
    with pytest.raises(SaslAuthenticationFailed, match="invalid credentials"):
        await sasl_login(sasl_bootstrap, user, "not-the-password")


async def test_unknown_scram_user_fails_with_an_authentication_error(
    scram_kafka: ScramKafka,
) -> None:
    _, sasl_bootstrap, _user, password = scram_kafka
    with pytest.raises(SaslAuthenticationFailed):
        await sasl_login(sasl_bootstrap, "mallory", password)


async def test_producer_with_a_wrong_scram_password_cannot_bootstrap(
    scram_kafka: ScramKafka,
) -> None:
    _, sasl_bootstrap, user, _password = scram_kafka
    producer = AIOKafkaProducer(
        bootstrap_servers=sasl_bootstrap,
        **sasl_options(user, "not-the-password"),
    )
    try:
        with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
            await producer.start()
    finally:
        await producer.stop()


async def test_plaintext_client_cannot_use_the_sasl_listener_without_logging_in(
    scram_kafka: ScramKafka,
) -> None:
    _, sasl_bootstrap, _user, _password = scram_kafka
    producer = AIOKafkaProducer(bootstrap_servers=sasl_bootstrap, request_timeout_ms=3000)
    try:
        with pytest.raises(KafkaConnectionError):
            await producer.start()
    finally:
        await producer.stop()
