"""`control-plane [--cluster <name>]`: istiod health, webhooks and external control plane wiring.

Per cluster: istiod pods with their state, version and resources; the injection and validation
webhooks and whether they reach a live istiod; and for external (and primary-remote) control
planes the config-type secret, the gateway exposing 15012/15017, the controlPlaneClusters
annotation of each remote and the injection URLs of remote installs.
"""

from __future__ import annotations

from handlers.base import CommandSpec, Request
from handlers.grammar import ParsedArgs
from handlers.options import CLUSTER_VIEW, mesh_wide

NAME = "control-plane"
CHECKS = [
    "istiod-health",  # 1. pods: Pending, crash loops, OOM kills, readiness; versions, resources
    "webhooks",  # 2. injection and validation webhooks reach a live istiod
    "external-control-plane",  # 3. config secret, exposure, controlPlaneClusters, injection URLs
    "node-agents",  # 4. ambient: ztunnel and istio-cni on every node
    "ambient-multinetwork",  # 5. ambient: istiod's multi-network switch, ztunnel's network
    "eastwest-ambient",  # 6. ambient: the istio-east-west gateway as peers judge it
]


def build(parsed: ParsedArgs) -> Request:
    return mesh_wide(parsed, NAME, CHECKS)


SPEC = CommandSpec(
    name=NAME,
    summary="istiod health, webhooks and external/remote control plane wiring",
    usage="control-plane [--cluster <name>]...",
    examples=("control-plane", "control-plane --cluster cluster1"),
    build=build,
    checks=tuple(CHECKS),
    options={"clusters": CLUSTER_VIEW},
)
