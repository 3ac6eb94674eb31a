"""The scan benchmark: every scan both ways with the same answers, the digest's hashing both
ways with the same digest, and a way that answers differently stops the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import scans
from benchmarks.paths import build_graphs
from pipeline.digest import merge_digests, partition_digest


def test_tiny_run_times_every_scan_both_ways_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "scans.json"
    argv = ["--edges", "4000", "--nodes", "400", "--scan-slice", "64", "--repeats", "2"]
    assert scans.main([*argv, "--json-out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["graph"]["nodes"] == 400 and 3_900 < doc["graph"]["edges"] <= 4_000
    assert set(doc["scans"]) == set(scans.SCANS)
    for got in doc["scans"].values():
        assert got["one go"]["steps"] == 1
        assert got["steps"]["steps"] > 4  # a partition of ~1,000 items takes several steps
        assert got["steps"]["longest_hold_ms"] <= got["steps"]["total_ms"]
        assert got["hold_ratio"] > 0 and got["total_ratio"] > 0
    assert doc["digest_hashing_ratio"] > 0


def test_the_plain_value_digest_equals_the_engines() -> None:
    graphs = build_graphs(3_000, 300, 3, seed=5)
    assert scans.plain_digest(graphs) == merge_digests(partition_digest(g) for g in graphs.values())


def test_ways_that_disagree_stop_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(graphs: object) -> dict[str, object]:
        return {"digest": "0" * 16, "nodes": 0, "edges": 0}

    monkeypatch.setattr(scans, "plain_digest", wrong)
    args = scans.parse_args(["--edges", "2000", "--nodes", "200", "--repeats", "1"])
    with pytest.raises(AssertionError, match="the digests differ"):
        scans.run_benchmark(args)


def test_a_step_size_below_one_is_refused() -> None:
    with pytest.raises(SystemExit):
        scans.parse_args(["--scan-slice", "0"])
