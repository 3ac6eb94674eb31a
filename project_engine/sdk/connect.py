"""Starting the SDK's producer, and telling bad credentials apart from an unreachable broker.

aiokafka reports every failed bootstrap as ``KafkaConnectionError`` (the real cause, such
as ``SaslAuthenticationFailed``, is only logged), which would make wrong credentials look
transient. When bootstrapping fails, one direct connection attempt per bootstrap server
recovers the real error so permanent ones fail fast.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.sdk.retry import RetryPolicy, classify, retry_call
from schemas.settings import Settings

__all__ = ["bootstrap_failure_cause", "start_producer"]

log = structlog.get_logger(__name__)


async def bootstrap_failure_cause(settings: Settings) -> BaseException | None:
    """The permanent error a direct connection to a bootstrap server ends with, if any."""
    kwargs = aiokafka_kwargs(settings)
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        try:
            conn = await create_conn(
                host.strip("[]"),
                int(port),
                client_id="project-engine-probe",
                request_timeout_ms=10_000,
                ssl_context=kwargs.get("ssl_context"),
                security_protocol=kwargs["security_protocol"],
                sasl_mechanism=kwargs.get("sasl_mechanism"),
                sasl_plain_username=kwargs.get("sasl_plain_username"),
                sasl_plain_password=kwargs.get("sasl_plain_password"),
            )
        except KafkaError as exc:
            error: BaseException = exc
            if classify(error) == "permanent":
                return error
        except (OSError, TimeoutError):
            continue
        else:
            conn.close()
    return None


async def start_producer(
    settings: Settings, *, client_id: str, retry: RetryPolicy, **options: Any
) -> Any:
    """A started idempotent producer (``acks="all"``), retrying transient failures."""

    async def start() -> Any:
        producer = AIOKafkaProducer(
            **aiokafka_kwargs(settings),
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            **options,
        )
        try:
            await producer.start()
        except KafkaConnectionError as exc:
            await producer.stop()
            cause = await bootstrap_failure_cause(settings)
            if cause is not None:
                raise cause from exc
            raise
        except BaseException:
            await producer.stop()
            raise
        return producer

    return await retry_call(start, retry, what=f"connecting to {settings.bootstrap}")
