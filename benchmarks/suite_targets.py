"""The performance targets of the whole suite, judged from the JSON each benchmark writes.

Each benchmark (:mod:`benchmarks.ingest`, :mod:`benchmarks.queries`, :mod:`benchmarks.state`)
prints its own table; this module reads their JSON files and builds one table of every
target: the figure measured, the target and a verdict (``met``, ``MISSED``, or ``n/a`` when
the figure is missing, e.g. a benchmark that did not run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TargetRow", "format_rows", "ingest_rows", "judged", "query_rows", "state_rows"]


@dataclass(frozen=True)
class TargetRow:
    area: str
    measurement: str
    figure: str
    target: str
    verdict: str  # met, MISSED or n/a

    def as_json(self) -> dict[str, str]:
        return {
            "area": self.area,
            "measurement": self.measurement,
            "figure": self.figure,
            "target": self.target,
            "verdict": self.verdict,
        }


def judged(
    area: str, measurement: str, value: float | None, limit: float, *, at_most: bool
) -> TargetRow:
    """A ratio target: ``value <= limit`` (``at_most``) or ``value >= limit``."""
    if value is None:
        verdict = "n/a"
    else:
        verdict = "met" if (value <= limit if at_most else value >= limit) else "MISSED"
    return TargetRow(
        area, measurement, f"{_fmt(value)}x", f"{'<=' if at_most else '>='} {_fmt(limit)}x", verdict
    )


def _dig(doc: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return float(doc) if isinstance(doc, int | float) and not isinstance(doc, bool) else None


Spec = tuple[str, str, tuple[str, ...], float, bool]  # area, label, JSON path, limit, at_most

INGEST: list[Spec] = [
    ("ingest", "engine / transport limit", ("engine_vs_transport",), 0.5, False),
    ("ingest", "engine / textbook Faust", ("engine_vs_textbook",), 20.0, False),
    ("cost", "per edge, large hub / small hub (engine)", ("hub_engine_large_vs_small",), 1.5, True),
    ("cost", "per chunk, big graph / 10^4 (core)", ("growth_core_large_vs_small",), 1.5, True),
    ("cost", "per chunk, big graph / 10^4 (engine)", ("growth_engine_large_vs_small",), 1.5, True),
]
QUERIES: list[Spec] = [
    ("queries", "p99 during ingest / floor", ("rate_ingest", "p99_vs_floor_p99"), 3.0, True),
    ("queries", "node p99 / floor", ("node", "cold_p99_vs_floor_p99"), 3.0, True),
    ("queries", "neighbors p99 / floor", ("neighbors_out", "cold_p99_vs_floor_p99"), 3.0, True),
    ("queries", "2-hop p50, cold / worker-cached (exact)",
     ("khop2", "cold_p50_vs_cached_p50"), 10.0, False),
    ("queries", "2-hop p50, cold / SDK-cached (cache_ttl)",
     ("khop2", "cold_p50_vs_client_cached_p50"), 10.0, False),
]  # fmt: skip


def _rows(specs: list[Spec], doc: dict[str, Any] | None) -> list[TargetRow]:
    ratios = (doc or {}).get("ratios", {})
    return [
        judged(area, label, _dig(ratios, *path), limit, at_most=at_most)
        for area, label, path, limit, at_most in specs
    ]


def ingest_rows(doc: dict[str, Any] | None) -> list[TargetRow]:
    return _rows(INGEST, doc)


def query_rows(doc: dict[str, Any] | None) -> list[TargetRow]:
    return _rows(QUERIES, doc)


def state_rows(doc: dict[str, Any] | None) -> list[TargetRow]:
    """The state benchmark judges its own rows; those with a target are carried over."""
    return [
        TargetRow("state", str(row["measurement"]), str(row["figure"]), str(row["target"]),
                  str(row["verdict"]))
        for row in (doc or {}).get("rows", [])
        if row.get("target") and row.get("verdict") in ("met", "MISSED", "n/a")
    ]  # fmt: skip


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def format_rows(rows: list[TargetRow]) -> str:
    head = ("area", "measurement", "figure", "target", "verdict")
    cells = [head] + [(r.area, r.measurement, r.figure, r.target, r.verdict) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip() for c in cells]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)
