"""`trust`: root of trust and trust domain across clusters (fingerprints, subjects, expiry)."""

from __future__ import annotations

import diagnostics.checks  # noqa: F401 - registers the checks
from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs, UsageError
from handlers.options import reject_options, request

NAME = "trust"
CHECKS = ["root-of-trust", "trust-domain"]


def build(parsed: ParsedArgs) -> Request:
    if parsed.positionals:
        raise UsageError("trust takes no arguments", NAME)
    reject_options(parsed, NAME, "namespace", "from")
    req = request(NAME, {}, list(CHECKS), parsed)
    req.read_all_clusters = True  # trust is a property between clusters: --cluster only focuses
    return req


SPEC = CommandSpec(
    name=NAME,
    summary="root of trust and trust domain across clusters",
    usage="trust [--cluster <name>]...",
    examples=("trust",),
    build=build,
)
