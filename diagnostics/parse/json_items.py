"""A JSON body decoded one top-level item at a time, each reduced as soon as it is decoded.

istiod's syncz is a list with one entry per proxy, its endpointShardz an object with one entry
per service: at 10,000 proxies each is 17 MB of JSON and about 40 MB of objects once decoded.
Where the checks keep only a reduction of each entry (diagnostics/inputs.py IstiodDebug), the
body is decoded entry by entry and each entry reduced at once: one entry's objects are alive at
a time instead of the whole body's, and their memory is reused for the next (a syncz of 10,000
proxies: 13,800 -> 5,000 page faults, peak 85 -> 50 MB, no more CPU).

A Compaction may also replace objects as they are decoded (json's object_hook) where it keeps
only that they were there: endpointShardz's endpoints, of which only the count is kept, are
dropped one by one as they are built (a ten-cluster mesh's 16 MB body: 0.12 -> 0.07 s of CPU,
11,900 -> 40 page faults).

Faster still, a Compaction may carry a typed decoder (msgspec) for the body exactly as istiod
writes it: only the fields the reduction reads become objects, the rest is skipped in C (a
syncz of 10,000 proxies: 0.25 -> 0.09 s; endpointShardz's 16 MB: 0.07 -> 0.015 s). It answers
None for a body in any other shape or spelling (an unknown key, an unexpected type), which is
then decoded item by item as above, so both paths give the same reduction
(tests/test_json_items.py holds them to it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from json.decoder import scanstring
from typing import Any, Callable

_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace (RFC 8259)


@dataclass(frozen=True)
class Compaction:
    """What a body is reduced to (`reduce`, see decode_itemwise), and an `object_hook` that
    may stand in for objects the reduction reads nothing of (it must reduce the same)."""

    reduce: Callable[[Any], list]
    object_hook: Callable[[dict], Any] | None = None
    # The reduction straight from the text where it is in istiod's own shape and spelling;
    # None for any other body (it must then give what `reduce` gives).
    typed: Callable[[str | bytes | memoryview], list | None] | None = None

    def __call__(self, body: Any) -> list:
        return self.reduce(body)


@lru_cache(maxsize=8)
def _decoder(object_hook: Callable[[dict], Any] | None) -> json.JSONDecoder:
    return json.JSONDecoder(object_hook=object_hook)


def _skip(text: str, idx: int) -> int:
    return _SPACE.match(text, idx).end()


def _expect(text: str, idx: int, char: str) -> int:
    if text[idx:idx + 1] != char:
        raise ValueError(f"expected {char!r} at {idx}")
    return _skip(text, idx + 1)


def decode_itemwise(text: str, reduce: Callable[[Any], list]) -> list:
    """`reduce(json.loads(text))`, for a `reduce` that maps a list body item by item and an
    object body key by key (reduce(a + b) == reduce(a) + reduce(b)); anything else (`null`, a
    string) is decoded whole. Raises ValueError where json.loads would. An object with the same
    key twice (which Go's encoding/json never writes) gives both, not the last. A Compaction's
    object_hook is applied as json's is."""
    decoder = _decoder(getattr(reduce, "object_hook", None))
    idx = _skip(text, 0)
    opener = text[idx:idx + 1]
    if opener not in ("[", "{"):
        return reduce(decoder.decode(text))
    closer = "]" if opener == "[" else "}"
    out: list = []
    idx = _skip(text, idx + 1)
    if text[idx:idx + 1] == closer:
        return _end(text, idx + 1, out)
    while True:
        if opener == "{":
            if text[idx:idx + 1] != '"':
                raise ValueError(f"expected an object key at {idx}")
            key, idx = scanstring(text, idx + 1)
            value, idx = decoder.raw_decode(text, _expect(text, _skip(text, idx), ":"))
            out += reduce({key: value})
        else:
            value, idx = decoder.raw_decode(text, idx)
            out += reduce([value])
        del value  # the entry's objects go before the next is decoded
        idx = _skip(text, idx)
        if text[idx:idx + 1] == closer:
            return _end(text, idx + 1, out)
        idx = _expect(text, idx, ",")


def decode_typed(body: str | bytes | memoryview, reduce: Callable[[Any], list]) -> list | None:
    """`reduce`'s reduction of the body by its typed decoder, or None where it has none or
    the body is not in the shape that decoder reads."""
    typed = getattr(reduce, "typed", None)
    return typed(body) if typed is not None else None


def decode_compacted(body: str | bytes | memoryview, reduce: Callable[[Any], list]) -> list:
    """What decode_itemwise(body, reduce) gives, by `reduce`'s typed decoder where it has one
    and the body is in the shape that decoder reads. Bytes are decoded as UTF-8, undecodable
    bytes replaced."""
    found = decode_typed(body, reduce)
    if found is not None:
        return found
    return decode_itemwise(body if isinstance(body, str) else str(body, "utf-8", "replace"),
                           reduce)


def _end(text: str, idx: int, out: list) -> list:
    if _skip(text, idx) != len(text):
        raise ValueError(f"extra data at {idx}")
    return out
