"""Reading ops from JSON lines and SNAP-style edge lists, with bad lines reported."""

from __future__ import annotations

from collections.abc import Iterator

from project_engine.sdk.sources import (
    BadLine,
    parse_edgelist_line,
    read_edgelist,
    read_jsonl,
)

SNAP = """\
# Directed graph (each unordered pair of nodes is saved once): CA-GrQc.txt
# Nodes: 5242 Edges: 28980
# FromNodeId\tToNodeId
3466\t937

3466 5233
  10   20   1.5
lonely
# trailing comment
"""


def test_edgelist_skips_comments_and_blank_lines_and_reports_short_lines() -> None:
    bad: list[BadLine] = []
    ops = list(read_edgelist(SNAP.splitlines(keepends=True), bad.append, edge_type="co"))
    assert ops == [
        {"op": "upsert_edge", "src": "3466", "dst": "937", "type": "co", "props": {}},
        {"op": "upsert_edge", "src": "3466", "dst": "5233", "type": "co", "props": {}},
        {"op": "upsert_edge", "src": "10", "dst": "20", "type": "co", "props": {}},
    ]
    assert [b.line_no for b in bad] == [8]
    assert "src dst" in bad[0].reason
    assert str(bad[0]).startswith("line 8: ")


def test_edgelist_edge_type_defaults_to_empty() -> None:
    assert parse_edgelist_line("a b") == {
        "op": "upsert_edge",
        "src": "a",
        "dst": "b",
        "type": "",
        "props": {},
    }
    assert parse_edgelist_line("   # comment") is None
    assert parse_edgelist_line("\n") is None


def test_jsonl_reports_non_json_and_non_map_lines_with_line_numbers() -> None:
    lines = [
        '{"op": "upsert_node", "id": "a"}\n',
        "\n",
        "not json\n",
        "[1, 2]\n",
        '{"id": "no op"}\n',
        '{"op": "delete_node", "id": "a"}\n',
    ]
    bad: list[BadLine] = []
    ops = list(read_jsonl(lines, bad.append))
    assert ops == [{"op": "upsert_node", "id": "a"}, {"op": "delete_node", "id": "a"}]
    assert [(b.line_no, b.reason.split(" ")[0:2]) for b in bad] == [
        (3, ["not", "JSON"]),
        (4, ["not", "a"]),
        (5, ["map", "has"]),
    ]


def test_byte_lines_that_are_not_utf8_are_bad_lines() -> None:
    bad: list[BadLine] = []
    ops = list(read_edgelist([b"a b\n", b"\xff\xfe x\n", b"c d\n"], bad.append))
    assert [(o["src"], o["dst"]) for o in ops] == [("a", "b"), ("c", "d")]
    assert [b.line_no for b in bad] == [2]
    assert "UTF-8" in bad[0].reason


def test_readers_are_lazy() -> None:
    consumed: list[int] = []

    def lines() -> Iterator[str]:
        for i in range(1000):
            consumed.append(i)
            yield f"{i} {i + 1}\n"

    it = read_edgelist(lines(), lambda _b: None)
    next(it)
    assert consumed == [0]
