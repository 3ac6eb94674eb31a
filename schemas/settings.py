"""The one typed settings object shared by every component, and how it is built.

Sources, highest first: explicit values (CLI flags), environment variables named
``PROJECT_ENGINE_<SETTING>``, then defaults. Nothing here reads the environment at import
time: callers pass the mapping in. Invalid values raise :class:`SettingsError` naming the
setting, the environment variable and the flag.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["ENV_PREFIX", "KafkaSecurity", "Settings", "SettingsError", "TopicNames"]

ENV_PREFIX = "PROJECT_ENGINE_"
StoreKind = Literal["memory", "rocksdb"]
_HOSTPORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class TopicNames:
    """The public and internal topic names, all carrying the configured prefix."""

    input: str
    queries: str
    results: str
    errors: str
    dlq: str
    matches: str
    apply: str
    acks: str
    query_exec: str
    query_partials: str

    @classmethod
    def with_prefix(cls, prefix: str) -> TopicNames:
        return cls(
            input=f"{prefix}graph-input",
            queries=f"{prefix}graph-queries",
            results=f"{prefix}graph-results",
            errors=f"{prefix}graph-errors",
            dlq=f"{prefix}graph-dlq",
            matches=f"{prefix}graph-matches",
            apply=f"{prefix}graph-apply",
            acks=f"{prefix}graph-acks",
            query_exec=f"{prefix}graph-query-exec",
            query_partials=f"{prefix}graph-query-partials",
        )

    def public(self) -> tuple[str, ...]:
        return (self.input, self.queries, self.results, self.errors, self.dlq, self.matches)

    def all(self) -> tuple[str, ...]:
        return (*self.public(), self.apply, self.acks, self.query_exec, self.query_partials)


@dataclass(frozen=True)
class KafkaSecurity:
    """How every Kafka client authenticates; the password never appears in repr or logs."""

    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @property
    def uses_tls(self) -> bool:
        return self.ssl_cafile is not None or self.ssl_certfile is not None

    @property
    def protocol(self) -> str:
        if self.sasl_mechanism:
            return "SASL_SSL" if self.uses_tls else "SASL_PLAINTEXT"
        return "SSL" if self.uses_tls else "PLAINTEXT"


@dataclass(frozen=True)
class Settings:
    """Everything a worker, the SDK, the CLI or the local broker needs to know."""

    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    partitions: int = 4
    replication_factor: int = 1
    store: StoreKind = "memory"
    data_dir: Path = Path("./engine-data")
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    app_id: str = "project-engine"
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "console"
    shutdown_timeout: float = 30.0
    # RocksDB store: write the held partitions to a snapshot at a clean stop, read at start.
    snapshot_on_stop: bool = True
    max_message_bytes: int = 1_000_000
    max_items_per_chunk: int = 10_000
    max_id_length: int = 256
    max_props_bytes: int = 16_384
    max_nesting_depth: int = 16
    query_cache_size: int = 10_000
    query_max_visited: int = 100_000
    query_max_frontier: int = 50_000
    query_max_result: int = 100_000
    query_timeout_ms: int = 30_000
    # Graph steps applied per event-loop turn while ingesting (ops validated: twice as many).
    # Smaller answers queries sooner during an ingest; larger ingests faster.
    ingest_slice: int = 64
    # Extra event-loop turns the ingest agents give up after each slice while queries are
    # arriving (one read within the last second); 0: one turn per slice, as without queries.
    query_priority_turns: int = 3
    # Nodes and edges a whole-partition scan (digest, top_degree), and stored records a
    # rebuild of local state, reads between two turns of the event loop; 0: in one go.
    scan_slice: int = 2048
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @property
    def topics(self) -> TopicNames:
        return TopicNames.with_prefix(self.topic_prefix)

    @property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap.split(",")]

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from flag values (``None`` means unset), then env, then defaults."""
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        env = env or {}
        values: dict[str, Any] = {}
        sec_values: dict[str, Any] = {}
        for name, parse in _PARSERS.items():
            raw: Any = overrides.get(name)
            source = f"--{name.replace('_', '-')}"
            if raw is None:
                env_name = ENV_PREFIX + name.upper()
                if name == "bootstrap":
                    env_name = ENV_PREFIX + "BOOTSTRAP"
                raw = env.get(env_name)
                source = env_name
            if raw is None:
                continue
            try:
                parsed = parse(raw) if isinstance(raw, str) else _check_typed(name, raw)
            except (ValueError, TypeError) as exc:
                raise SettingsError(f"setting {name} ({source}): {exc}") from None
            if name in _SECURITY_FIELDS:
                sec_values[name] = parsed
            else:
                values[name] = parsed
        settings = cls(**values, security=KafkaSecurity(**sec_values))
        settings.validate()
        return settings

    def validate(self) -> None:
        """Check cross-field rules; raise :class:`SettingsError` naming the setting."""
        _check("bootstrap", _parse_bootstrap, self.bootstrap)
        _check("partitions", _positive_int, self.partitions)
        _check("replication_factor", _positive_int, self.replication_factor)
        _check("web_port", _port, self.web_port)
        _check("store", _store, self.store)
        sec = self.security
        if sec.sasl_mechanism and not (sec.username and sec.password):
            raise SettingsError(
                "setting sasl_mechanism: needs both username and password "
                f"({ENV_PREFIX}USERNAME, {ENV_PREFIX}PASSWORD)"
            )
        if bool(sec.ssl_certfile) != bool(sec.ssl_keyfile):
            raise SettingsError("setting ssl_certfile: ssl_certfile and ssl_keyfile go together")


def _check(name: str, parse: Callable[[Any], Any], value: Any) -> None:
    try:
        parse(str(value) if not isinstance(value, str) else value)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"setting {name}: {exc}") from None


def _check_typed(name: str, value: Any) -> Any:
    parse = _PARSERS[name]
    if isinstance(value, (Path, int | float)):
        return parse(str(value))
    raise TypeError(f"unexpected value {value!r}")


def _parse_bootstrap(raw: str) -> str:
    parts = [p.strip() for p in raw.split(",")]
    if not parts or any(not _HOSTPORT.match(p) for p in parts):
        raise ValueError(f"expected host:port[,host:port...], got {raw!r}")
    for p in parts:
        _port(p.rsplit(":", 1)[1])
    return ",".join(parts)


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"must be positive, got {value}")
    return value


_FLAGS = {"true": True, "1": True, "yes": True, "on": True}
_FLAGS.update({"false": False, "0": False, "no": False, "off": False})


def _flag(raw: str) -> bool:
    value = _FLAGS.get(raw.strip().lower())
    if value is None:
        raise ValueError(f"expected true or false, got {raw!r}")
    return value


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"expected a port number, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise ValueError(f"port must be 1-65535, got {value}")
    return value


def _store(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("memory", "rocksdb"):
        raise ValueError(f"unknown store {raw!r} (expected memory or rocksdb)")
    return value


def _choice(*options: str, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise ValueError(f"unknown value {raw!r} (expected one of {', '.join(options)})")
        return value

    return parse


def _text(raw: str) -> str:
    return raw


def _nonempty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


def _topic_prefix(raw: str) -> str:
    if raw and not re.fullmatch(r"[A-Za-z0-9._\-]+", raw):
        raise ValueError(f"topic prefix may hold only letters, digits, '.', '_', '-': {raw!r}")
    return raw


def _sasl(raw: str) -> str | None:
    value = raw.strip().upper()
    if not value or value == "NONE":
        return None
    if value not in _SASL_MECHANISMS:
        raise ValueError(f"unknown SASL mechanism {raw!r} (expected {', '.join(_SASL_MECHANISMS)})")
    return value


def _existing_file(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {raw}")
    return path


_PARSERS: dict[str, Callable[[str], Any]] = {
    "bootstrap": _parse_bootstrap,
    "topic_prefix": _topic_prefix,
    "partitions": _positive_int,
    "replication_factor": _positive_int,
    "store": _store,
    "data_dir": lambda raw: Path(raw).expanduser(),
    "web_port": _port,
    "web_host": _nonempty,
    "app_id": _nonempty,
    "log_level": _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
    "log_format": _choice("json", "console"),
    "shutdown_timeout": _positive_float,
    "snapshot_on_stop": _flag,
    "max_message_bytes": _positive_int,
    "max_items_per_chunk": _positive_int,
    "max_id_length": _positive_int,
    "max_props_bytes": _positive_int,
    "max_nesting_depth": _positive_int,
    "query_cache_size": _non_negative_int,
    "query_max_visited": _positive_int,
    "query_max_frontier": _positive_int,
    "query_max_result": _positive_int,
    "query_timeout_ms": _positive_int,
    "ingest_slice": _positive_int,
    "query_priority_turns": _non_negative_int,
    "scan_slice": _non_negative_int,
    "sasl_mechanism": _sasl,
    "username": _text,
    "password": _text,
    "ssl_cafile": _existing_file,
    "ssl_certfile": _existing_file,
    "ssl_keyfile": _existing_file,
}
_SECURITY_FIELDS = frozenset(
    {"sasl_mechanism", "username", "password", "ssl_cafile", "ssl_certfile", "ssl_keyfile"}
)
