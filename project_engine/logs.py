"""Structured logging setup: JSON lines for production, readable lines in a terminal.

Every record, from structlog or from stdlib loggers (Faust, aiokafka), passes
:class:`Redactor` last before rendering: values under secret-looking keys become
``[redacted]``, and the configured Kafka password is masked wherever it appears in text,
including the rendered line itself (an object's ``repr`` may hold it).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import structlog

from schemas.settings import Settings

__all__ = ["REDACTED", "SECRET_KEYS", "Redactor", "configure_logging", "masking"]

REDACTED = "[redacted]"
#: Field names whose values never reach a log line (compared lower-case; a name ending in
#: ``_`` plus one of them, such as ``client_secret``, counts too).
SECRET_KEYS = frozenset({"password", "sasl_plain_password", "secret", "token"})


#: The SASL bytes aiokafka shows in DEBUG request records: with PLAIN they hold the password.
_SASL_BYTES = re.compile(r"""sasl_auth_bytes=b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def _forms(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """Each secret as it may appear in a line: as is, and escaped by repr, bytes or JSON."""
    forms = set()
    for secret in secrets:
        if secret:
            forms |= {
                secret,
                repr(secret)[1:-1],
                repr(secret.encode())[2:-1],
                json.dumps(secret)[1:-1],
            }
    return tuple(sorted(forms, key=len, reverse=True))


def _mask(text: str, forms: tuple[str, ...]) -> str:
    text = _SASL_BYTES.sub(f"sasl_auth_bytes={REDACTED}", text)
    for form in forms:
        text = text.replace(form, REDACTED)
    return text


def _secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    name = key.lower()
    return name in SECRET_KEYS or any(name.endswith(f"_{k}") for k in SECRET_KEYS)


class Redactor:
    """A structlog processor hiding secrets in an event dict, nested maps and lists included.

    ``secrets`` are literal values (the configured password) masked in every string, so a
    password that ends up in an exception text or a formatted stdlib message is hidden too;
    so are the SASL bytes of aiokafka's DEBUG request records.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._forms = _forms(secrets)

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event_dict.items()):
            event_dict[key] = REDACTED if _secret_key(key) else self._clean(value)
        return event_dict

    def _clean(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return _mask(value, self._forms)
        if depth >= 8:
            return value
        if isinstance(value, Mapping):
            return {
                k: REDACTED if _secret_key(k) else self._clean(v, depth + 1)
                for k, v in value.items()
            }
        if type(value) in (list, tuple):  # not subclasses: a named tuple stays as it is
            return type(value)(self._clean(v, depth + 1) for v in value)
        return value


def masking(renderer: Any, secrets: Iterable[str | None]) -> Any:
    """``renderer`` with ``secrets`` and SASL bytes masked in the line it renders."""
    forms = _forms(secrets)

    def render(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        line = renderer(logger, method_name, event_dict)
        return _mask(line, forms) if isinstance(line, str) else line

    return render


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging through one renderer at the configured level."""
    level = getattr(logging, settings.log_level)
    secrets = [settings.security.password]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                Redactor(secrets),
                masking(renderer, secrets),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
