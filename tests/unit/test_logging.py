"""Logging as configured for workers and commands: JSON lines with context, no secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import pytest
import structlog

from project_engine.kafka_config import aiokafka_kwargs
from project_engine.logs import REDACTED, Redactor, configure_logging
from schemas.settings import KafkaSecurity, Settings

PASSWORD = "s3cr3t-Pa55word"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo ``configure_logging`` so other tests see the logging they started with."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


LogFormat = Literal["json", "console"]


def settings_with_password(log_format: LogFormat = "json", log_level: str = "INFO") -> Settings:
    return Settings(
        log_format=log_format,
        log_level=log_level,
        security=KafkaSecurity(
            sasl_mechanism="SCRAM-SHA-256", username="engine", password=PASSWORD
        ),
    )


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class LeakyCredentials:
    """A third-party object whose repr shows its password."""

    def __repr__(self) -> str:
        return f"<Credentials user=engine password={PASSWORD}>"


def json_lines(err: str) -> list[dict[str, Any]]:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


@pytest.mark.usefixtures("restore_logging")
def test_json_format_writes_one_json_object_per_record_with_level_timestamp_event_and_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(settings_with_password())
    structlog.get_logger("tests.logging").warning(
        "message rejected",
        topic="graph-input",
        partition=3,
        offset=41,
        chunk_id="c-7",
        code="invalid_op",
    )
    logging.getLogger("faust.transport.consumer").info("Fetcher %s for %d partitions", "up", 4)

    structured, foreign = json_lines(capsys.readouterr().err)

    assert structured["event"] == "message rejected"
    assert structured["level"] == "warning"
    assert structured["timestamp"].endswith("Z")
    assert {k: structured[k] for k in ("topic", "partition", "offset", "chunk_id")} == {
        "topic": "graph-input",
        "partition": 3,
        "offset": 41,
        "chunk_id": "c-7",
    }
    assert foreign["event"] == "Fetcher up for 4 partitions"
    assert foreign["level"] == "info"
    assert foreign["logger"] == "faust.transport.consumer"
    assert "timestamp" in foreign


@pytest.mark.usefixtures("restore_logging")
def test_exception_records_are_single_json_lines_carrying_the_traceback_and_query_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(settings_with_password())
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("tests.logging").exception("query execution failed", query_id="q1")

    (record,) = json_lines(capsys.readouterr().err)

    assert record["level"] == "error"
    assert record["query_id"] == "q1"
    assert "RuntimeError: boom" in record["exception"]


@pytest.mark.usefixtures("restore_logging")
def test_level_below_the_configured_one_is_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(settings_with_password(log_level="WARNING"))
    structlog.get_logger("tests.logging").info("not shown")
    logging.getLogger("aiokafka").info("not shown either")
    structlog.get_logger("tests.logging").error("shown")

    records = json_lines(capsys.readouterr().err)

    assert [r["event"] for r in records] == ["shown"]


@pytest.mark.parametrize("log_format", ["json", "console"])
@pytest.mark.usefixtures("restore_logging")
def test_password_never_reaches_a_log_line_whatever_carries_it(
    capsys: pytest.CaptureFixture[str], log_format: LogFormat
) -> None:
    settings = settings_with_password(log_format)
    configure_logging(settings)
    log = structlog.get_logger("tests.logging")
    log.info("connecting", password=PASSWORD, token="tok-123456", client_secret="cs-123456")
    log.info("settings", settings=settings, security=settings.security)
    log.info("kafka client", kwargs=aiokafka_kwargs(settings))
    log.info("nested", clients=[{"sasl_plain_password": PASSWORD}])
    log.info("client", credentials=LeakyCredentials())
    log.info(f"text that quotes it: {PASSWORD}")
    try:
        raise ValueError(f"login refused for {PASSWORD}")
    except ValueError:
        log.exception("login failed")
    logging.getLogger("aiokafka.conn").warning("conf %r", {"sasl_plain_password": PASSWORD})

    err = capsys.readouterr().err

    assert PASSWORD not in err
    assert "tok-123456" not in err and "cs-123456" not in err
    assert err.count(REDACTED) >= 8
    assert "username='engine'" in err  # the rest of the settings still shows
    if log_format == "json":
        assert len(json_lines(err)) == 8


@pytest.mark.usefixtures("restore_logging")
def test_sasl_plain_bytes_in_aiokafka_debug_records_are_hidden_even_when_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = "pässwört-'quoted'-" + "x" * 100  # escaped by repr/JSON, cut off by aiokafka
    settings = settings_with_password(log_level="DEBUG").replace(
        security=KafkaSecurity(sasl_mechanism="PLAIN", username="engine", password=password)
    )
    configure_logging(settings)
    plain = b"engine\x00engine\x00" + password.encode()
    request = f"SaslAuthenticateRequest_v1(sasl_auth_bytes={plain[:100] + b'...'!r})"
    logging.getLogger("aiokafka.conn").debug("Request to %s:%d %d: %s", "h", 9092, 3, request)
    structlog.get_logger("tests.logging").info("login", note=password, peer=("h", 9092))

    err = capsys.readouterr().err
    request_record, note_record = json_lines(err)

    assert "sasl_auth_bytes=[redacted]" in request_record["event"]
    assert note_record["note"] == REDACTED
    assert note_record["peer"] == ["h", 9092]
    assert "xxxxxxxxxx" not in err and "p\\u00e4ssw" not in err and "pässw" not in err


def test_settings_repr_never_shows_the_password() -> None:
    settings = settings_with_password()
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert PASSWORD not in repr(settings.security)


def test_redactor_hides_secret_keys_at_any_depth_and_keeps_other_fields() -> None:
    redact = Redactor([PASSWORD])
    event = {
        "event": "x",
        "Password": "p",
        "offset": 4,
        "tp": TopicPartition("graph-input", 2),
        "conf": {"api_token": "t", "hosts": ["a", {"secret": "s"}], "note": f"pw={PASSWORD}"},
    }

    out = redact(None, "info", event)

    assert out == {
        "event": "x",
        "Password": REDACTED,
        "offset": 4,
        "tp": TopicPartition("graph-input", 2),
        "conf": {
            "api_token": REDACTED,
            "hosts": ["a", {"secret": REDACTED}],
            "note": f"pw={REDACTED}",
        },
    }
