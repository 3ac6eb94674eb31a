"""The one-round query interface the query agents still use, kept on top of
:mod:`pipeline.queries`: which partitions a query needs, the partial each one gives, and
how partials merge into the result.

Only query types answered in a single round without limits are offered here (``node``,
``stats``, ``digest``); every other type raises :class:`UnsupportedQuery` and is run with
:class:`pipeline.queries.QueryRun` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.graph import GraphPartition
from pipeline.queries import Done, QueryLimits, QueryRun, Requests, evaluate_request

__all__ = ["UnsupportedQuery", "evaluate_partial", "merge_partials", "target_partitions"]

_ONE_ROUND_TYPES = frozenset({"node", "stats", "digest"})


class UnsupportedQuery(ValueError):
    """The query type is valid on the wire but has no one-round evaluator here."""


def _first_round(qtype: str, args: Mapping[str, Any], partitions: int) -> tuple[QueryRun, Requests]:
    if qtype not in _ONE_ROUND_TYPES:
        raise UnsupportedQuery(f"query type {qtype!r} is not supported by this engine version")
    run = QueryRun(qtype, args, partitions, QueryLimits())
    step = run.start()
    assert isinstance(step, Requests)  # these types always ask in round 0
    return run, step


def target_partitions(qtype: str, args: Mapping[str, Any], partitions: int) -> list[int]:
    """The partitions whose partial answers make up the result of this query."""
    return sorted(_first_round(qtype, args, partitions)[1].by_partition)


def evaluate_partial(qtype: str, args: Mapping[str, Any], graph: GraphPartition) -> Any:
    """The answer of one partition (the request does not depend on the partition count)."""
    (request,) = _first_round(qtype, args, 1)[1].by_partition.values()
    return evaluate_request(request, graph, QueryLimits())


def merge_partials(qtype: str, args: Mapping[str, Any], partials: Sequence[Any]) -> Any:
    """Combine the partial answers of every target partition into the final result."""
    if qtype == "node":  # one owner answers, whatever the partition count
        partials = partials[:1]
        if not partials:
            return None
    run, step = _first_round(qtype, args, len(partials))
    outcome = None
    for p, partial in zip(sorted(step.by_partition), partials, strict=True):
        outcome = run.feed(step.round, p, partial)
    if not isinstance(outcome, Done):
        raise UnsupportedQuery(f"query type {qtype!r} did not complete in one round")
    return outcome.result
