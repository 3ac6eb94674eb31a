"""Translate :class:`schemas.settings.Settings` into keyword arguments for Kafka clients.

Every aiokafka client the SDK, CLI or worker creates gets its connection and security
options from here, so SASL/TLS settings apply everywhere alike.
"""

from __future__ import annotations

import ssl
from typing import Any

from schemas.settings import Settings

__all__ = ["aiokafka_kwargs", "ssl_context"]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    sec = settings.security
    if not sec.uses_tls:
        return None
    ctx = ssl.create_default_context(cafile=str(sec.ssl_cafile) if sec.ssl_cafile else None)
    if sec.ssl_certfile and sec.ssl_keyfile:
        ctx.load_cert_chain(str(sec.ssl_certfile), str(sec.ssl_keyfile))
    return ctx


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection and security options shared by producers, consumers and admin clients."""
    sec = settings.security
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": sec.protocol,
    }
    ctx = ssl_context(settings)
    if ctx is not None:
        kwargs["ssl_context"] = ctx
    if sec.sasl_mechanism:
        kwargs["sasl_mechanism"] = sec.sasl_mechanism
        kwargs["sasl_plain_username"] = sec.username
        kwargs["sasl_plain_password"] = sec.password
    return kwargs
