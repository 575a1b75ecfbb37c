"""Structured logs (structlog), JSON by default, with secrets redacted before anything is written.

Every event passes through `_redact`: Slack tokens, bearer tokens, JWTs and private keys are
replaced wherever they appear, so a careless log call cannot leak them. In the console format,
control characters in logged text (a newline in a request bolt did not handle, an escape
sequence) are written escaped, so text from outside cannot forge or hide log lines; the JSON
format escapes them by itself.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, Callable

import structlog

from diagnostics.redact import REDACTED, redact_log

_SENSITIVE_KEYS = ("token", "secret", "password", "authorization")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_log(value)
    if isinstance(value, dict):
        return {k: REDACTED if any(s in str(k).lower() for s in _SENSITIVE_KEYS) else _scrub(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    return value


def _redact(_logger: Any, _method: str, event: dict) -> dict:
    return _scrub(event)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`a\nb` -> `a\\nb`: control characters as Python writes them in a string literal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _escape(_logger: Any, _method: str, event: dict) -> dict:
    """Console lines only: each event stays one line whatever text it carries."""
    return {k: escape_controls(v) if isinstance(v, str) else v for k, v in event.items()}


def configure(log_format: str = "json", level: str = "INFO") -> None:
    """Configure structlog and route the standard library's logging through it."""
    console = log_format != "json"
    renderer = (structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) if console
                else structlog.processors.JSONRenderer())
    scrub = [_redact, _escape] if console else [_redact]
    shared = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
              structlog.processors.TimeStamper(fmt="iso", utc=True), *scrub]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *scrub, renderer],
        foreign_pre_chain=shared[:-len(scrub)]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get(name: str = "meshbot") -> Any:
    return structlog.get_logger(name)


class Throttle:
    """Lets an event through at most once per `interval` seconds, for events outsiders can cause
    at will (bad signatures, malformed requests), and counts the ones it held back."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.interval, self.clock = interval, clock
        self._last: float | None = None
        self._held = 0

    def allow(self) -> int | None:
        """None to stay quiet; else how many were held back since the last one let through."""
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self._held += 1
            return None
        held, self._last, self._held = self._held, now, 0
        return held


class Throttled:
    """A logger's warnings, at most one line per interval (see Throttle)."""

    def __init__(self, logger: Any, throttle: Throttle | None = None):
        self.logger, self.throttle = logger, throttle or Throttle()

    def warning(self, event: str, **fields: Any) -> None:
        held = self.throttle.allow()
        if held is not None:
            self.logger.warning(event, unlogged_since_last=held, **fields)
