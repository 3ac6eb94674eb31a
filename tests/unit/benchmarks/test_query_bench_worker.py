"""Reading the worker's query-time histogram from its Prometheus page."""

from __future__ import annotations

import pytest

from benchmarks.query_worker import mean_seconds, parse_query_times

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
