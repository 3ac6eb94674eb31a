"""The worker's own query time (its Prometheus page), and round trips split where the worker
sent the answer (times given, no broker)."""

from __future__ import annotations

import pytest

from benchmarks.query_worker import mean_seconds, parse_query_times, split_round_trips

PAGE = """\
# HELP engine_query_seconds Time from accepting a query to sending its answer, per query type
# TYPE engine_query_seconds histogram
engine_query_seconds_bucket{le="0.001",type="node"} 3.0
engine_query_seconds_count{type="node"} 4.0
engine_query_seconds_sum{type="node"} 0.004
engine_query_seconds_count{type="khop"} 2.0
engine_query_seconds_sum{type="khop"} 0.05
engine_query_seconds_created{type="khop"} 1.7e+09
engine_chunk_part_apply_seconds_sum 12.5
"""


def test_parse_reads_sum_and_count_per_type() -> None:
    assert parse_query_times(PAGE) == {"khop": (0.05, 2.0), "node": (0.004, 4.0)}
    assert parse_query_times("") == {}


def test_mean_is_the_difference_between_two_scrapes() -> None:
    before = parse_query_times(PAGE)
    after = {"node": (0.010, 7.0), "khop": (0.05, 2.0)}
    assert mean_seconds(before, after, "node") == pytest.approx(0.002)
    assert mean_seconds(before, after, "khop") is None  # none between the scrapes
    assert mean_seconds({}, after, "node") == pytest.approx(0.010 / 7)


def test_split_measures_both_parts_of_matched_round_trips() -> None:
    marks = {
        "a": (100.000, 100.010),  # sent, answered
        "b": (200.000, 200.050),
        "lost": (300.0, 300.1),  # its answer record was not seen
    }
    created = {"a": 100.004, "b": 200.045, "other": 5.0}
    out = split_round_trips(marks, created)
    assert out["matched"] == 2
    assert out["to_answer"]["count"] == 2
    assert out["to_answer"]["min_ms"] == pytest.approx(4.0)
    assert out["to_answer"]["max_ms"] == pytest.approx(45.0)
    assert out["answer_to_client"]["min_ms"] == pytest.approx(5.0)
    assert out["answer_to_client"]["max_ms"] == pytest.approx(6.0)


def test_clock_rounding_never_gives_negative_parts() -> None:
    out = split_round_trips({"a": (10.0005, 10.0030)}, {"a": 10.000})  # ms-rounded record time
    assert out["to_answer"]["max_ms"] == 0.0
    assert out["answer_to_client"]["max_ms"] == pytest.approx(3.0)


def test_nothing_matched_gives_no_summaries() -> None:
    assert split_round_trips({"a": (1.0, 2.0)}, {}) == {
        "matched": 0,
        "to_answer": None,
        "answer_to_client": None,
    }
