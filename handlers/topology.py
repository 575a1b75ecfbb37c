"""`topology`: a picture of the mesh — which istiod reads which cluster, networks, gateways,
trust roots — with the text of the mesh-wide steps it is drawn from.

The picture is drawn from this report alone (diagnostics/render/topology_model.py): the
clusters read, each primary's remote secrets and its replicas' view of each peer, the networks
and their east-west gateways, and the roots of trust. In a terminal `-o png|svg` writes it.
"""

from __future__ import annotations

from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs
from handlers.options import CLUSTER_VIEW, mesh_wide

NAME = "topology"
CHECKS = [
    "mesh-membership",  # 0. the clusters read, their ids and data planes, those not read
    "cluster-ids",  # 1. every cluster has its own id
    "istiod-health",  # 2. the istiod replicas of each cluster
    "remote-secrets",  # 3. istiod -> cluster edges: the secret for each peer
    "istiod-remote-view",  # 4. each replica's sync state for each peer
    "mesh-networks",  # 5. networks and their east-west gateways
    "root-of-trust",  # 6. trust roots, grouped by shared certificate
    "trust-domain",  # 7. trust domains
]


def build(parsed: ParsedArgs) -> Request:
    return mesh_wide(parsed, NAME, CHECKS)


SPEC = CommandSpec(
    name=NAME,
    summary="a picture of the mesh: which istiod reads which cluster, networks and east-west "
            "gateways, trust roots, each finding drawn where it is",
    usage="topology [--cluster <name>]...",
    examples=("topology", "topology -o png --out mesh.png"),
    build=build,
    checks=tuple(CHECKS),
    options={"clusters": CLUSTER_VIEW},
)
