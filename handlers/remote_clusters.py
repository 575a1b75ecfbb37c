"""`remote-clusters`: whether each istiod sees each remote cluster, and if not, why.

For every primary (and external) istiod of the mesh and every cluster it should read: that the
clusters have distinct ids, that the remote secret is there with the right key, then what each
istiod replica's `/debug/clusterz` and log say, with the cause (reachability, DNS, TLS,
credentials, kubeconfig, NetworkPolicy). The replica × cluster × status table is in the
evidence of the `istiod-remote-view` step.
"""

from __future__ import annotations

from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs
from handlers.options import CLUSTER_VIEW, mesh_wide

NAME = "remote-clusters"
CHECKS = [
    "mesh-membership",  # 0. the clusters read, their ids, and those the mesh names but not read
    "cluster-ids",  # 1. every cluster has its own id (secret keys, CLUSTER_ID, clusterName)
    "remote-secrets",  # 2. each primary holds a secret keyed by each peer's id
    "istiod-serving",  # 3. an istiod that does not run reads no peer at all
    "istiod-remote-view",  # 4. each replica reads each peer: clusterz, logs, kubeconfig, policies
]


def build(parsed: ParsedArgs) -> Request:
    return mesh_wide(parsed, NAME, CHECKS)


SPEC = CommandSpec(
    name=NAME,
    summary="whether each istiod sees each remote cluster, and if not, why",
    usage="remote-clusters [--cluster <name>]...",
    examples=("remote-clusters", "remote-clusters --cluster cluster1"),
    build=build,
    checks=tuple(CHECKS),
    options={"clusters": CLUSTER_VIEW},
)
