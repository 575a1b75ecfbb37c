"""`ping`: can meshbot read the clusters and post here? The cheapest read of every cluster.

In Slack the answer is one message (posting it proves meshbot can post in the channel), with
what each cluster answered and how long it took; it is never served from the cache.
"""

from __future__ import annotations

from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs, UsageError
from handlers.options import request

NAME = "ping"
CHECKS = ["kubernetes-read"]


def build(parsed: ParsedArgs) -> Request:
    if parsed.positionals:
        raise UsageError("ping takes no arguments (use --cluster <name>)", NAME)
    return request(NAME, {}, list(CHECKS), parsed)


SPEC = CommandSpec(
    name=NAME,
    summary="whether meshbot can read every cluster (namespaces listed, time taken) and post",
    usage="ping [--cluster <name>]...",
    examples=("ping", "ping --cluster cluster1"),
    build=build,
    checks=tuple(CHECKS),
    options={"clusters": "read only this cluster (default: every cluster)"},
)
