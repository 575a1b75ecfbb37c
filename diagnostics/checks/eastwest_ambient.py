"""control-plane: each cluster's ambient east-west gateway, as the peer istiods will judge it.

A Gateway of class `istio-east-west` is what other clusters' istiods use as this network's
ambient gateway, only when it carries the network label, an HBONE listener with TLS mode
Terminate and an address in `status.addresses` (diagnostics/views/ambient_gateways.py). Checked
here without a service in mind: what `why-local-only` finds per network, ahead of time.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import ISTIO_SERVICES, K8S_GATEWAYS, NAMESPACES, ZTUNNEL_PODS
from diagnostics.model import Finding, Step
from diagnostics.views.ambient_gateways import (ambient_eastwest_gateways, gateway_findings,
                                                service_of)
from diagnostics.views.mesh import NETWORK_LABEL
from diagnostics.views.networks import system_namespace
from diagnostics.workloads import labels_of


@check("eastwest-ambient", title="Ambient east-west gateways",
       inputs=(K8S_GATEWAYS, ISTIO_SERVICES, NAMESPACES, ZTUNNEL_PODS),
       emits=("ambient-eastwest-gateway-invalid", "eastwest-gateway-pending"))
def eastwest_ambient(ctx: CheckContext) -> list[Step]:
    """In every cluster running ambient mode, judge each istio-east-west Gateway as the peer
    istiods do: network label, HBONE listener with TLS Terminate, an external address."""
    title = "Ambient east-west gateways"

    def one(cluster: str) -> Step | None:
        if not ctx.get(ZTUNNEL_PODS, cluster):
            return None
        gateways = ambient_eastwest_gateways(ctx.get(K8S_GATEWAYS, cluster))
        ns = system_namespace(ctx.get(NAMESPACES, cluster), ctx.info(cluster).istio_namespace)
        network = labels_of(ns or {}).get(NETWORK_LABEL)
        if not gateways:
            return ctx.step(title, cluster, ["no Gateway of class istio-east-west: other "
                                             "networks cannot reach this cluster's ambient "
                                             f"workloads (network {network or 'unset'})"],
                            status="pass")
        evidence: list[str] = [f"cluster network: {network or '(system namespace unlabelled)'}"]
        findings: list[Finding] = []
        for gw in gateways:
            findings += _judge(ctx, cluster, gw, network, evidence)
        return ctx.step(title, cluster, evidence, findings)

    return per_cluster(ctx, title, ctx.focus, one)


def _judge(ctx: CheckContext, cluster: str, gw: dict, network: str | None,
           evidence: list[str]) -> list[Finding]:
    svc = service_of(gw, ctx.get(ISTIO_SERVICES, cluster))
    want = network or labels_of(gw).get(NETWORK_LABEL) or f"<network of {cluster}>"
    return gateway_findings(ctx, cluster, gw, want, svc, evidence, [])
