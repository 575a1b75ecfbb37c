"""East-west gateways as istiod uses them: the Service and its external address, the Istio
or Gateway API Gateway that opens the cross-network port with AUTO_PASSTHROUGH, where that
configuration is read from, and the runtime evidence (networkz, clients' EDS and access logs)
that outranks a reading of the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from diagnostics.checking import CheckContext
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, CLIENT_PROXY_LOGS, ISTIOD_PODS,
                                ISTIO_CONFIGMAPS, ISTIO_GATEWAYS, ISTIO_PODS, K8S_GATEWAYS,
                                NETWORKZ)
from diagnostics.parse.access_log import parse_access_log
from diagnostics.selectors import selector_matches
from diagnostics.views.endpoints import endpoints_for, service_ports
from diagnostics.views.mesh import NETWORK_LABEL, gateway_addresses, injector_values, install_value
from diagnostics.views.networks import known_gateways
from diagnostics.workloads import labels_of, name_of, namespace_of


CROSS_NETWORK_PORT = 15443
GATEWAY_PORT_LABEL = "networking.istio.io/gatewayPort"  # a network gateway's port, if not 15443
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
LISTENER_PROTOCOL = "gateway.istio.io/listener-protocol"


def describe_gateway(svc: dict, cluster: str) -> str:
    spec = svc.get("spec") or {}
    addrs = gateway_addresses(svc)
    kind = spec.get("type", "ClusterIP")
    address = ", ".join(addrs) if addrs else ("node addresses" if kind == "NodePort"
                                             else "<pending>" if kind == "LoadBalancer"
                                             else "none")
    label = labels_of(svc).get(NETWORK_LABEL)
    return (f"Service {namespace_of(svc)}/{name_of(svc)} in {cluster}: {kind}, external address "
            f"{address}, label {NETWORK_LABEL}=" + (label if label else "(missing)"))


def has_external_address(svc: dict) -> bool:
    """What istiod can use as a gateway address: LB ingress, externalIPs, or node ports."""
    return bool(gateway_addresses(svc)) or (svc.get("spec") or {}).get("type") == "NodePort"


def port_number(server: dict) -> int:
    try:
        return int((server.get("port") or {}).get("number") or 0)
    except (TypeError, ValueError):
        return 0


def cross_network_servers(gw: dict) -> list[dict]:
    return [s for s in (gw.get("spec") or {}).get("servers") or [] if isinstance(s, dict)
            and port_number(s) == CROSS_NETWORK_PORT
            and str((s.get("tls") or {}).get("mode", "")).upper() == "AUTO_PASSTHROUGH"]


def host_matches(pattern: str, fqdn: str) -> bool:
    host = pattern.split("/", 1)[1] if "/" in pattern else pattern
    if host == "*":
        return True
    return fqdn.endswith(host[1:]) if host.startswith("*") else fqdn == host


def gateway_selects(gw: dict, pod_labels: list[dict[str, str]]) -> bool:
    selector = (gw.get("spec") or {}).get("selector") or {}
    return not selector or any(selector_matches(selector, labels) for labels in pod_labels)


def gateway_pod_labels(ctx: CheckContext, cluster: str, svc: dict) -> list[dict[str, str]]:
    """Labels of the pods behind the gateway Service (or its selector, if they are unknown)."""
    selector = (svc.get("spec") or {}).get("selector") or {}
    pods = ctx.available(ISTIO_PODS).get(cluster, [])
    found = [labels_of(p) for p in pods if selector_matches(selector, labels_of(p))]
    return found or ([dict(selector)] if selector else [])


def config_clusters(ctx: CheckContext, cluster: str) -> list[str]:
    """Where istiod reads the Istio configuration programming `cluster`'s gateways: the cluster
    itself when it runs istiod or is a config cluster, else the clusters that run istiod."""
    own = ctx.available(ISTIOD_PODS).get(cluster)
    values = injector_values(ctx.available(ISTIO_CONFIGMAPS).get(cluster, []))
    if own or install_value(values, "global", "configCluster") is True:
        return [cluster]
    primaries = [c for c, pods in ctx.available(ISTIOD_PODS).items() if pods and c != cluster]
    return primaries or [cluster]


def cluster_domain(ctx: CheckContext, cluster: str) -> str:
    values = injector_values(ctx.available(ISTIO_CONFIGMAPS).get(cluster, []))
    return str(install_value(values, "global", "proxy", "clusterDomain") or "cluster.local")


def k8s_cross_network_listeners(gw: dict) -> list[dict]:
    """The listeners of a Gateway API Gateway that Istio programs as the cross-network
    AUTO_PASSTHROUGH server: TLS Passthrough on the gateway port (15443, or the
    `networking.istio.io/gatewayPort` label) with `gateway.istio.io/listener-protocol:
    auto-passthrough` among its TLS options (pilot/pkg/config/kube/gateway conversion)."""
    port = gateway_port(gw)
    out = []
    for listener in (gw.get("spec") or {}).get("listeners") or []:
        if not isinstance(listener, dict):
            continue
        tls = listener.get("tls") or {}
        options = tls.get("options") or {}
        if (str(listener.get("port")) == str(port) and tls.get("mode") == "Passthrough"
                and options.get(LISTENER_PROTOCOL) == "auto-passthrough"):
            out.append(listener)
    return out


def gateway_port(obj: dict) -> int:
    try:
        return int(labels_of(obj).get(GATEWAY_PORT_LABEL) or CROSS_NETWORK_PORT)
    except ValueError:
        return CROSS_NETWORK_PORT


def k8s_gateway_of(svc: dict, gateways: list[dict]) -> dict | None:
    """The Gateway API Gateway behind a Service Istio's gateway controller made for it: the
    Service carries the Gateway's name in `gateway.networking.k8s.io/gateway-name` (and is
    named `<gateway>-<class>`), in the Gateway's namespace."""
    name = labels_of(svc).get(GATEWAY_NAME_LABEL) or \
        ((svc.get("spec") or {}).get("selector") or {}).get(GATEWAY_NAME_LABEL)
    return next((g for g in gateways if name and name_of(g) == name
                 and namespace_of(g) == namespace_of(svc)), None)


def _listener_text(listener: dict) -> str:
    """`15443 TLS Passthrough auto-passthrough`, `15008 HBONE`: a Gateway API listener."""
    tls = listener.get("tls") or {}
    parts = [str(listener.get("port", "?")), str(listener.get("protocol", "?"))]
    if tls.get("mode"):
        parts.append(str(tls["mode"]))
    if (tls.get("options") or {}).get(LISTENER_PROTOCOL):
        parts.append(str(tls["options"][LISTENER_PROTOCOL]))
    return " ".join(parts)


def gateway_listeners(ctx: CheckContext, cluster: str, svc: dict) -> list[str]:
    """How the gateway behind `svc` accepts other networks' traffic: the listeners of its
    Gateway API Gateway, else the cross-network servers (15443 AUTO_PASSTHROUGH) of the Istio
    Gateways that select its pods, where istiod reads them. The caller declares ISTIO_GATEWAYS,
    K8S_GATEWAYS, ISTIO_PODS, ISTIOD_PODS and ISTIO_CONFIGMAPS."""
    gw = k8s_gateway_of(svc, ctx.available(K8S_GATEWAYS).get(cluster, []))
    if gw is not None:
        return [_listener_text(lst) for lst in (gw.get("spec") or {}).get("listeners") or []
                if isinstance(lst, dict)]
    labels = gateway_pod_labels(ctx, cluster, svc)
    readable = ctx.available(ISTIO_GATEWAYS)
    found = [f"{port_number(s)} TLS {(s.get('tls') or {}).get('mode')}"
             for c in config_clusters(ctx, cluster) for g in readable.get(c, [])
             if gateway_selects(g, labels) for s in cross_network_servers(g)]
    return list(dict.fromkeys(found))


def gateway_data(ctx: CheckContext, cluster: str, svc: dict, network: str | None,
                 finding_ids: list[str]) -> dict:
    """One east-west gateway as step data for the topology picture: where it is, the address
    other networks reach it at, how it listens, and the findings about it."""
    addrs = gateway_addresses(svc)
    return {"cluster": cluster, "network": network,
            "service": f"{namespace_of(svc)}/{name_of(svc)}",
            "type": (svc.get("spec") or {}).get("type", "ClusterIP"),
            "address": ", ".join(addrs) if addrs else None,
            "listeners": gateway_listeners(ctx, cluster, svc), "findings": finding_ids}


@dataclass
class Runtime:
    """What istiod and the clients show about one network's gateway, whatever its config."""

    known: list[str] = field(default_factory=list)  # istiod's networkz lists its gateway
    received: list[str] = field(default_factory=list)  # clients receive the gateway address
    answered: list[str] = field(default_factory=list)  # requests through it were answered

    def contradicts(self, finding_id: str) -> str:
        """The runtime evidence that a configuration finding is wrong, or ""."""
        if finding_id in ("eastwest-gateway-network-label", "eastwest-gateway-pending"):
            return "; ".join(self.known + self.received)
        if finding_id == "cross-network-gateway-missing":
            return "; ".join(self.answered)
        return ""


def runtime_evidence(ctx: CheckContext, network: str, svc: dict) -> Runtime:
    """istiod's networkz, the clients' EDS and the clients' access logs about `network`'s
    gateway (the addresses of `svc`, and those istiod gives the network): evidence that
    outranks a reading of the gateway's configuration."""
    rt = Runtime()
    addresses = set(gateway_addresses(svc))
    for cluster, replicas in ctx.available(NETWORKZ).items():
        for g in known_gateways(replicas):
            if g.network == network and g.address:
                rt.known.append(f"istiod of {cluster} knows {network}'s gateway {g.target}")
                addresses.add(g.address)
                break
    name, ns = ctx.args["service"], ctx.args["namespace"]
    for cluster, clients in ctx.available(CLIENT_CONFIG_DUMPS).items():
        for fact in clients.values():
            hits = [ep.target for port in service_ports(ctx, name, ns) if not fact.missing
                    for ep in endpoints_for(ctx, fact.value, name, ns, port) or []
                    if ep.address in addresses]
            if hits:
                rt.received.append(f"{name_of(fact.pod)} ({cluster}) receives {hits[0]}, "
                                   f"{network}'s gateway, from istiod")
    for cluster, logs in ctx.available(CLIENT_PROXY_LOGS).items():
        for fact in logs.values():
            ok = [e for e in parse_access_log(fact.value or "") if not e.failed_to_connect
                  and e.upstream_host.rsplit(":", 1)[0] in addresses and e.code is not None
                  and e.upstream_cluster.endswith(f"|{name}.{ns}.svc.{cluster_domain(ctx, cluster)}")]
            if ok:
                rt.answered.append(f"{name_of(fact.pod)} ({cluster}) has {len(ok)} requests "
                                   f"answered through {ok[-1].upstream_host}, {network}'s "
                                   "gateway, in its access log")
    return rt
