"""Query evaluation as small pure state machines, one per query type.

A :class:`QueryRun` says which partitions to ask in each round (:class:`Requests`), takes
their partials and ends with :class:`Done` or :class:`Failed`. A partition answers a
request with :func:`evaluate_request`. The same run works with partials arriving from
other workers or computed in-process by :func:`run_locally`, with identical answers.
"""

from pipeline.queries.partition import evaluate_request, evaluate_stepwise
from pipeline.queries.protocol import (
    Done,
    Failed,
    QueryLimits,
    QueryPlan,
    QueryStep,
    Requests,
    UnsupportedRequest,
)
from pipeline.queries.run import PLANS, QueryRun, run_locally, run_stepwise

__all__ = [
    "PLANS",
    "Done",
    "Failed",
    "QueryLimits",
    "QueryPlan",
    "QueryRun",
    "QueryStep",
    "Requests",
    "UnsupportedRequest",
    "evaluate_request",
    "evaluate_stepwise",
    "run_locally",
    "run_stepwise",
]
