"""Faust wiring: topics, the state table and the agents that feed the pure core.

Agents are thin: decode, call :mod:`pipeline`, write the table, send. Everything is built
by :func:`build_engine` from a :class:`schemas.settings.Settings`; nothing registers at
import time.
"""

from agents.app import EngineApp, build_engine

__all__ = ["EngineApp", "build_engine"]
