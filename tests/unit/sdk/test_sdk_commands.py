"""Pure parts of the publish/query/tail commands: query parsing and line rendering."""

from __future__ import annotations

import base64
import json

import pytest

from project_engine.commands.query import parse_query
from project_engine.commands.tail import render
from project_engine.sdk.wire import encode_value


def test_query_text_must_be_a_json_map() -> None:
    assert parse_query('{"type": "node", "id": "a"}') == {"type": "node", "id": "a"}
    with pytest.raises(ValueError, match="not JSON"):
        parse_query("{type: node}")
    with pytest.raises(ValueError, match="must be a JSON map"):
        parse_query("[1]")


def test_tail_renders_msgpack_and_json_values_alike() -> None:
    event = {"code": "invalid_op", "partition": 1, "item_index": None}
    for encoding in ("json", "msgpack"):
        line = render("errors", encode_value(event, encoding), [])
        assert json.loads(line) == event
        assert "\n" not in line


def test_tail_renders_dlq_entries_as_headers_and_base64_value() -> None:
    line = render("dlq", b"\x00\xffraw", [("error-code", b"undecodable"), ("topic", b"in")])
    assert json.loads(line) == {
        "headers": {"error-code": "undecodable", "topic": "in"},
        "value_base64": base64.b64encode(b"\x00\xffraw").decode(),
    }


def test_tail_marks_undecodable_values_instead_of_failing() -> None:
    entry = json.loads(render("results", b"\xc1", []))
    assert entry == {"undecodable": True, "value_base64": "wQ=="}
