"""Results of one benchmark run: measurements, the ratios between them, the table and the JSON.

Everything here is pure (no Kafka, no timing), so the ratio arithmetic and the rendering are
tested on their own. A throughput measurement counts items over seconds; a
:class:`CostPair` compares the cost per edge of the same batch size in two conditions: on a
small and a large hub, or on a small and a large graph. Each pair's ratio gets a verdict
against its target (at most :data:`HUB_TARGET`, :data:`GROWTH_TARGET`), and so does the
engine's throughput over the textbook Faust app's (at least :data:`TEXTBOOK_TARGET`).
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CORE",
    "ENGINE",
    "GROWTH_TARGET",
    "HUB_TARGET",
    "TEXTBOOK",
    "TEXTBOOK_TARGET",
    "TRANSPORT",
    "CostPair",
    "Measurement",
    "Report",
    "growth_pair",
    "hub_pair",
    "machine_info",
    "target_verdict",
]

ENGINE = "engine"
TRANSPORT = "transport"
CORE = "core"
TEXTBOOK = "textbook_faust"
HUB_TARGET = 1.5  # cost per edge on the large hub / on the small hub should stay at or under this
TEXTBOOK_TARGET = 20.0  # engine items/s / textbook Faust items/s should reach at least this
GROWTH_TARGET = 1.5  # cost per edge on the largest graph / on the smallest: flat, at most this


@dataclass(frozen=True)
class Measurement:
    """``items`` handled in ``seconds`` wall-clock time; ``hub`` marks a row of a
    :class:`CostPair` (hub or growth), which gets no throughput ratios in the table."""

    key: str
    label: str
    items: int
    seconds: float
    hub: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else math.inf

    @property
    def micros_per_item(self) -> float:
        return 1e6 * self.seconds / self.items if self.items else math.nan


def target_verdict(value: float | None, target: float, *, at_most: bool) -> str:
    """``met`` or ``MISSED`` for a ratio against its target; ``n/a`` without a ratio."""
    if value is None:
        return "n/a"
    met = value <= target if at_most else value >= target
    return "met" if met else "MISSED"


@dataclass(frozen=True)
class CostPair:
    """Two rows timing the same batch size: ``large``'s cost per item over ``small``'s
    should stay at or under ``target``. The ratio is ``<kind>_<name>_large_vs_small`` in
    the JSON, and the summary line reads ``<title> (<name>) = <ratio>x (<target>)``."""

    kind: str  # "hub" or "growth"
    name: str  # whose cost: "core" or "engine"
    small: str  # the measurement keys
    large: str
    title: str  # what is divided by what
    target: float
    flat: bool = False  # the aim is no growth at all; the target is the most allowed
    digits: int = 3  # decimals of the printed ratio

    @property
    def ratio_key(self) -> str:
        return f"{self.kind}_{self.name}_large_vs_small"

    def line(self, value: float | None) -> str:
        shown = "-" if value is None else f"{value:.{self.digits}f}x"
        aim = "target: flat, <=" if self.flat else "target <="
        verdict = target_verdict(value, self.target, at_most=True)
        return f"{self.title} ({self.name}) = {shown}   ({aim} {self.target:.2f}x: {verdict})"


def hub_pair(name: str, small: str, large: str) -> CostPair:
    title = "hub cost per edge, large hub / small hub"
    return CostPair("hub", name, small, large, title, HUB_TARGET)


def growth_pair(name: str, small: str, large: str, small_size: str, large_size: str) -> CostPair:
    """The pair for a chunk's cost on a graph of ``large_size`` over ``small_size`` edges."""
    title = f"cost per chunk, graph {large_size} / graph {small_size}"
    return CostPair("growth", name, small, large, title, GROWTH_TARGET, flat=True, digits=2)


def _ratio(num: float, den: float) -> float | None:
    if den <= 0 or not math.isfinite(num) or not math.isfinite(den):
        return None
    return num / den


@dataclass
class Report:
    """The measurements of one run plus what it ran on and with which parameters."""

    machine: dict[str, Any]
    params: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    cost_pairs: list[CostPair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, m: Measurement) -> Measurement:
        self.measurements.append(m)
        return m

    def ordered(self) -> list[Measurement]:
        """Engine, transport, pure core and textbook Faust first, then the others in the order
        they ran."""
        rank = {ENGINE: 0, TRANSPORT: 1, CORE: 2, TEXTBOOK: 3}
        return sorted(self.measurements, key=lambda m: rank.get(m.key, len(rank)))

    def get(self, key: str) -> Measurement | None:
        return next((m for m in self.measurements if m.key == key), None)

    def rate_ratio(self, num_key: str, den_key: str) -> float | None:
        """``num``'s items/s divided by ``den``'s; None when either is missing."""
        num, den = self.get(num_key), self.get(den_key)
        if num is None or den is None:
            return None
        return _ratio(num.per_second, den.per_second)

    def cost_ratio(self, small_key: str, large_key: str) -> float | None:
        """Cost per item of ``large_key``'s row over that of ``small_key``'s."""
        small, large = self.get(small_key), self.get(large_key)
        if small is None or large is None:
            return None
        return _ratio(large.micros_per_item, small.micros_per_item)

    def ratios(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "engine_vs_transport": self.rate_ratio(ENGINE, TRANSPORT),
            "engine_vs_core": self.rate_ratio(ENGINE, CORE),
            "core_vs_transport": self.rate_ratio(CORE, TRANSPORT),
            "engine_vs_textbook": self.rate_ratio(ENGINE, TEXTBOOK),
        }
        for pair in self.cost_pairs:
            out[pair.ratio_key] = self.cost_ratio(pair.small, pair.large)
        return out

    def table(self) -> str:
        """The table printed at the end of a run, one row per measurement, then the ratios."""
        head = ("measurement", "items", "seconds", "items/s", "µs/item", "÷transport", "engine÷")
        rows = [head]
        engine = self.get(ENGINE)
        for m in self.ordered():
            vs_transport = None if m.hub else self.rate_ratio(m.key, TRANSPORT)
            engine_vs = None if m.hub or engine is None else _ratio(engine.per_second, m.per_second)
            rows.append(
                (
                    m.label,
                    f"{m.items:,}",
                    f"{m.seconds:.3f}",
                    f"{m.per_second:,.0f}",
                    f"{m.micros_per_item:.2f}",
                    _fmt(vs_transport),
                    _fmt(engine_vs),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(_cell(i, c, widths[i]) for i, c in enumerate(r)) for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join([*lines, "", *self.summary_lines()])

    def summary_lines(self) -> list[str]:
        r = self.ratios()
        lines = [
            f"engine / transport limit = {_fmt(r['engine_vs_transport'])}   "
            f"engine / pure core = {_fmt(r['engine_vs_core'])}   "
            f"pure core / transport = {_fmt(r['core_vs_transport'])}"
        ]
        textbook = r["engine_vs_textbook"]
        lines.append(
            f"engine / textbook Faust = {_fmt(textbook, 'x')}   (target >= "
            f"{TEXTBOOK_TARGET:.0f}x: {target_verdict(textbook, TEXTBOOK_TARGET, at_most=False)})"
        )
        lines.extend(pair.line(r[pair.ratio_key]) for pair in self.cost_pairs)
        m = self.machine
        lines.append(
            f"machine: {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
            f"Python {m.get('python')}, Kafka {m.get('kafka')}, "
            f"aiokafka {m.get('aiokafka')}, faust-streaming {m.get('faust_streaming')}"
        )
        load = m.get("load_average_at_start")
        if load:
            lines.append(f"load average (1, 5, 15 min) when the run started: {load}")
        lines.extend(self.notes)
        return lines

    def to_json(self) -> dict[str, Any]:
        measurements = []
        for m in self.ordered():
            item = asdict(m)
            item["items_per_second"] = _finite(m.per_second)
            item["micros_per_item"] = _finite(m.micros_per_item)
            measurements.append(item)
        return {
            "machine": self.machine,
            "params": self.params,
            "measurements": measurements,
            "ratios": self.ratios(),
            "hub_target": HUB_TARGET,
            "growth_target": GROWTH_TARGET,
            "textbook_target": TEXTBOOK_TARGET,
            "notes": self.notes,
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")


def _cell(column: int, text: str, width: int) -> str:
    return text.ljust(width) if column == 0 else text.rjust(width)


def _fmt(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.3f}{suffix}"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(kafka_version: str) -> dict[str, Any]:
    """Cores, memory, OS, Python and the versions of Kafka and the Kafka client libraries."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory: float | None = round(pages / 2**30, 1)
    except (ValueError, OSError):
        memory = None
    return {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "platform": platform.platform(),
        "processor": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "kafka": kafka_version,
        "aiokafka": _version("aiokafka"),
        "faust_streaming": _version("faust-streaming"),
        "msgpack": _version("msgpack"),
    }
