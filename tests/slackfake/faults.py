"""Fault injection: make a method fail N times (status/error) or answer late."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Failure:
    error: str
    status: int = 200
    times: int | None = 1  # None: until cleared
    retry_after: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return self.status, {"ok": False, "error": self.error, **self.extra}, headers


@dataclass
class Delay:
    seconds: float
    times: int | None = None


class FaultPlan:
    """Per-method queues of failures and delays; each call consumes the first active entry."""

    def __init__(self) -> None:
        self._failures: dict[str, list[Failure]] = {}
        self._delays: dict[str, list[Delay]] = {}

    def add_failure(self, method: str, failure: Failure) -> None:
        self._failures.setdefault(method, []).append(failure)

    def add_delay(self, method: str, delay: Delay) -> None:
        self._delays.setdefault(method, []).append(delay)

    @staticmethod
    def _take(queue: list[Any]) -> Any:
        while queue:
            entry = queue[0]
            if entry.times is None:
                return entry
            if entry.times > 0:
                entry.times -= 1
                if entry.times == 0:
                    queue.pop(0)
                return entry
            queue.pop(0)
        return None

    def take_failure(self, method: str) -> Failure | None:
        return self._take(self._failures.get(method, []))

    def take_delay(self, method: str) -> float:
        delay = self._take(self._delays.get(method, []))
        return delay.seconds if delay else 0.0

    def clear(self, method: str | None = None) -> None:
        if method is None:
            self._failures.clear()
            self._delays.clear()
        else:
            self._failures.pop(method, None)
            self._delays.pop(method, None)
