"""Latency statistics of the query benchmark: percentiles, summaries and ratios (all pure).

Percentiles interpolate linearly between the two closest ranks (the "inclusive" method of
:func:`statistics.quantiles`, numpy's default): with ``n`` sorted samples, percentile ``q``
sits at position ``(n - 1) * q / 100``. Latencies are kept in seconds and shown in ms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LatencySummary",
    "Samples",
    "percentile",
    "ratio",
    "summarize",
]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Percentile ``q`` (0..100) of ascending ``sorted_values``, linearly interpolated."""
    if not sorted_values:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, got {q}")
    position = (len(sorted_values) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``, or None when either is missing, not finite, or ``den`` is not positive."""
    if num is None or den is None or den <= 0 or not math.isfinite(num + den):
        return None
    return num / den


@dataclass(frozen=True)
class LatencySummary:
    """Count and percentiles (seconds) of one set of round trips."""

    count: int
    p50: float
    p95: float
    p99: float
    mean: float
    min: float
    max: float

    def to_json(self) -> dict[str, Any]:
        """Milliseconds, rounded to microseconds."""
        out: dict[str, Any] = {"count": self.count}
        for name in ("p50", "p95", "p99", "mean", "min", "max"):
            out[f"{name}_ms"] = round(1000 * getattr(self, name), 3)
        return out


def summarize(samples: Iterable[float]) -> LatencySummary | None:
    """The summary of ``samples`` (seconds), or None when there are none."""
    values = sorted(samples)
    if not values:
        return None
    return LatencySummary(
        count=len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        mean=math.fsum(values) / len(values),
        min=values[0],
        max=values[-1],
    )


@dataclass
class Samples:
    """Round-trip times of the successful answers of one measurement, plus the failures
    by error code (an error answer's round trip goes to ``error_latencies``, a query with no
    answer only to ``errors``).

    ``seconds`` is the wall-clock time the whole measurement took, so that a closed loop
    of queries gives a rate (:attr:`per_second`).
    """

    latencies: list[float]
    errors: dict[str, int]
    seconds: float = 0.0
    error_latencies: list[float] = field(default_factory=list)

    @classmethod
    def empty(cls) -> Samples:
        return cls([], {})

    def add_error(self, code: str, latency: float | None = None) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1
        if latency is not None:
            self.error_latencies.append(latency)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def per_second(self) -> float | None:
        """Answers per second (error answers included) over :attr:`seconds`."""
        answered = len(self.latencies) + len(self.error_latencies)
        return answered / self.seconds if self.seconds > 0 and answered else None

    def summary(self) -> LatencySummary | None:
        return summarize(self.latencies)

    def to_json(self) -> dict[str, Any]:
        summary = self.summary()
        out: dict[str, Any] = summary.to_json() if summary is not None else {"count": 0}
        out["errors"] = dict(sorted(self.errors.items()))
        failed = summarize(self.error_latencies)
        if failed is not None:
            out["error_answers"] = failed.to_json()
        if self.seconds > 0:
            out["seconds"] = round(self.seconds, 3)
            rate = self.per_second
            out["per_second"] = None if rate is None else round(rate, 1)
        return out
