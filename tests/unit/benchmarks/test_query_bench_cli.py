"""The query benchmark's command line: sizes, defaults of --quick, checks of the values."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.queries import parse_args


def test_defaults_are_the_full_run() -> None:
    plan, json_out, quick = parse_args([])
    assert (plan.edges, plan.nodes, plan.queries) == (1_000_000, 100_000, 1000)
    assert plan.partitions == 4
    assert plan.concurrency == (32, 128)
    assert plan.load_seconds == 10.0
    assert not plan.with_ingest
    assert plan.ingest_edges == 1_000_000
    assert plan.ingest_slice == 64
    assert json_out == Path("bench-results/queries.json")
    assert not quick


def test_quick_is_smaller_with_the_same_average_degree() -> None:
    plan, _, quick = parse_args(["--quick", "--with-ingest"])
    assert quick
    assert (plan.edges, plan.nodes, plan.queries) == (100_000, 10_000, 200)
    assert plan.with_ingest
    assert plan.load_seconds == 5.0
    assert plan.time_limit == 600.0


def test_explicit_values_win() -> None:
    plan, json_out, _ = parse_args(
        ["--quick", "--edges", "5000", "--nodes", "70", "--concurrency", "4,8,16",
         "--seconds", "2", "--rate", "20", "--json-out", "x.json"]
    )  # fmt: skip
    assert (plan.edges, plan.nodes) == (5000, 70)
    assert plan.concurrency == (4, 8, 16)
    assert (plan.load_seconds, plan.rate) == (2.0, 20.0)
    assert json_out == Path("x.json")


@pytest.mark.parametrize(
    "argv",
    [
        ["--edges", "0"],
        ["--concurrency", "8,0"],
        ["--concurrency", "many"],
        ["--queries", "10001"],  # more than the worker's result cache holds
        ["--rate", "0"],
        ["--chunk-size", "20000"],
        ["--ingest-slice", "0"],
    ],
)
def test_bad_values_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
