"""Counting the API calls one diagnosis makes, even when diagnoses run side by side.

A counter lives in a context variable: the engine opens one per diagnosis, every task and
worker thread it starts inherits it, and sources add to whatever counter is current. A shared
source therefore reports honest per-diagnosis numbers in the bot, where many run at once.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class CallCounter:
    calls: int = 0
    by_cluster: dict[str, int] = field(default_factory=dict)


_current: contextvars.ContextVar[CallCounter | None] = contextvars.ContextVar(
    "meshbot_call_counter", default=None)


def record_call(n: int = 1, cluster: str | None = None) -> None:
    """Count `n` network requests (to `cluster`) against the diagnosis running in this context."""
    counter = _current.get()
    if counter is not None:
        counter.calls += n
        if cluster:
            counter.by_cluster[cluster] = counter.by_cluster.get(cluster, 0) + n


@contextmanager
def counting() -> Iterator[CallCounter]:
    counter = CallCounter()
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)
