"""`trust`: root of trust and trust domain across clusters (fingerprints, subjects, expiry)."""

from __future__ import annotations

from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs
from handlers.options import CLUSTER_VIEW, mesh_wide

NAME = "trust"
# 0. the clusters read and those the mesh names but not read; then roots and trust domains
CHECKS = ["mesh-membership", "root-of-trust", "trust-domain"]


def build(parsed: ParsedArgs) -> Request:
    return mesh_wide(parsed, NAME, CHECKS)


SPEC = CommandSpec(
    name=NAME,
    summary="root of trust and trust domain across clusters",
    usage="trust [--cluster <name>]...",
    examples=("trust",),
    build=build,
    checks=tuple(CHECKS),
    options={"clusters": CLUSTER_VIEW},
)
