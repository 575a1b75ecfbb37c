"""Polling helper: tests wait for a condition, never sleep blindly."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def wait_for(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = 5.0,
                   interval: float = 0.005, message: str | None = None) -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy; return that value.

    Raises AssertionError (with `message`, or the predicate's name) after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
