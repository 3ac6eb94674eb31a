"""The exceptions the SDK raises or records, all derived from :class:`EngineError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from project_engine.sdk.summary import AddGraphSummary

__all__ = [
    "AckTimeout",
    "ChunkRejected",
    "ChunkSkipped",
    "EngineClosed",
    "EngineError",
    "EngineTimeout",
    "PermanentKafkaError",
    "QueryError",
    "RetriesExhausted",
    "TopicNotFound",
]


RETRYABLE_QUERY_CODES = frozenset({"unavailable", "timeout"})


class EngineError(Exception):
    """Base class of every error the SDK raises or reports in a summary."""


class EngineClosed(EngineError):
    """The engine was closed; no more sends or queries are accepted."""


class EngineTimeout(EngineError, TimeoutError):
    """A wait (for worker acks or a query result) ran out of time."""


class AckTimeout(EngineTimeout):
    """Worker acks did not complete in time; ``summary`` and ``pending`` tell what is known."""

    def __init__(self, timeout: float, pending: list[str], summary: AddGraphSummary) -> None:
        shown = ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else "")
        super().__init__(
            f"{len(pending)} of {summary.chunks} chunks not acknowledged as applied within "
            f"{timeout}s: {shown}"
        )
        self.pending = pending
        self.summary = summary


class PermanentKafkaError(EngineError):
    """Kafka refused the request for a reason retrying cannot fix (auth, size, missing topic)."""


class TopicNotFound(PermanentKafkaError):
    """A topic the SDK needs does not exist (topic auto-creation is off)."""

    def __init__(self, topic: str, bootstrap: str) -> None:
        super().__init__(
            f"topic {topic!r} does not exist on {bootstrap}; create the engine topics first "
            "(topic auto-creation is off)"
        )
        self.topic = topic


class RetriesExhausted(EngineError):
    """A transient failure persisted through every attempt the retry policy allows."""

    def __init__(self, what: str, attempts: int, last: BaseException) -> None:
        super().__init__(f"{what} failed after {attempts} attempt(s): {last!r}")
        self.attempts = attempts
        self.last = last


class QueryError(EngineError):
    """The engine answered a query with an error."""

    def __init__(self, code: str, message: str, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> QueryError:
        """The error an ``error`` (or malformed) reply stands for.

        ``retryable`` comes from the reply; when absent, the codes ``unavailable`` and
        ``timeout`` count as retryable.
        """
        error = reply.get("error")
        if reply.get("status") != "error" or not isinstance(error, Mapping):
            return cls("bad_reply", f"unexpected reply: {dict(reply)!r:.300}", False)
        code = str(error.get("code", "unknown"))
        retryable = error.get("retryable")
        if not isinstance(retryable, bool):
            retryable = code in RETRYABLE_QUERY_CODES
        return cls(code, str(error.get("message", "")), retryable)


class ChunkRejected(EngineError):
    """A worker rejected a whole chunk; recorded in ``AddGraphSummary.failed``."""

    def __init__(self, chunk_id: str, code: str, message: str, item_index: int | None) -> None:
        where = f" (item {item_index})" if item_index is not None else ""
        super().__init__(f"chunk {chunk_id} rejected: {code}: {message}{where}")
        self.chunk_id = chunk_id
        self.code = code
        self.message = message
        self.item_index = item_index


class ChunkSkipped(EngineError):
    """A chunk was not sent because an earlier chunk of the call could not be delivered.

    Any failure stops an ordered call; in an unordered call only running out of retries
    does (the cluster is unhealthy), not a single oversized chunk.
    """

    def __init__(self, chunk_id: str, cause_chunk_id: str) -> None:
        super().__init__(f"chunk {chunk_id} not sent: earlier chunk {cause_chunk_id} failed")
        self.chunk_id = chunk_id
        self.cause_chunk_id = cause_chunk_id
