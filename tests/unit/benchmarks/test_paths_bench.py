"""The path benchmark: both plans over the same seeded queries, outcomes counted, answers
compared, and a plan that answers differently stops the run."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from benchmarks import paths
from benchmarks.path_baseline import OneEndedShortestPath
from pipeline.queries import Done, QueryRun, run_locally
from pipeline.queries.protocol import PlanStep
from pipeline.queries.run import PLANS
from tests.unit.pipeline.test_query_answers import GRAPHS, engine, sample_ids


def test_tiny_run_counts_every_query_for_both_plans_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "paths.json"
    argv = ["--edges", "4000", "--nodes", "400", "--queries", "40", "--json-out", str(out)]
    assert paths.main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["graph"]["nodes"] == 400 and 3_900 < doc["graph"]["edges"] <= 4_000
    for plan in ("engine", "one-ended"):
        assert sum(doc["outcomes"][plan].values()) == 40
        assert doc["latency"][plan]["count"] == 40
    assert doc["outcomes"]["engine"].get("path", 0) >= 30
    assert doc["both_answered_same"] == 40  # nothing near the limits on a graph this small
    assert doc["ratios"]["p50"] > 0


class WrongPath(OneEndedShortestPath):
    """A baseline that answers a path no search found."""

    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        return Done({"path": [self.src, "elsewhere", self.dst]})


def test_plans_that_disagree_stop_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(paths.PLAN_SETS, "one-ended", {**PLANS, "shortest_path": WrongPath})
    args = paths.parse_args(["--edges", "2000", "--nodes", "200", "--queries", "5"])
    with pytest.raises(AssertionError, match="the plans disagree"):
        paths.run_benchmark(args)


def test_the_one_ended_baseline_answers_as_the_engine_on_the_test_graphs() -> None:
    kind, seed, nodes = GRAPHS[1]
    graphs, rng = engine(kind, seed, nodes, 4), random.Random(3)
    baseline = paths.PLAN_SETS["one-ended"]
    for src, dst in zip(sample_ids(rng, nodes, 60), sample_ids(rng, nodes, 60), strict=True):
        for direction in ("out", "in", "both"):
            args = {"src": src, "dst": dst, "max_depth": 6, "direction": direction}
            ours = run_locally(QueryRun("shortest_path", args, 4), graphs)
            theirs = run_locally(QueryRun("shortest_path", args, 4, None, baseline), graphs)
            assert isinstance(ours, Done) and ours == theirs, (src, dst, direction)


def test_quick_and_positive_sizes() -> None:
    quick = paths.parse_args(["--quick"])
    assert (quick.edges, quick.nodes, quick.queries) == (100_000, 10_000, 100)
    assert quick.json_out == Path("bench-results/paths-quick.json")
    with pytest.raises(SystemExit):
        paths.parse_args(["--queries", "0"])
