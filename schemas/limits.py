"""The size and shape limits every parser enforces, and the value rules built on them.

:class:`Limits` comes from :class:`Settings`. Ids, labels, edge types, chunk and query ids
share one rule: a string of bounded length with no control characters (U+0000-U+001F,
U+007F-U+009F) and no unpaired surrogates (which have no UTF-8 form). Props must be a map
of JSON values whose compact JSON form fits ``max_props_bytes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import isfinite
from typing import Any

import msgpack

from schemas.codec import Encoding, encode
from schemas.errors import ErrorCode, WireError, WireErrorException, echo
from schemas.settings import Settings

__all__ = [
    "Limits",
    "check_props",
    "describe_bad_name",
    "has_control_chars",
    "normalize_node_id",
    "too_deep_error",
    "valid_name",
]

_DEFAULTS = Settings()
_STR_ONLY = frozenset({str})
_SCALARS = frozenset({str, int, bool, float, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})
# Compact JSON is never more than 6x the msgpack form of the same value (a 1-byte `false`
# becomes `false,`), so props whose msgpack form is small enough need no JSON encoding.
_JSON_PER_MSGPACK_BYTE = 6
_PACKER = msgpack.Packer(use_bin_type=True)
# Every float packs as 0xcb + big-endian double; NaN and +-Infinity have exponent 0x7ff.
_MAYBE_NON_FINITE = re.compile(b"\xcb[\x7f\xff][\xf0-\xff]").search
has_control_chars = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]").search


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds for one message; the defaults equal the :class:`Settings` defaults."""

    max_message_bytes: int = _DEFAULTS.max_message_bytes
    max_items_per_chunk: int = _DEFAULTS.max_items_per_chunk
    max_id_length: int = _DEFAULTS.max_id_length
    max_props_bytes: int = _DEFAULTS.max_props_bytes
    max_nesting_depth: int = _DEFAULTS.max_nesting_depth

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_message_bytes=settings.max_message_bytes,
            max_items_per_chunk=settings.max_items_per_chunk,
            max_id_length=settings.max_id_length,
            max_props_bytes=settings.max_props_bytes,
            max_nesting_depth=settings.max_nesting_depth,
        )


def valid_name(value: Any, max_length: int, *, allow_empty: bool = False) -> bool:
    """True for a string of 1 (0 with ``allow_empty``) to ``max_length`` clean characters."""
    return (
        type(value) is str
        and (0 if allow_empty else 1) <= len(value) <= max_length
        and (value.isprintable() or not has_control_chars(value))
    )


def normalize_node_id(value: Any, max_length: int) -> str | None:
    """The node id ``value`` stands for (integers become decimal strings), or ``None``."""
    if type(value) is int:
        if value.bit_length() > 4 * max_length:
            return None
        try:
            value = str(value)
        except ValueError:  # more digits than int->str conversion allows
            return None
    return value if valid_name(value, max_length) else None


def describe_bad_name(
    value: Any, what: str, max_length: int, *, allow_empty: bool = False, ints: bool = False
) -> str:
    """A short explanation of why ``value`` is not acceptable as ``what``."""
    if type(value) is int and ints:
        return f"{what} is an integer with more than {max_length} digits"
    if type(value) is not str:
        kind = "null" if value is None else type(value).__name__
        return f"{what} must be a string{' or integer' if ints else ''}, got {kind}"
    if not value and not allow_empty:
        return f"{what} must not be empty"
    if len(value) > max_length:
        return f"{what} is {len(value)} characters, more than the limit of {max_length}"
    return f"{what} {echo(value)} contains a control character or unpaired surrogate"


def _reject(code: ErrorCode, message: str) -> WireErrorException:
    return WireErrorException(WireError(code, message))


def too_deep_error(limits: Limits) -> WireErrorException:
    """The exception for a document nesting deeper than ``limits`` allow."""
    message = f"document nests deeper than {limits.max_nesting_depth} levels"
    return _reject(ErrorCode.TOO_DEEP, message)


def _check_values(values: Any, limits: Limits, room: int) -> None:
    """Check props values (and everything inside them) are JSON values within ``room`` levels."""
    level: list[Any] = [values]
    depth = 0
    while level:
        below: list[Any] = []
        for vals in level:
            kinds = set(map(type, vals))
            if not _SCALARS.issuperset(kinds):
                if not (_SCALARS | _CONTAINERS).issuperset(kinds):
                    odd = next(k for k in kinds if k not in _SCALARS and k not in _CONTAINERS)
                    message = f"props hold a {odd.__name__}, which has no JSON form"
                    raise _reject(ErrorCode.INVALID_PROPS, message)
                if depth + 1 > room:
                    raise too_deep_error(limits)
                for v in vals:
                    if type(v) is dict:
                        if not _STR_ONLY.issuperset(map(type, v)):
                            raise _reject(ErrorCode.INVALID_PROPS, "map keys must be strings")
                        below.append(v.values())
                    elif type(v) is list or type(v) is tuple:
                        below.append(v)
            if float in kinds and not all(isfinite(v) for v in vals if type(v) is float):
                raise _reject(ErrorCode.INVALID_PROPS, "props hold NaN or Infinity")
        level = below
        depth += 1


def check_props(value: Any, limits: Limits, room: int) -> dict[str, Any]:
    """The props map ``value`` (``None`` means empty), checked; raises WireErrorException.

    Names must be strings, values JSON values (finite floats, 64-bit integers, no bytes),
    nesting within ``room`` more levels, and the compact JSON form within max_props_bytes.
    """
    if value is None:
        return {}
    if type(value) is not dict:
        raise _reject(ErrorCode.INVALID_PROPS, "props must be a map")
    if room < 1:
        raise too_deep_error(limits)
    if not value:
        return value
    if not _STR_ONLY.issuperset(map(type, value)):
        raise _reject(ErrorCode.INVALID_PROPS, "prop names must be strings")
    values = value.values()
    nested = not _SCALARS.issuperset(map(type, values))
    if nested:
        _check_values(values, limits, room - 1)
    try:
        packed = _PACKER.pack(value)
        size = len(packed)
        if _JSON_PER_MSGPACK_BYTE * size + 2 > limits.max_props_bytes:
            size = len(encode(value, Encoding.JSON))
    except OverflowError:
        raise _reject(ErrorCode.INVALID_PROPS, "integer outside the 64-bit range") from None
    except UnicodeEncodeError:
        raise _reject(ErrorCode.INVALID_PROPS, "props hold an unpaired surrogate") from None
    except (TypeError, ValueError):
        raise _reject(ErrorCode.INVALID_PROPS, "props hold a non-JSON value") from None
    if not nested and 0xCB in packed and _MAYBE_NON_FINITE(packed):
        _check_values(values, limits, room - 1)  # maybe NaN/Infinity: check exactly
    if size > limits.max_props_bytes:
        limit = limits.max_props_bytes
        message = f"props are {size} bytes as JSON, more than the limit of {limit}"
        raise _reject(ErrorCode.PROPS_TOO_LARGE, message)
    return value
