"""`digest`: the mesh health digest now — the mesh-wide checks of the other commands.

Control plane, remote clusters, root of trust and proxy sync, in that order: what the morning
digest posts, and what a new incident channel gets as its first message. The networks and
their east-west gateways are described too (mesh-networks judges nothing): the digest's
topology picture shows them, and the digest reads every input that takes already.
"""

from __future__ import annotations

from handlers import control_plane, proxy_status, remote_clusters, trust
from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs
from handlers.options import CLUSTER_VIEW, mesh_wide

NAME = "digest"
CHECKS = list(dict.fromkeys(control_plane.CHECKS + remote_clusters.CHECKS + ["mesh-networks"]
                            + trust.CHECKS + proxy_status.CHECKS))


def build(parsed: ParsedArgs) -> Request:
    return mesh_wide(parsed, NAME, CHECKS)


SPEC = CommandSpec(
    name=NAME,
    summary="the mesh health digest, now: control plane, remote clusters, trust, proxy sync",
    usage="digest [--cluster <name>]...",
    examples=("digest",),
    build=build,
    checks=tuple(CHECKS),
    options={"clusters": CLUSTER_VIEW},
)
