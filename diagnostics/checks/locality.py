"""Locality load balancing: remote endpoints that wait at a lower priority are working as intended.

Istio applies locality failover priorities only when the Envoy cluster has outlier detection (a
DestinationRule) or the Service asks for traffic distribution; then endpoints in other
localities get priority ≥ 1 and receive traffic only when local ones fail. That is the
by-design answer to "why only local", and it is read from what istiod actually sends.
For an ambient client the same intent reaches ztunnel as the service's load balancing mode
(trafficDistribution → Failover by Network, Region, Zone: istio/istio pilot/pkg/
serviceregistry/ambient/services.go), read from the client's ztunnel.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.facts import ClientFact, ZtunnelFact
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, CLIENT_ZTUNNEL_DUMPS, DESTINATION_RULES,
                                NODE_LABELS, SERVICES, TARGET_ENDPOINTSLICES, TARGET_POD_NETWORKS)
from diagnostics.model import Step
from diagnostics.parse.envoy import Endpoint, active_clusters, field
from diagnostics.views.endpoints import endpoints_for, service_ports
from diagnostics.views.listing import LISTED, listed
from diagnostics.views.mesh import Where, gateway_index, locate, target_pod_index
from diagnostics.views.node_agents import ztunnel_view
from diagnostics.workloads import find_service, labels_of, name_of, namespace_of

TRAFFIC_DISTRIBUTION_ANNOTATION = "networking.istio.io/traffic-distribution"
REGION, ZONE = "topology.kubernetes.io/region", "topology.kubernetes.io/zone"


def dr_selects(dr: dict, service: str, namespace: str) -> bool:
    """Whether a DestinationRule's host names the service (short, FQDN-ish or wildcard)."""
    host = str((dr.get("spec") or {}).get("host", ""))
    fqdn = f"{service}.{namespace}.svc.cluster.local"
    if host in (fqdn, f"{service}.{namespace}", f"{service}.{namespace}.svc"):
        return True
    if host == service:
        return namespace_of(dr) == namespace
    if host.startswith("*"):
        return fqdn.endswith(host[1:])
    return False


def _why_failover(ctx: CheckContext, cluster: str, envoy_cluster: dict | None) -> str:
    """Name what activates locality failover for the service in this cluster."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    reasons = []
    if envoy_cluster and field(envoy_cluster, "outlier_detection") is not None:
        drs = [d for d in ctx.available(DESTINATION_RULES).get(cluster, [])
               if dr_selects(d, name, ns)
               and ((d.get("spec") or {}).get("trafficPolicy") or {}).get("outlierDetection")]
        where = (f"DestinationRule {namespace_of(drs[0])}/{name_of(drs[0])}" if drs
                 else "a DestinationRule")
        reasons.append(f"{where} sets trafficPolicy.outlierDetection")
    svc = find_service(ctx.available(SERVICES).get(cluster, []), name, ns)
    if svc:
        distribution = (svc.get("spec") or {}).get("trafficDistribution") or \
            ((svc.get("metadata") or {}).get("annotations") or {}).get(TRAFFIC_DISTRIBUTION_ANNOTATION)
        if distribution:
            reasons.append(f"Service {name} sets trafficDistribution {distribution}")
    return "; ".join(reasons) or "the proxy's cluster has locality failover priorities"


def _client_locality(ctx: CheckContext, cluster: str, pod: dict, local: list[Endpoint]) -> str:
    node_name = (pod.get("spec") or {}).get("nodeName")
    for node in ctx.available(NODE_LABELS).get(cluster, []):
        if name_of(node) == node_name:
            labels = labels_of(node)
            if labels.get(REGION):
                return "/".join(x for x in (labels.get(REGION), labels.get(ZONE)) if x)
    return local[0].locality if local else "unknown"


def _priorities(eps: list[Endpoint], owners: list[str | None], cluster: str) -> str:
    """Each endpoint's priority; on a big service, how many are at each priority, local or
    remote, with examples."""
    if len(eps) <= LISTED:
        return ", ".join(f"{ep.target} p{ep.priority}" for ep in eps)
    def kind(owner: str | None) -> str:
        return "local" if owner == cluster else f"from {owner}" if owner else "from elsewhere"

    return "; ".join(listed(((f"at p{ep.priority} ({kind(owner)})", ep)
                             for ep, owner in zip(eps, owners)), "endpoint",
                            line=lambda ep: ep.target))


@check("locality", title="Locality load balancing",
       inputs=(CLIENT_CONFIG_DUMPS, CLIENT_ZTUNNEL_DUMPS, DESTINATION_RULES, SERVICES, NODE_LABELS,
               TARGET_ENDPOINTSLICES, TARGET_POD_NETWORKS),
       emits=("locality-lb-prefers-local",))
def locality(ctx: CheckContext) -> list[Step]:
    """Find remote endpoints held back at priority ≥ 1 while local ones serve: by design."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    ports = service_ports(ctx, name, ns)
    if not ports:
        return []
    title = "Locality load balancing"
    pods = target_pod_index(ctx)
    gateways = gateway_index(ctx.available(SERVICES))

    def where(ep: Endpoint) -> Where:
        return locate(ep, pods, gateways)

    def one(cluster: str) -> Step | None:
        clients: dict[str, ClientFact] = ctx.get(CLIENT_CONFIG_DUMPS, cluster)
        fact = next(iter(clients.values()), None)
        ambient = ctx.available(CLIENT_ZTUNNEL_DUMPS).get(cluster, {})
        if fact is None and ambient:
            return _ambient_step(ctx, title, cluster, next(iter(ambient.values())), ports)
        if fact is None or fact.missing:
            return None  # the client step already says why there is no view
        for port in ports:
            eps = endpoints_for(ctx, fact.value, name, ns, port) or []
            if eps:
                return _port_step(ctx, title, cluster, fact, port, eps, where)
        return None

    return per_cluster(ctx, title, ctx.focus, one)


def _port_step(ctx: CheckContext, title: str, cluster: str, fact: ClientFact, port: int,
               eps: list[Endpoint], where) -> Step:
    name, ns = ctx.args["service"], ctx.args["namespace"]
    owners = [where(ep).cluster or ep.origin_cluster for ep in eps]
    local = [ep for ep, owner in zip(eps, owners) if owner == cluster]
    remote = [ep for ep, owner in zip(eps, owners) if owner not in (cluster, None)]
    envoy_cluster = next((c for n, c in active_clusters(fact.value).items()
                          if n.startswith(f"outbound|{port}||{name}.{ns}.svc.")), None)
    priorities = _priorities(eps, owners, cluster)
    local_best = min((ep.priority for ep in local), default=None)
    held_back = [ep for ep in remote if local_best is not None and ep.priority > local_best]
    if not held_back:
        spread = "all endpoints share one priority: requests spread across clusters"
        return ctx.step(title, cluster, [f"{name}:{port}: {priorities}", spread])
    reason = _why_failover(ctx, cluster, envoy_cluster)
    evidence = [f"{name}:{port}: {priorities}",
                f"remote endpoints wait at priority {held_back[0].priority} behind "
                f"{len(local)} local one(s): {reason}"]
    finding = ctx.finding(
        "locality-lb-prefers-local", cluster=cluster, resource=f"Service {ns}/{name}",
        evidence=evidence, peer_cluster=where(held_back[0]).cluster or held_back[0].origin_cluster,
        pod=name_of(fact.pod), port=port, reason=reason,
        locality=_client_locality(ctx, cluster, fact.pod, local),
        peer_locality=held_back[0].locality or "unknown")
    return ctx.step(title, cluster, evidence, [finding])


def _ambient_step(ctx: CheckContext, title: str, cluster: str, fact: ZtunnelFact,
                  ports: list[int]) -> Step | None:
    """ztunnel's load balancing for the service: Failover keeps traffic near the client while
    near endpoints are healthy, by design."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    if fact.missing:
        return None  # the client step already says why there is no view
    view = ztunnel_view(fact.value, name, ns, ctx.info(cluster).cluster_id)
    if not view.load_balancing or not view.local or not view.remote:
        spread = "no routing preference: ztunnel spreads connections over every endpoint"
        return ctx.step(title, cluster, [view.lines[0], spread]) if view.known else None
    reason = (f"Service {name}'s traffic distribution reaches ztunnel as load balancing "
              f"{view.load_balancing}: it uses endpoints of the same network, region and zone "
              "while one is healthy")
    evidence = [view.lines[0], reason]
    finding = ctx.finding(
        "locality-lb-prefers-local", cluster=cluster, resource=f"Service {ns}/{name}",
        evidence=evidence, peer_cluster=_remote_cluster(ctx, cluster, view.remote_ids),
        pod=name_of(fact.pod),
        port=ports[0], reason=reason, locality=_client_locality(ctx, cluster, fact.pod, []),
        peer_locality="another network")
    return ctx.step(title, cluster, evidence, [finding])


def _remote_cluster(ctx: CheckContext, cluster: str, ids: list[str]) -> str:
    """The cluster read that carries the first remote endpoint's cluster id, else the id."""
    known = ctx.known_ids()
    return next((known[i] for i in ids if i in known), ids[0] if ids else "another cluster")
