"""Structured logs (structlog), JSON by default, with secrets redacted before anything is written.

Every event passes through `_redact`: Slack tokens, bearer tokens, JWTs and private keys are
replaced wherever they appear, so a careless log call cannot leak them.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from diagnostics.redact import REDACTED, redact_log

_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{6,}")
_SENSITIVE_KEYS = ("token", "secret", "password", "authorization")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SLACK_TOKEN.sub(REDACTED, redact_log(value))
    if isinstance(value, dict):
        return {k: REDACTED if any(s in str(k).lower() for s in _SENSITIVE_KEYS) else _scrub(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    return value


def _redact(_logger: Any, _method: str, event: dict) -> dict:
    return _scrub(event)


def configure(log_format: str = "json", level: str = "INFO") -> None:
    """Configure structlog and route the standard library's logging through it."""
    renderer = (structlog.processors.JSONRenderer() if log_format == "json"
                else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    shared = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
              structlog.processors.TimeStamper(fmt="iso", utc=True), _redact]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _redact, renderer],
        foreign_pre_chain=shared[:-1]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get(name: str = "meshbot") -> Any:
    return structlog.get_logger(name)
