"""The ``project-engine`` command line: builds the parser from the command modules and runs one.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func`` (taking the parsed namespace, returning an exit code). Settings are built here,
from flags and the environment, and handed to the command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from schemas.settings import Settings, SettingsError

__all__ = ["build_parser", "main", "settings_from_args"]

COMMAND_MODULES = (
    "broker",
    "worker",
    "demo",
    "publish",
    "query",
    "tail",
    "status",
    "export",
    "import_log",
    "replay",
    "digest",
)


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that talks to Kafka; unset flags fall back to env."""
    g = parser.add_argument_group("connection (env PROJECT_ENGINE_<NAME> when a flag is unset)")
    g.add_argument("--bootstrap", help="Kafka bootstrap servers host:port[,...] (127.0.0.1:9092)")
    g.add_argument("--topic-prefix", help="prefix for every topic name ('')")
    g.add_argument("--partitions", help="partitions of each engine topic (4)")
    g.add_argument("--sasl-mechanism", help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    g.add_argument("--username", help="SASL user name")
    g.add_argument("--ssl-cafile", help="CA file for TLS")
    g.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (INFO)")
    g.add_argument("--log-format", help="json or console (console)")


_SETTING_FLAGS = (
    "bootstrap",
    "topic_prefix",
    "partitions",
    "replication_factor",
    "store",
    "data_dir",
    "web_port",
    "web_host",
    "app_id",
    "log_level",
    "log_format",
    "shutdown_timeout",
    "sasl_mechanism",
    "username",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Build the settings object from parsed flags, then the environment, then defaults."""
    overrides = {name: getattr(args, name, None) for name in _SETTING_FLAGS}
    return Settings.load(overrides, env=os.environ)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="project-engine",
        description="A streaming graph engine on Apache Kafka.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"project_engine.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"project-engine: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
