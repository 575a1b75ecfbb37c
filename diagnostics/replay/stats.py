"""What a set of replay servers was asked, and how long each answer kept its caller waiting.

Every request is recorded with when it arrived and when its answer was complete (for a
port-forward, when the stream closed). From these the servers can say, without measuring a
client from inside, how many requests a diagnosis made and how many of them had to wait for an
earlier answer: the longest chain of requests each of which started only after the previous one
had finished. That chain is the number of round trips of API latency the caller paid, whatever
the latency; tests assert on it and bench/mesh_scale.py reports it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable


@dataclass(frozen=True)
class RequestRecord:
    """One request one replayed cluster answered."""

    cluster: str
    method: str
    path: str  # with the query string
    accept: str
    started: float  # time.monotonic() on arrival
    finished: float  # when the answer was complete
    status: int
    bytes: int  # bytes written for the answer, headers included (0 for a stream)

    def as_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> RequestRecord:
        return cls(**json.loads(line))


def dependent_rounds(records: Iterable[RequestRecord]) -> int:
    """The longest chain r1, r2, ... in which each request arrived after the previous one's
    answer was complete: how many round trips the caller waited through one after another.

    Requests sent together count once, however many; a second page asked with the first
    page's continue token, or a config_dump asked after the pod list that named the proxy,
    counts again. O(n log n): arrivals and completions are swept in time order, completions
    first on a tie (an answer complete when the next request arrives was waited for).
    """
    events = []
    for i, r in enumerate(records):
        events.append((r.started, 1, i))
        events.append((r.finished, 0, i))
    events.sort()
    chain: dict[int, int] = {}
    longest_done = 0
    for _, kind, i in events:
        if kind == 1:
            chain[i] = longest_done + 1
        else:
            longest_done = max(longest_done, chain[i])
    return longest_done


@dataclass
class ReplayStats:
    """Counters and request records shared by a set of replay servers; lets tests see that
    options took effect, and what a caller asked, without measuring time.

    `sink`, when set, receives every record as it completes (`meshbot replay --request-log`
    writes them to a file, one JSON object per line, for a caller in another process).
    """

    requests: int = 0
    delayed_requests: int = 0
    records: list[RequestRecord] = field(default_factory=list)
    sink: Callable[[RequestRecord], None] | None = None
    keep: bool = True  # False: only the sink sees records (a long-running `meshbot replay`)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, record: RequestRecord) -> None:
        if self.keep:
            with self._lock:
                self.records.append(record)
        if self.sink is not None:
            self.sink(record)

    def mark(self) -> int:
        """A position to measure from: `since(mark)` is what was asked after it."""
        with self._lock:
            return len(self.records)

    def since(self, mark: int = 0) -> list[RequestRecord]:
        with self._lock:
            return list(self.records[mark:])


def now() -> float:
    return time.monotonic()
