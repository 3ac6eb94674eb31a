"""The suite runner's commands and the one table of targets judged from each benchmark's JSON."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.__main__ import command, parse_args
from benchmarks.suite_targets import format_rows, ingest_rows, judged, query_rows, state_rows


def test_quick_suite_passes_quick_and_its_own_json_file_to_each_benchmark() -> None:
    cmd = command("queries", Path("out"), quick=True)
    assert cmd[:3] == [sys.executable, "-m", "benchmarks.queries"]
    assert "--with-ingest" in cmd and "--quick" in cmd
    assert cmd[-2:] == ["--json-out", str(Path("out") / "queries-quick.json")]
    assert "--quick" not in command("state", Path("out"), quick=False)


def test_only_limits_the_benchmarks_run() -> None:
    assert parse_args(["--only", "state"]).only == ["state"]
    assert parse_args([]).only is None


def test_ratio_targets_are_judged_in_the_right_direction() -> None:
    assert judged("a", "m", 0.6, 0.5, at_most=False).verdict == "met"
    assert judged("a", "m", 0.4, 0.5, at_most=False).verdict == "MISSED"
    assert judged("a", "m", 1.6, 1.5, at_most=True).verdict == "MISSED"
    assert judged("a", "m", None, 1.5, at_most=True).verdict == "n/a"


def test_ingest_and_query_targets_read_the_ratios_the_benchmarks_write() -> None:
    ingest = ingest_rows({"ratios": {"engine_vs_transport": 0.04, "engine_vs_textbook": 25.0}})
    verdicts = {r.measurement: r.verdict for r in ingest}
    assert verdicts["engine / transport limit"] == "MISSED"
    assert verdicts["engine / textbook Faust"] == "met"
    khop2 = {"cold_p50_vs_cached_p50": 1.2, "cold_p50_vs_client_cached_p50": 150.0}
    queries = {r.measurement: r.verdict for r in query_rows({"ratios": {"khop2": khop2}})}
    assert queries["2-hop p50, cold / worker-cached (exact)"] == "MISSED"
    assert queries["2-hop p50, cold / SDK-cached (cache_ttl)"] == "met"


def test_missing_benchmark_leaves_every_target_not_available() -> None:
    rows = ingest_rows(None) + query_rows(None) + state_rows(None)
    assert rows and all(r.verdict == "n/a" for r in rows if r.area != "state")


def test_state_rows_keep_the_state_benchmarks_own_verdicts() -> None:
    doc = {
        "rows": [
            {"measurement": "RSS per edge", "figure": "250 B", "target": "<= 300 B",
             "verdict": "met"},
            {"measurement": "edges", "figure": "1,000", "target": "", "verdict": ""},
        ]
    }  # fmt: skip
    rows = state_rows(doc)
    assert [(r.measurement, r.verdict) for r in rows] == [("RSS per edge", "met")]
    assert "RSS per edge" in format_rows(rows)
