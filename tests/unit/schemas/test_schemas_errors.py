"""Error codes, wire errors, error events, DLQ headers and the limits they are judged by."""

from __future__ import annotations

import time

import pytest

import schemas
from schemas.errors import (
    ERROR_CODE_DOCS,
    ErrorCode,
    ErrorEvent,
    WireError,
    WireErrorException,
    dlq_headers,
    echo,
)
from schemas.limits import Limits
from schemas.settings import Settings

REQUIRED_CODES = {
    "undecodable",
    "invalid_id",
    "invalid_label",
    "props_too_large",
    "unknown_field",
    "chunk_too_large",
    "message_too_large",
    "too_deep",
    "unknown_query_type",
    "bad_arguments",
    "unavailable",
    "timeout",
    "limit_exceeded",
    "internal",
}


def test_every_contract_error_code_exists_as_a_string_enum() -> None:
    assert {str(code) for code in ErrorCode} >= REQUIRED_CODES
    assert ErrorCode("too_deep") is ErrorCode.TOO_DEEP
    assert isinstance(ErrorCode.TOO_DEEP, str) and str(ErrorCode.TOO_DEEP) == "too_deep"


def test_every_error_code_is_documented_in_one_sentence() -> None:
    assert set(ERROR_CODE_DOCS) == set(ErrorCode)
    for text in ERROR_CODE_DOCS.values():
        assert text.endswith(".") and "\n" not in text and len(text) < 250


def test_wire_error_messages_are_capped_at_300_chars() -> None:
    error = WireError(ErrorCode.INTERNAL, "m" * 1000, 3, "c")
    assert len(error.message) == 300 and error.message.endswith("...")
    assert (error.item_index, error.chunk_id) == (3, "c")


def test_only_timeout_and_unavailable_errors_are_retryable() -> None:
    assert {c for c in ErrorCode if WireError(c, "").retryable} == {
        ErrorCode.TIMEOUT,
        ErrorCode.UNAVAILABLE,
    }


def test_the_exception_carries_its_wire_error() -> None:
    error = WireError(ErrorCode.UNDECODABLE, "bad")
    assert WireErrorException(error).error is error


def test_echo_quotes_at_most_80_chars_of_input_with_escapes_visible() -> None:
    assert echo("abc") == "'abc'"
    assert echo("a\x00b") == "'a\\x00b'"
    long_quote = echo("y" * 1000)
    assert "y" * 81 not in long_quote and long_quote.endswith("...")
    assert "\x00" not in echo("\x00" * 100) and len(echo("\x00" * 100)) <= 83
    assert echo("\ud800").encode("utf-8")


def test_echo_describes_non_strings_by_type_only() -> None:
    deep: list[object] = []
    for _ in range(10_000):
        deep = [deep]
    assert echo(deep) == "<list>"
    assert echo(10**10_000) == "<int>"
    assert echo(None) == "<NoneType>"


def test_an_error_event_carries_source_position_and_item() -> None:
    error = WireError(ErrorCode.INVALID_ID, "id must not be empty", 4, "c1")
    before = time.time_ns() // 1_000_000
    event = ErrorEvent.from_wire_error(error, topic="graph-input", partition=2, offset=99)
    after = time.time_ns() // 1_000_000
    wire = event.to_wire()
    assert wire == {
        "code": "invalid_id",
        "message": "id must not be empty",
        "topic": "graph-input",
        "partition": 2,
        "offset": 99,
        "chunk_id": "c1",
        "item_index": 4,
        "ts": wire["ts"],
    }
    assert before <= wire["ts"] <= after


def test_an_error_event_names_the_query_only_for_queries() -> None:
    error = WireError(ErrorCode.BAD_ARGUMENTS, "x")
    event = ErrorEvent.from_wire_error(
        error, topic="q", partition=0, offset=1, query_id="q7", ts=123
    )
    assert event.to_wire()["query_id"] == "q7"
    assert event.to_wire()["ts"] == 123
    assert (event.to_wire()["chunk_id"], event.to_wire()["item_index"]) == (None, None)


def test_dlq_headers_describe_the_error_and_the_source() -> None:
    headers = dlq_headers(ErrorCode.TOO_DEEP, "too deep", topic="in", partition=3, offset=42)
    assert headers == [
        ("error-code", b"too_deep"),
        ("error-message", b"too deep"),
        ("source-topic", b"in"),
        ("source-partition", b"3"),
        ("source-offset", b"42"),
    ]


@pytest.mark.parametrize("char", ["a", "é", "名", "🙂"])
def test_dlq_error_message_is_truncated_to_512_bytes_on_a_char_boundary(char: str) -> None:
    headers = dict(dlq_headers("internal", char * 600, topic="t", partition=0, offset=0))
    message = headers["error-message"]
    assert 512 - len(char.encode()) < len(message) <= 512
    assert set(message.decode("utf-8")) == {char}


def test_limits_default_to_the_settings_defaults_and_follow_settings() -> None:
    defaults = Settings()
    assert Limits() == Limits.from_settings(defaults)
    custom = Settings(max_message_bytes=10, max_items_per_chunk=2, max_id_length=3)
    custom = custom.replace(max_props_bytes=4, max_nesting_depth=5)
    assert Limits.from_settings(custom) == Limits(10, 2, 3, 4, 5)


def test_the_package_exports_its_curated_api() -> None:
    for name in schemas.__all__:
        assert hasattr(schemas, name), name
    assert schemas.Settings is Settings
    assert "parse_chunk" in schemas.__all__ and "parse_query" in schemas.__all__
