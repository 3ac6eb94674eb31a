"""Retrying Kafka calls: the backoff policy, error classification and the retry loop.

Backoff is exponential with full jitter (a uniform draw between 0 and the capped
exponential ceiling). A call is retried only while the error is transient, the attempt
count is below ``max_attempts`` and the next attempt would start before the total
``deadline``. Permanent errors (missing topic, authorization, oversized messages) are
raised at once as :class:`PermanentKafkaError` with a message saying what to fix.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import structlog
from aiokafka import errors as kerr

from project_engine.sdk.errors import EngineError, PermanentKafkaError, RetriesExhausted

__all__ = [
    "RetryPolicy",
    "as_permanent",
    "classify",
    "is_chunk_specific",
    "retry_call",
]

log = structlog.get_logger(__name__)
T = TypeVar("T")
ErrorKind = Literal["transient", "permanent"]

_TRANSIENT: tuple[type[BaseException], ...] = (
    kerr.KafkaConnectionError,
    kerr.RequestTimedOutError,
    kerr.NotLeaderForPartitionError,
    kerr.LeaderNotAvailableError,
    kerr.KafkaTimeoutError,
    kerr.NodeNotReadyError,
    kerr.NoBrokersAvailable,
    kerr.NotEnoughReplicasError,
    kerr.NotEnoughReplicasAfterAppendError,
    kerr.StaleMetadata,
    kerr.NotControllerError,
    kerr.CoordinatorNotAvailableError,
    kerr.KafkaUnavailableError,
    TimeoutError,
    ConnectionError,
)

_AUTH: tuple[type[BaseException], ...] = (
    kerr.SaslAuthenticationFailed,
    kerr.AuthenticationFailedError,
    kerr.UnsupportedSaslMechanismError,
    kerr.IllegalSaslStateError,
)
_AUTHZ: tuple[type[BaseException], ...] = (
    kerr.TopicAuthorizationFailedError,
    kerr.ClusterAuthorizationFailedError,
    kerr.GroupAuthorizationFailedError,
    kerr.TransactionalIdAuthorizationFailed,
)
_TOO_LARGE: tuple[type[BaseException], ...] = (
    kerr.MessageSizeTooLargeError,
    kerr.RecordTooLargeError,
    kerr.RecordListTooLargeError,
)
_PERMANENT: tuple[type[BaseException], ...] = (
    kerr.UnknownTopicOrPartitionError,
    kerr.InvalidTopicError,
    kerr.CorruptRecordException,
    kerr.UnsupportedVersionError,
    kerr.ProducerClosed,
    *_AUTH,
    *_AUTHZ,
    *_TOO_LARGE,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure.

    ``max_attempts`` counts the first try; ``deadline`` (seconds, ``None`` for none) bounds
    the whole call including backoff sleeps; delays are drawn uniformly from
    ``[0, min(max_delay, base_delay * 2 ** (attempt - 1))]``.
    """

    max_attempts: int = 8
    base_delay: float = 0.1
    max_delay: float = 5.0
    deadline: float | None = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError(f"deadline must be positive, got {self.deadline}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt number ``attempt`` (1-based)."""
        exponent = min(max(attempt - 1, 0), 62)
        return float(min(self.max_delay, self.base_delay * (2**exponent)))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """A full-jitter delay after failed attempt number ``attempt``."""
        draw = (rng or random).uniform(0.0, 1.0)
        return draw * self.ceiling(attempt)


def classify(exc: BaseException) -> ErrorKind:
    """Whether retrying ``exc`` may help (``transient``) or cannot (``permanent``)."""
    if isinstance(exc, PermanentKafkaError):
        return "permanent"
    if isinstance(exc, _PERMANENT):
        return "permanent"
    if isinstance(exc, _TRANSIENT):
        return "transient"
    if isinstance(exc, kerr.KafkaError):
        return "transient" if getattr(exc, "retriable", False) else "permanent"
    return "permanent"


def is_chunk_specific(exc: BaseException) -> bool:
    """Whether a permanent error concerns one message only (too large), not the whole call."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _TOO_LARGE):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


def as_permanent(exc: BaseException, what: str) -> EngineError:
    """Wrap a permanent Kafka error in a :class:`PermanentKafkaError` saying what to fix."""
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, kerr.UnknownTopicOrPartitionError):
        hint = "the topic or partition does not exist (topic auto-creation is off)"
    elif isinstance(exc, _AUTH):
        hint = "authentication failed: check the username, password and SASL mechanism"
    elif isinstance(exc, _AUTHZ):
        hint = "not authorized: the Kafka user lacks an ACL for this topic or operation"
    elif isinstance(exc, _TOO_LARGE):
        hint = "message too large: lower chunk_size or raise max_message_bytes"
    else:
        hint = "Kafka refused the request"
    err = PermanentKafkaError(f"{what}: {hint} ({type(exc).__name__}: {exc})")
    err.__cause__ = exc
    return err


async def retry_call(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    on_retry: Callable[[int, BaseException], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn`` until it succeeds, a permanent error occurs or the policy gives up.

    Raises :class:`PermanentKafkaError` for permanent errors and
    :class:`RetriesExhausted` (chaining the last error) when attempts or time run out.
    Each attempt is itself cut off when the deadline passes.
    """
    started = clock()
    end = None if policy.deadline is None else started + policy.deadline
    attempt = 0
    while True:
        attempt += 1
        try:
            if end is None:
                return await fn()
            remaining = end - clock()
            if remaining <= 0:
                raise TimeoutError(f"deadline of {policy.deadline}s passed")
            async with asyncio.timeout(remaining):
                return await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if classify(exc) == "permanent":
                raise as_permanent(exc, what) from exc
            delay = policy.backoff(attempt, rng)
            out_of_time = end is not None and clock() + delay >= end
            if attempt >= policy.max_attempts or out_of_time:
                raise RetriesExhausted(what, attempt, exc) from exc
            log.warning(
                "retrying after transient error",
                what=what,
                attempt=attempt,
                delay=round(delay, 3),
                error=repr(exc),
            )
            if on_retry is not None:
                on_retry(attempt, exc)
            await sleep(delay)
