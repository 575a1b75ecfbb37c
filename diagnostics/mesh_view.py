"""Naming what a proxy receives: which pod or gateway, in which cluster, stands behind an address.

A proxy's endpoint list is addresses; an engineer needs "local pod helloworld-v1 in cluster1"
or "cluster2's east-west gateway". These indexes are built from the objects of every cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.parse.envoy import Endpoint
from diagnostics.workloads import labels_of, name_of, namespace_of, pod_ip

NETWORK_LABEL = "topology.istio.io/network"


@dataclass(frozen=True)
class Where:
    """What stands behind an endpoint address."""

    kind: str  # "pod" | "gateway" | "unknown"
    cluster: str | None
    name: str | None
    network: str | None = None


def pod_index(pods_by_cluster: dict[str, list[dict]]) -> dict[str, Where]:
    out = {}
    for cluster, pods in pods_by_cluster.items():
        for pod in pods:
            ip = pod_ip(pod)
            if ip:
                out[ip] = Where("pod", cluster, name_of(pod), labels_of(pod).get(NETWORK_LABEL))
    return out


def gateway_addresses(svc: dict) -> list[str]:
    """External addresses of a Service: load-balancer ingress IPs/hostnames and externalIPs."""
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    addrs = [i.get("ip") or i.get("hostname") for i in
             (status.get("loadBalancer") or {}).get("ingress") or []]
    return [a for a in addrs + list(spec.get("externalIPs") or []) if a]


def is_eastwest_gateway(svc: dict) -> bool:
    """A Service istiod treats as a network gateway: labelled with a network, or named so."""
    labels = labels_of(svc)
    return NETWORK_LABEL in labels or labels.get("istio") == "eastwestgateway" \
        or "eastwest" in name_of(svc)


def gateway_index(services_by_cluster: dict[str, list[dict]]) -> dict[str, Where]:
    out = {}
    for cluster, services in services_by_cluster.items():
        for svc in services:
            if not is_eastwest_gateway(svc):
                continue
            for addr in gateway_addresses(svc):
                out[addr] = Where("gateway", cluster, f"{namespace_of(svc)}/{name_of(svc)}",
                                  labels_of(svc).get(NETWORK_LABEL))
    return out


def locate(ep: Endpoint, pods: dict[str, Where], gateways: dict[str, Where]) -> Where:
    if ep.address in pods:
        return pods[ep.address]
    if ep.address in gateways:
        return gateways[ep.address]
    return Where("unknown", ep.origin_cluster, None)


def describe_endpoint(ep: Endpoint, where: Where, client_cluster: str) -> str:
    if where.kind == "pod":
        side = "local" if where.cluster == client_cluster else "remote"
        what = f"{side} pod {where.name} ({where.cluster})"
    elif where.kind == "gateway":
        what = f"east-west gateway {where.name} of {where.cluster}"
    else:
        origin = f" from {ep.origin_cluster}" if ep.origin_cluster else ""
        what = f"unknown address{origin}"
    prio = f", priority {ep.priority}" if ep.priority else ""
    loc = f", {ep.locality}" if ep.locality else ""
    # Envoy load-balances to UNKNOWN like HEALTHY; istiod sends gateway endpoints without status.
    health = "no health status (used as healthy)" if ep.health == "UNKNOWN" else ep.health
    return f"{ep.target} {what}: {health}{prio}{loc}"
