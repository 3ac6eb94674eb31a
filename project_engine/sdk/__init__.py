"""The Python SDK of the graph engine: publish graph ops and run queries over Kafka.

Typical use::

    async with await create_project(bootstrap="127.0.0.1:9092") as engine:
        summary = await engine.add_graph(ops, wait=True)
        result = await engine.query({"type": "neighbors", "id": "a"})
        async with await engine.create_stream(("results", "errors")) as stream:
            async for item in stream:
                print(item.kind, item.value)
"""

from project_engine.sdk.engine import Engine, create_project
from project_engine.sdk.errors import (
    AckTimeout,
    ChunkRejected,
    ChunkSkipped,
    EngineClosed,
    EngineError,
    EngineTimeout,
    PermanentKafkaError,
    QueryError,
    RetriesExhausted,
    TopicNotFound,
)
from project_engine.sdk.retry import RetryPolicy
from project_engine.sdk.stream import Stream, open_stream
from project_engine.sdk.stream_items import StreamItem
from project_engine.sdk.summary import AddGraphSummary, EngineMetrics

__all__ = [
    "AckTimeout",
    "AddGraphSummary",
    "ChunkRejected",
    "ChunkSkipped",
    "Engine",
    "EngineClosed",
    "EngineError",
    "EngineMetrics",
    "EngineTimeout",
    "PermanentKafkaError",
    "QueryError",
    "RetriesExhausted",
    "RetryPolicy",
    "Stream",
    "StreamItem",
    "TopicNotFound",
    "create_project",
    "open_stream",
]
