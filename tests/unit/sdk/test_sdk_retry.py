"""Backoff schedule, error classification and the retry loop of the SDK."""

from __future__ import annotations

import asyncio
import random

import pytest
from aiokafka import errors as kerr
from hypothesis import given
from hypothesis import strategies as st

from project_engine.sdk.errors import PermanentKafkaError, RetriesExhausted
from project_engine.sdk.retry import (
    RetryPolicy,
    as_permanent,
    classify,
    is_chunk_specific,
    retry_call,
)


class FakeClock:
    """A monotonic clock advanced only by the fake sleep (and by attempts, if asked)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


def test_ceiling_doubles_from_base_and_stops_at_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    assert [policy.ceiling(a) for a in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


@given(attempt=st.integers(min_value=1, max_value=200), seed=st.integers())
def test_backoff_is_between_zero_and_the_ceiling(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_delay=0.05, max_delay=3.0)
    delay = policy.backoff(attempt, random.Random(seed))
    assert 0.0 <= delay <= policy.ceiling(attempt) <= 3.0


def test_backoff_is_jittered_over_the_whole_range() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=1.0)
    rng = random.Random(7)
    delays = [policy.backoff(3, rng) for _ in range(2000)]
    assert len(set(delays)) > 1900
    assert min(delays) < 0.05
    assert max(delays) > 0.95
    assert 0.45 < sum(delays) / len(delays) < 0.55


def test_policy_rejects_nonsense_values() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(deadline=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


@pytest.mark.parametrize(
    "exc",
    [
        kerr.KafkaConnectionError("down"),
        kerr.RequestTimedOutError(),
        kerr.NotLeaderForPartitionError(),
        kerr.LeaderNotAvailableError(),
        kerr.KafkaTimeoutError(),
        kerr.NodeNotReadyError(),
        kerr.NotEnoughReplicasError(),
        TimeoutError(),
        ConnectionResetError(),
    ],
)
def test_transient_errors_are_classified_transient(exc: BaseException) -> None:
    assert classify(exc) == "transient"


@pytest.mark.parametrize(
    "exc",
    [
        kerr.UnknownTopicOrPartitionError(),
        kerr.TopicAuthorizationFailedError(),
        kerr.SaslAuthenticationFailed(),
        kerr.AuthenticationFailedError(),
        kerr.MessageSizeTooLargeError(),
        kerr.RecordTooLargeError(),
        kerr.InvalidTopicError(),
        ValueError("a bug"),
    ],
)
def test_permanent_errors_are_classified_permanent(exc: BaseException) -> None:
    assert classify(exc) == "permanent"


def test_permanent_messages_say_what_to_fix() -> None:
    missing = str(as_permanent(kerr.UnknownTopicOrPartitionError(), "sending to t"))
    assert "sending to t" in missing and "does not exist" in missing
    auth = str(as_permanent(kerr.SaslAuthenticationFailed(), "connecting"))
    assert "username, password" in auth
    large = str(as_permanent(kerr.MessageSizeTooLargeError(), "chunk c-1"))
    assert "chunk_size" in large


def test_only_size_errors_concern_a_single_chunk() -> None:
    assert is_chunk_specific(kerr.MessageSizeTooLargeError())
    assert is_chunk_specific(as_permanent(kerr.RecordTooLargeError(), "x"))
    assert not is_chunk_specific(as_permanent(kerr.TopicAuthorizationFailedError(), "x"))
    assert not is_chunk_specific(kerr.UnknownTopicOrPartitionError())


async def test_transient_errors_are_retried_until_success() -> None:
    clock = FakeClock()
    calls = 0
    retries: list[int] = []

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise kerr.KafkaConnectionError("down")
        return "ok"

    result = await retry_call(
        flaky,
        RetryPolicy(base_delay=0.1, max_delay=1.0, deadline=None),
        what="x",
        on_retry=lambda attempt, _exc: retries.append(attempt),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
    )
    assert result == "ok"
    assert calls == 3
    assert retries == [1, 2]
    assert len(clock.sleeps) == 2
    assert clock.sleeps[0] <= 0.1 and clock.sleeps[1] <= 0.2


async def test_permanent_error_fails_on_the_first_attempt_without_sleeping() -> None:
    clock = FakeClock()
    calls = 0

    async def missing() -> None:
        nonlocal calls
        calls += 1
        raise kerr.UnknownTopicOrPartitionError()

    with pytest.raises(PermanentKafkaError, match="does not exist") as info:
        await retry_call(missing, RetryPolicy(), what="sending", clock=clock, sleep=clock.sleep)
    assert calls == 1
    assert clock.sleeps == []
    assert isinstance(info.value.__cause__, kerr.UnknownTopicOrPartitionError)


async def test_retries_stop_after_max_attempts() -> None:
    clock = FakeClock()
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise kerr.KafkaConnectionError("down")

    with pytest.raises(RetriesExhausted) as info:
        await retry_call(
            down,
            RetryPolicy(max_attempts=4, deadline=None),
            what="x",
            clock=clock,
            sleep=clock.sleep,
        )
    assert calls == 4
    assert info.value.attempts == 4
    assert isinstance(info.value.last, kerr.KafkaConnectionError)


@given(seed=st.integers(), deadline=st.floats(min_value=0.5, max_value=30.0))
def test_retries_never_sleep_past_the_deadline(seed: int, deadline: float) -> None:
    clock = FakeClock()

    async def down() -> None:
        clock.now += 0.01  # each attempt takes a little time
        raise kerr.RequestTimedOutError()

    policy = RetryPolicy(max_attempts=10_000, base_delay=0.1, max_delay=2.0, deadline=deadline)
    with pytest.raises(RetriesExhausted):
        asyncio.run(
            retry_call(
                down, policy, what="x", clock=clock, sleep=clock.sleep, rng=random.Random(seed)
            )
        )
    assert clock.now < deadline + 0.011


async def test_an_attempt_that_outlives_the_deadline_is_cut_off() -> None:
    async def hangs() -> None:
        await asyncio.sleep(10)

    started = asyncio.get_running_loop().time()
    with pytest.raises(RetriesExhausted):
        await retry_call(hangs, RetryPolicy(deadline=0.2), what="x")
    assert asyncio.get_running_loop().time() - started < 2.0
