"""Which query-topic partitions the lane reads, and when a query counts as stale."""

from __future__ import annotations

from aiokafka import TopicPartition

from agents.query import _expired
from agents.query_lane import lane_assignment


def test_lane_reads_every_query_topic_at_exactly_the_held_graph_partitions() -> None:
    got = lane_assignment(["q", "exec"], {2, 0})
    assert got == {
        TopicPartition("q", 0),
        TopicPartition("q", 2),
        TopicPartition("exec", 0),
        TopicPartition("exec", 2),
    }


def test_lane_reads_nothing_while_no_graph_partition_is_held() -> None:
    assert lane_assignment(["q", "exec", "partials"], set()) == set()


def test_query_sent_longer_ago_than_its_timeout_is_stale() -> None:
    now = 1_000_000.0
    assert _expired(int((now - 6) * 1000), 5_000, now)


def test_query_within_its_timeout_is_not_stale() -> None:
    now = 1_000_000.0
    assert not _expired(int((now - 4) * 1000), 5_000, now)


def test_query_without_a_timestamp_is_never_stale() -> None:
    assert not _expired(None, 1, 1_000_000.0)
    assert not _expired(-1, 1, 1_000_000.0)
