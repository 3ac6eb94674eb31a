"""Creating the engine's topics with the configured partition count before anything uses them.

The broker may not create topics on demand (the local one never does), so the worker, the
SDK and the tests call :func:`ensure_topics` first. Existing topics are left as they are;
a topic that exists with another partition count is reported, since co-partitioning of the
apply topic and the table's changelog depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from project_engine.kafka_config import aiokafka_kwargs
from schemas.settings import Settings

__all__ = ["TopicMismatch", "ensure_topics", "topic_partition_counts"]

COMPACTED = {"cleanup.policy": "compact"}


class TopicMismatch(RuntimeError):
    """A topic exists with a partition count other than the configured one."""


async def topic_partition_counts(settings: Settings, names: Iterable[str]) -> dict[str, int]:
    """Partition count of each named topic that exists."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        wanted = list(names)
        described = await admin.describe_topics(wanted)
        return {
            d["topic"]: len(d["partitions"])
            for d in described
            if d.get("error_code", 0) == 0 and d["partitions"]
        }
    finally:
        await admin.close()


async def ensure_topics(settings: Settings, *, extra: Iterable[str] = ()) -> dict[str, int]:
    """Create every engine topic (and ``extra``) that is missing; return partition counts."""
    names = [*settings.topics.all(), *extra]
    changelog = f"{settings.app_id}-graph-changelog"
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in [*names, changelog] if n not in existing]
        if missing:
            new = [
                NewTopic(
                    name=n,
                    num_partitions=settings.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=COMPACTED if n == changelog else {},
                )
                for n in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()
    for _ in range(50):  # creation is asynchronous on the broker side
        counts = await topic_partition_counts(settings, [*names, changelog])
        if len(counts) == len(set(names) | {changelog}):
            break
        await asyncio.sleep(0.1)
    internal = [settings.topics.apply, settings.topics.query_exec, changelog]
    wrong = {
        n: counts[n] for n in internal if counts.get(n, settings.partitions) != settings.partitions
    }
    if wrong:
        raise TopicMismatch(
            f"topics {sorted(wrong)} have {sorted(set(wrong.values()))} partitions, "
            f"the engine is configured for {settings.partitions}: use a new topic prefix "
            "or app id, or set partitions to match"
        )
    return counts
