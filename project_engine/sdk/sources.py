"""Reading ops from text: JSON lines (one op map per line) and SNAP-style edge lists.

Both readers take text or byte lines (bytes must be UTF-8), yield wire-form op maps lazily
and report each bad line through a callback with its 1-based line number instead of
raising, so one bad line does not stop a load.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["BadLine", "parse_edgelist_line", "parse_json_line", "read_edgelist", "read_jsonl"]


@dataclass(frozen=True)
class BadLine:
    """A line that was not turned into an op, and why."""

    line_no: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason}"


OnBad = Callable[[BadLine], None]


def parse_json_line(line: str) -> dict[str, Any] | str | None:
    """An op map, ``None`` for a blank line, or a string saying why the line is bad."""
    text = line.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not JSON ({exc})"
    if not isinstance(value, dict):
        return f"not a map (got {type(value).__name__})"
    if not isinstance(value.get("op"), str):
        return "map has no string 'op' field"
    return value


def parse_edgelist_line(line: str, edge_type: str = "") -> dict[str, Any] | str | None:
    """An ``upsert_edge`` op, ``None`` for a blank or ``#`` comment line, or why it is bad.

    A line holds a source and a target id separated by whitespace; more columns (such as
    weights or timestamps in SNAP files) are ignored.
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split()
    if len(fields) < 2:
        return f"expected 'src dst', got {text[:80]!r}"
    return {"op": "upsert_edge", "src": fields[0], "dst": fields[1], "type": edge_type, "props": {}}


def _read(
    lines: Iterable[str | bytes],
    parse: Callable[[str], dict[str, Any] | str | None],
    on_bad: OnBad,
) -> Iterator[dict[str, Any]]:
    for line_no, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                on_bad(BadLine(line_no, f"not valid UTF-8 (byte {exc.start})"))
                continue
        result = parse(line)
        if result is None:
            continue
        if isinstance(result, str):
            on_bad(BadLine(line_no, result))
            continue
        yield result


def read_jsonl(lines: Iterable[str | bytes], on_bad: OnBad) -> Iterator[dict[str, Any]]:
    """Op maps from JSON lines; blank lines are skipped, bad ones reported."""
    return _read(lines, parse_json_line, on_bad)


def read_edgelist(
    lines: Iterable[str | bytes], on_bad: OnBad, *, edge_type: str = ""
) -> Iterator[dict[str, Any]]:
    """``upsert_edge`` ops from ``src dst`` lines; comments and blank lines are skipped."""
    return _read(lines, lambda line: parse_edgelist_line(line, edge_type), on_bad)
