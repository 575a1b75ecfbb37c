"""Networks and east-west gateways of the whole mesh, described rather than judged.

`why-local-only` judges a network's gateway for one service (network-gateways); the topology
picture needs the map without a service: each cluster's network (as every source states it,
in istiod's order of trust) and each east-west gateway Service with the address other networks
reach it at and the listeners that accept their traffic. It emits no finding: a gap it shows
is diagnosed where a service's traffic is examined.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.inputs import (ISTIOD_PODS, ISTIO_GATEWAYS, ISTIO_PODS, K8S_GATEWAYS,
                                SERVICES)
from diagnostics.model import Step
from diagnostics.views.gateways import describe_gateway, gateway_data
from diagnostics.views.mesh import looks_like_eastwest_gateway
from diagnostics.views.networks import NETWORK_INPUTS, gather_networks, network_map

TITLE = "Networks and east-west gateways"


@check("mesh-networks", title=TITLE,
       inputs=(*NETWORK_INPUTS, ISTIO_GATEWAYS, K8S_GATEWAYS, ISTIO_PODS, ISTIOD_PODS))
def mesh_networks(ctx: CheckContext) -> list[Step]:
    """Name each cluster's network and the east-west gateways each network exposes, with the
    address other networks reach them at and their listeners."""
    mesh = gather_networks(ctx)
    evidence = [n.describe() for n in mesh.clusters.values()]
    gateways = []
    for cluster, services in ctx.available(SERVICES).items():
        for svc in services:
            if not looks_like_eastwest_gateway(svc):
                continue
            gw = gateway_data(ctx, cluster, svc, mesh.of(cluster), [])
            gateways.append(gw)
            evidence.append(describe_gateway(svc, cluster) + "; listeners: "
                            + (", ".join(gw["listeners"]) or "none found"))
    if mesh.multi and not gateways:
        evidence.append("no east-west gateway Service in any cluster read")
    step = ctx.step(TITLE, None, evidence, status="pass")
    step.data = {"networks": network_map(mesh), "gateways": gateways}
    return [step]
