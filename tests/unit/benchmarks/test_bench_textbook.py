"""The textbook Faust baseline's pure parts: its arguments, keys, messages and expected table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.data import uniform_edge_ops
from benchmarks.harness import bench_settings
from benchmarks.ingest import TEXTBOOK_EDGES, TEXTBOOK_EDGES_QUICK, parse_args
from benchmarks.phases import textbook_label
from benchmarks.textbook_faust import (
    TABLE,
    AppOptions,
    build_app,
    changelog_topic,
    edge_key,
)
from benchmarks.textbook_faust import parse_args as parse_app_args
from benchmarks.textbook_run import TextbookFaustApp, encode_edge, expected_table


def _edge(src: str, dst: str, w: int, type_: str = "E") -> dict[str, object]:
    return {"op": "upsert_edge", "src": src, "dst": dst, "type": type_, "props": {"w": w}}


def test_textbook_edges_default_to_at_most_100k_and_20k_with_quick() -> None:
    full, _, _ = parse_args([])
    quick, _, _ = parse_args(["--quick"])
    assert full.textbook_edges == TEXTBOOK_EDGES == 100_000
    assert quick.textbook_edges == TEXTBOOK_EDGES_QUICK == 20_000


def test_textbook_edges_never_exceed_the_edges() -> None:
    sizes, _, _ = parse_args(["--edges", "5000"])
    assert sizes.textbook_edges == 5000


def test_textbook_edges_can_be_chosen_or_skipped() -> None:
    chosen, _, _ = parse_args(["--edges", "5000", "--textbook-edges", "300"])
    skipped, _, _ = parse_args(["--skip-textbook"])
    assert chosen.textbook_edges == 300
    assert skipped.textbook_edges == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--edges", "5000", "--textbook-edges", "5001"],
        ["--textbook-edges", "0"],
        ["--textbook-edges", "10", "--skip-textbook"],
    ],
)
def test_impossible_textbook_edges_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_textbook_row_label_says_how_many_edges_it_got() -> None:
    assert textbook_label(20_000).endswith("first 20,000 edges")


def test_edge_key_joins_source_type_and_destination_with_nul() -> None:
    assert edge_key(_edge("a", "b", 1)) == "a\x00E\x00b"
    assert edge_key({"src": "a", "dst": "b"}) == "a\x00\x00b"


def test_changelog_topic_is_named_after_the_app_and_table() -> None:
    assert changelog_topic("bench-x-textbook") == f"bench-x-textbook-{TABLE}-changelog"


def test_one_edge_is_one_json_message_keyed_by_the_edge() -> None:
    op = _edge("n1", "n2", 7)
    key, value = encode_edge(op)
    assert key == b"n1\x00E\x00n2"
    assert json.loads(value) == op


def test_expected_table_keeps_the_last_props_of_each_edge() -> None:
    ops = [_edge("a", "b", 1), _edge("a", "c", 2), _edge("a", "b", 3), _edge("a", "b", 4, "F")]
    assert expected_table(ops) == {
        "a\x00E\x00b": {"w": 3},
        "a\x00E\x00c": {"w": 2},
        "a\x00F\x00b": {"w": 4},
    }


def test_expected_table_has_one_entry_per_distinct_edge() -> None:
    ops = uniform_edge_ops(20, 500, seed=3)
    distinct = {(op["src"], op["type"], op["dst"]) for op in ops}
    assert len(expected_table(ops)) == len(distinct) < len(ops)


def test_the_app_process_is_started_with_arguments_the_app_accepts(tmp_path: Path) -> None:
    settings = bench_settings("127.0.0.1:9", tmp_path, 3)
    app = TextbookFaustApp(settings)
    cmd = app.command(tmp_path / "w", 0)
    assert cmd[1:3] == ["-m", "benchmarks.textbook_faust"]
    options = parse_app_args(cmd[3:])
    assert options == AppOptions(
        broker="127.0.0.1:9",
        app_id=app.app_id,
        topic=app.topic,
        partitions=3,
        datadir=tmp_path / "w" / "faust",
        ready_file=app.ready_file,
    )
    assert app.app_id != settings.app_id and app.topic.startswith(settings.topic_prefix)
    assert app.stop() is None  # never started: nothing to stop


def test_app_arguments_refuse_no_partitions(tmp_path: Path) -> None:
    argv = ["--broker", "h:1", "--app-id", "a", "--topic", "t", "--partitions", "0"]
    argv += ["--datadir", str(tmp_path), "--ready-file", str(tmp_path / "r")]
    with pytest.raises(SystemExit):
        parse_app_args(argv)


def test_the_table_is_co_partitioned_with_the_input_topic(tmp_path: Path) -> None:
    options = AppOptions("h:1", "tb-test", "tb-edges", 3, tmp_path, tmp_path / "ready")
    app = build_app(options)
    table = app.tables[TABLE]
    assert table.partitions == 3
    assert table.changelog_topic.get_topic_name() == changelog_topic("tb-test")
    [agent] = app.agents.values()
    assert agent.channel.get_topic_name() == "tb-edges"
    assert agent.channel.partitions == 3
