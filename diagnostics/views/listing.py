"""Evidence that stays readable on big meshes: a short list whole, a long one as counts per kind
with a few examples of each.

A client of a 10,000-pod service receives 10,000 endpoints; listing each one made a single
step a megabyte of text that nobody reads, in the terminal, in Slack and in the JSON report.
What a person needs from such a list is how many there are of each kind (local or remote,
healthy or not, which network) and an example or two to look up.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

#: A list this long or shorter is given whole, every line as it was written.
LISTED = 20
#: Examples shown for each kind of a longer list.
EXAMPLES = 2


def listed(items: Iterable[tuple[str, Any]], noun: str, indent: str = "",
           line: Callable[[Any], str] = str) -> list[str]:
    """`items` as (kind, line) pairs: every line when there are at most LISTED; otherwise one
    line per kind, in the order kinds first appear, saying how many `noun`s (a singular,
    made plural with an s) are of that kind, with its first EXAMPLES lines. With `line`, the
    second of each pair is what it writes the line from, written only for a line shown (of
    10,000 endpoints, a few)."""
    pairs = list(items)
    if len(pairs) <= LISTED:
        return [indent + line(what) for _, what in pairs]
    kinds: dict[str, list[Any]] = {}
    for kind, what in pairs:
        kinds.setdefault(kind, []).append(what)
    out = []
    for kind, lines in kinds.items():
        more = len(lines) - EXAMPLES
        examples = "; ".join(map(line, lines[:EXAMPLES])) + (f"; … {more:,} more"
                                                               if more > 0 else "")
        plural = noun if len(lines) == 1 else f"{noun}s"
        out.append(f"{indent}{len(lines):,} {plural} {kind} (e.g. {examples})")
    return out
