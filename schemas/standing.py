"""Standing-query patterns (what a subscriber asks to be told about) and the query types that
register, list and remove them.

Patterns, one of:

- ``{"kind": "edge", "edge_type": "T", "src_label": "A"?, "dst_label": "B"?}``: an edge of
  type T appears (endpoints optionally constrained by a label);
- ``{"kind": "node_label", "label": "L"}``: a node gains label L;
- ``{"kind": "node_prop", "key": "k", "value": v?}``: a node's prop k is set (to v, if given);
- ``{"kind": "degree", "direction": "out"|"in"|"both", "threshold": n}``: a node's degree
  rises from below n to n or more;
- ``{"kind": "two_hop", "first_type": "T1", "second_type": "T2"}``: a new edge completes
  ``a -[T1]-> b -[T2]-> c``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from schemas.errors import ErrorCode, WireError, WireErrorException, echo
from schemas.limits import Limits, valid_name
from schemas.queries import Param, QueryType, int_arg, register_query_type

__all__ = ["PATTERN_KINDS", "STANDING_QUERY_TYPES", "validate_pattern"]

_FIELDS: dict[str, dict[str, bool]] = {  # kind -> {field: required}
    "edge": {"edge_type": True, "src_label": False, "dst_label": False},
    "node_label": {"label": True},
    "node_prop": {"key": True, "value": False},
    "degree": {"direction": True, "threshold": True},
    "two_hop": {"first_type": True, "second_type": True},
}
PATTERN_KINDS = frozenset(_FIELDS)
STANDING_QUERY_TYPES = frozenset({"standing_register", "standing_list", "standing_remove"})
MAX_PATTERN_BYTES = 4096


def _bad(message: str) -> WireErrorException:
    return WireErrorException(WireError(ErrorCode.BAD_ARGUMENTS, message))


def validate_pattern(name: str, value: Any, limits: Limits) -> dict[str, Any]:
    """A pattern map, checked field by field; raises with ``bad_arguments`` otherwise."""
    if not isinstance(value, Mapping):
        raise _bad(f"{name} must be a map with a 'kind', got {echo(value)}")
    kind = value.get("kind")
    fields = _FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise _bad(f"{name}.kind must be one of {', '.join(sorted(_FIELDS))}; got {echo(kind)}")
    for key in value:
        if key != "kind" and key not in fields:
            raise _bad(f"unknown field {echo(key)} in a {kind} pattern")
    pattern: dict[str, Any] = {"kind": kind}
    for field, required in fields.items():
        raw = value.get(field)
        if raw is None:
            if required:
                raise _bad(f"a {kind} pattern needs {field!r}")
            continue
        if field == "threshold":
            if type(raw) is not int or not 1 <= raw <= 10_000_000:
                raise _bad(f"threshold must be a whole number in 1..10000000, got {echo(raw)}")
        elif field == "direction":
            if raw not in ("out", "in", "both"):
                raise _bad(f"direction must be one of out, in, both; got {echo(raw)}")
        elif field == "value":
            if len(json.dumps(raw, default=str)) > MAX_PATTERN_BYTES:
                raise _bad(f"pattern value is larger than {MAX_PATTERN_BYTES} bytes")
        elif not valid_name(raw, limits.max_id_length, allow_empty=field.endswith("_type")):
            raise _bad(f"{field} must be a label/type name, got {echo(raw)}")
        pattern[field] = raw
    return pattern


def _standing_id(name: str, value: Any, limits: Limits) -> str:
    if valid_name(value, limits.max_id_length, allow_empty=False):
        return str(value)
    raise _bad(f"{name} must be a non-empty name without control characters, got {echo(value)}")


for _type in (
    QueryType(
        "standing_register",
        (Param("pattern", validate_pattern, required=True), Param("standing_id", _standing_id)),
    ),
    QueryType("standing_list", (Param("limit", int_arg(1, 10_000), default=1_000),)),
    QueryType("standing_remove", (Param("standing_id", _standing_id, required=True),)),
):
    register_query_type(_type)
