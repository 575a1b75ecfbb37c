"""Step 7 of the runbook: in a multi-network mesh, can one network's clients reach another's pods?

Across networks, istiod replaces a remote endpoint by its network's east-west gateway (split
horizon EDS, docs/istio-surface.md §4.5) — but only if it knows that gateway (a Service
labelled `topology.istio.io/network` with an external address, listed in `/debug/networkz`), and
only if client and endpoint both have a network (pod label / ISTIO_META_NETWORK, falling back to
the system namespace's label). Any gap sends raw pod IPs across networks, which cannot be
routed; and a gateway without the 15443 AUTO_PASSTHROUGH Gateway accepts nothing. The client's
received endpoints (pod IPs where a gateway address is expected) corroborate each finding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from diagnostics.checks.base import CheckContext, check, per_cluster
from diagnostics.checks.client_view import (clusters_with_ready_endpoints, endpoints_for,
                                            service_ports)
from diagnostics.facts import ClientFact, PerReplica
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, CLIENT_PROXY_LOGS, ISTIO_CONFIGMAPS,
                                ISTIO_NS, ISTIOD_PODS,
                                NAMESPACES, NETWORKZ, SERVICES, TARGET_ENDPOINTSLICES,
                                TARGET_PODS, Resources)
from diagnostics.mesh_view import (ISTIO_META_NETWORK, NETWORK_LABEL, Where, describe_endpoint,
                                   gateway_addresses, gateway_index, injector_values,
                                   install_value, locate, looks_like_eastwest_gateway,
                                   mesh_config, mesh_networks, pod_index, proxy_env,
                                   registry_networks, workload_ref)
from diagnostics.model import Finding, Step
from diagnostics.parse.access_log import parse_access_log
from diagnostics.parse.networkz import NetworkGateway, parse_networkz
from diagnostics.selectors import selector_matches
from diagnostics.workloads import (SERVICE_NAME_LABEL, has_sidecar, labels_of, name_of,
                                   namespace_of)

ISTIO_GATEWAYS = Resources("gateways.networking.istio.io")  # Gateways may live in any namespace
K8S_GATEWAYS = Resources("gateways.gateway.networking.k8s.io")  # Gateway API Gateways
ISTIO_PODS = Resources("pods", ISTIO_NS)  # the east-west gateway's pods, for Gateway selectors
CROSS_NETWORK_PORT = 15443
GATEWAY_PORT_LABEL = "networking.istio.io/gatewayPort"  # a network gateway's port, if not 15443
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
LISTENER_PROTOCOL = "gateway.istio.io/listener-protocol"

# Where a cluster's network is written, in the order the value is trusted: istiod's own
# precedence for endpoints (system namespace label, then meshNetworks), the install's values,
# then what injected pods, the gateway Service and istiod's networkz say.
NS_LABEL, MESH_NETWORKS, INJECTOR = "system namespace label", "meshNetworks", "injector values"
POD_LABELS, GATEWAY_LABEL, NETWORKZ_SOURCE = "pod labels", "gateway label", "networkz"
PRECEDENCE = (NS_LABEL, MESH_NETWORKS, INJECTOR, POD_LABELS, GATEWAY_LABEL, NETWORKZ_SOURCE)

NETWORK_INPUTS = (NAMESPACES, ISTIO_CONFIGMAPS, SERVICES, TARGET_PODS, NETWORKZ)


# ------------------------------------------------------------------------- network of a cluster


@dataclass
class ClusterNetwork:
    """What each source says the cluster's network is."""

    cluster: str
    sources: dict[str, str] = field(default_factory=dict)

    def network(self, *skip: str) -> str | None:
        """The most trusted value, ignoring the sources under examination."""
        return next((self.sources[s] for s in PRECEDENCE if s in self.sources and s not in skip),
                    None)

    def describe(self) -> str:
        if not self.sources:
            return f"{self.cluster}: no network anywhere"
        parts = [f"{s} {self.sources[s]}" for s in PRECEDENCE if s in self.sources]
        return f"{self.cluster}: network {self.network()} ({'; '.join(parts)})"


@dataclass
class MeshNetworks:
    """Every cluster's network and what each istiod replica's networkz knows."""

    clusters: dict[str, ClusterNetwork]
    networkz: dict[str, PerReplica]

    def of(self, cluster: str) -> str | None:
        net = self.clusters.get(cluster)
        return net.network() if net else None

    @property
    def names(self) -> set[str]:
        return {v for n in self.clusters.values() for v in n.sources.values() if v}

    @property
    def multi(self) -> bool:
        return len(self.names) > 1


def _system_namespace(namespaces: list[dict], istio_ns: str) -> dict | None:
    return next((n for n in namespaces if name_of(n) == istio_ns), None)


def _majority_pod_network(pods: list[dict]) -> str | None:
    counts = Counter(labels_of(p).get(NETWORK_LABEL) for p in pods if has_sidecar(p))
    counts.pop(None, None)
    return counts.most_common(1)[0][0] if counts else None


def _known_gateways(replicas: PerReplica | None) -> list[NetworkGateway]:
    return [g for body in (replicas.values.values() if replicas else ()) for g in
            parse_networkz(body)]


def gather_networks(ctx: CheckContext) -> MeshNetworks:
    """Each cluster's network from every source that could be read (see PRECEDENCE)."""
    namespaces, configmaps = ctx.available(NAMESPACES), ctx.available(ISTIO_CONFIGMAPS)
    pods, services, networkz = ctx.available(TARGET_PODS), ctx.available(SERVICES), \
        ctx.available(NETWORKZ)
    registry: dict[str, str] = {}
    for cms in configmaps.values():
        registry.update(registry_networks(mesh_networks(cms)))
    known = [g for replicas in networkz.values() for g in _known_gateways(replicas)]
    out = {}
    for cluster in ctx.cluster_names:
        sources: dict[str, str | None] = {
            NS_LABEL: labels_of(_system_namespace(namespaces.get(cluster, []),
                                                  ctx.info(cluster).istio_namespace) or {}
                                ).get(NETWORK_LABEL),
            MESH_NETWORKS: registry.get(cluster),
            INJECTOR: install_value(injector_values(configmaps.get(cluster, [])),
                                    "global", "network"),
            POD_LABELS: _majority_pod_network(pods.get(cluster, [])),
            GATEWAY_LABEL: next((labels_of(s)[NETWORK_LABEL] for s in services.get(cluster, [])
                                 if looks_like_eastwest_gateway(s)
                                 and labels_of(s).get(NETWORK_LABEL)), None),
            NETWORKZ_SOURCE: next((g.network for g in known if g.cluster == cluster
                                   and g.network), None),
        }
        out[cluster] = ClusterNetwork(cluster, {k: str(v) for k, v in sources.items() if v})
    return MeshNetworks(out, networkz)


def single_network_step(ctx: CheckContext, title: str, mesh: MeshNetworks) -> Step:
    names = ", ".join(sorted(mesh.names)) or "none set"
    return ctx.step(title, None, [f"one network in the mesh ({names}): pods reach each other "
                                  "directly, no east-west gateway or network label is needed"]
                    + [n.describe() for n in mesh.clusters.values()], status="pass")


# ------------------------------------------------------------------------- what clients receive


def _client_network(pod: dict, mesh_meta: dict, fallback: str | None) -> str | None:
    return proxy_env(pod, ISTIO_META_NETWORK, mesh_meta) or labels_of(pod).get(NETWORK_LABEL) \
        or fallback


def received_for_network(ctx: CheckContext, network: str, clusters_in: list[str],
                         mesh: MeshNetworks, ports: list[int]) -> list[str]:
    """What clients on other networks receive for the service's endpoints in `network`:
    the gateway (as istiod should send) or raw pod IPs (the symptom)."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    pods, gateways = pod_index(ctx.available(TARGET_PODS)), gateway_index(ctx.available(SERVICES))
    lines = []
    for cluster, clients in ctx.available(CLIENT_CONFIG_DUMPS).items():
        if mesh.of(cluster) == network:
            continue
        for fact in clients.values():
            if fact.missing:
                continue
            for port in ports:
                eps = endpoints_for(fact.value, name, ns, port) or []
                there = [(ep, w) for ep in eps for w in [locate(ep, pods, gateways)]
                         if w.cluster in clusters_in]
                lines += [f"client {name_of(fact.pod)} ({cluster}) receives "
                          + describe_endpoint(ep, w, cluster) + _verdict(w) for ep, w in there]
                if not there:
                    lines.append(f"client {name_of(fact.pod)} ({cluster}) receives no endpoint "
                                 f"of {name}:{port} in {network}")
    return lines


def _verdict(where: Where, network: str | None = None) -> str:
    of = f" of {network}" if network else ""
    return f" — a pod IP{of} where its network's gateway address is expected" \
        if where.kind == "pod" else ""


# ------------------------------------------------------------------------- east-west gateways


def _describe_gateway(svc: dict, cluster: str) -> str:
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


def _port_number(server: dict) -> int:
    try:
        return int((server.get("port") or {}).get("number") or 0)
    except (TypeError, ValueError):
        return 0


def _servers_15443(gw: dict) -> list[dict]:
    return [s for s in (gw.get("spec") or {}).get("servers") or [] if isinstance(s, dict)
            and _port_number(s) == CROSS_NETWORK_PORT
            and str((s.get("tls") or {}).get("mode", "")).upper() == "AUTO_PASSTHROUGH"]


def _host_matches(pattern: str, fqdn: str) -> bool:
    host = pattern.split("/", 1)[1] if "/" in pattern else pattern
    if host == "*":
        return True
    return fqdn.endswith(host[1:]) if host.startswith("*") else fqdn == host


def _gateway_selects(gw: dict, pod_labels: list[dict[str, str]]) -> bool:
    selector = (gw.get("spec") or {}).get("selector") or {}
    return not selector or any(selector_matches(selector, labels) for labels in pod_labels)


def _gateway_pod_labels(ctx: CheckContext, cluster: str, svc: dict) -> list[dict[str, str]]:
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


def _cluster_domain(ctx: CheckContext, cluster: str) -> str:
    values = injector_values(ctx.available(ISTIO_CONFIGMAPS).get(cluster, []))
    return str(install_value(values, "global", "proxy", "clusterDomain") or "cluster.local")


def k8s_cross_network_listeners(gw: dict) -> list[dict]:
    """The listeners of a Gateway API Gateway that Istio programs as the cross-network
    AUTO_PASSTHROUGH server: TLS Passthrough on the gateway port (15443, or the
    `networking.istio.io/gatewayPort` label) with `gateway.istio.io/listener-protocol:
    auto-passthrough` among its TLS options (pilot/pkg/config/kube/gateway conversion)."""
    port = _gateway_port(gw)
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


def _gateway_port(obj: dict) -> int:
    try:
        return int(labels_of(obj).get(GATEWAY_PORT_LABEL) or CROSS_NETWORK_PORT)
    except ValueError:
        return CROSS_NETWORK_PORT


def _k8s_gateway_of(svc: dict, gateways: list[dict]) -> dict | None:
    """The Gateway API Gateway behind a Service Istio's gateway controller made for it: the
    Service carries the Gateway's name in `gateway.networking.k8s.io/gateway-name` (and is
    named `<gateway>-<class>`), in the Gateway's namespace."""
    name = labels_of(svc).get(GATEWAY_NAME_LABEL) or \
        ((svc.get("spec") or {}).get("selector") or {}).get(GATEWAY_NAME_LABEL)
    return next((g for g in gateways if name and name_of(g) == name
                 and namespace_of(g) == namespace_of(svc)), None)


def _k8s_cross_network(ctx: CheckContext, cluster: str, svc: dict, fqdn: str,
                       evidence: list[str]) -> bool | None:
    """Whether the Gateway API Gateway behind `svc` (if any) opens the cross-network port for
    `fqdn`; None when the Service is not a Gateway API gateway's."""
    gw = _k8s_gateway_of(svc, ctx.available(K8S_GATEWAYS).get(cluster, []))
    if gw is None:
        return None
    listeners = [lst for lst in k8s_cross_network_listeners(gw)
                 if _host_matches(str(lst.get("hostname") or "*"), fqdn)]
    ref = f"Gateway {namespace_of(gw)}/{name_of(gw)} (gateway.networking.k8s.io, class " \
        f"{(gw.get('spec') or {}).get('gatewayClassName')}) in {cluster}"
    if listeners:
        hosts = ", ".join(str(lst.get("hostname") or "*") for lst in listeners)
        evidence.append(f"{ref}: listener {listeners[0].get('name')} {_gateway_port(gw)} TLS "
                        f"Passthrough with {LISTENER_PROTOCOL}: auto-passthrough, hostname "
                        f"{hosts}; Istio programs it as AUTO_PASSTHROUGH for {name_of(svc)}")
        return True
    evidence.append(f"{ref}: no listener on {_gateway_port(gw)} is TLS Passthrough with "
                    f"{LISTENER_PROTOCOL}: auto-passthrough for {fqdn}")
    return False


def _cross_network(ctx: CheckContext, cluster: str, svc: dict, evidence: list[str],
                   seen: list[str]) -> Finding | None:
    """A Gateway opening 15443 with AUTO_PASSTHROUGH for the service, selecting this gateway:
    an Istio Gateway, or the Gateway API Gateway the gateway Service was made for."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    fqdn = f"{name}.{ns}.svc.{_cluster_domain(ctx, cluster)}"
    if _k8s_cross_network(ctx, cluster, svc, fqdn, evidence):
        return None
    labels = _gateway_pod_labels(ctx, cluster, svc)
    where = config_clusters(ctx, cluster)
    readable = ctx.available(ISTIO_GATEWAYS)
    if not any(c in readable for c in where):
        evidence.append(f"Gateways of {', '.join(where)} could not be read: 15443 not checked")
        return None
    gateways = {c: readable[c] for c in where if c in readable}
    for c, gws in gateways.items():
        for gw in gws:
            servers = _servers_15443(gw)
            hosts = [h for s in servers for h in s.get("hosts") or []]
            if servers and _gateway_selects(gw, labels) and any(_host_matches(h, fqdn)
                                                                for h in hosts):
                evidence.append(f"Gateway {namespace_of(gw)}/{name_of(gw)} in {c}: "
                                f"{CROSS_NETWORK_PORT} AUTO_PASSTHROUGH, hosts {', '.join(hosts)}, "
                                f"selects {name_of(svc)}'s pods")
                return None
    present = [f"{namespace_of(g)}/{name_of(g)} ({c})" for c, gws in gateways.items() for g in gws]
    line = (f"no Gateway in {', '.join(where)} opens {CROSS_NETWORK_PORT} with AUTO_PASSTHROUGH "
            f"for {fqdn} on {name_of(svc)}'s pods (Gateways: {', '.join(present) or 'none'})")
    evidence.append(line)
    home = where[0]
    return ctx.finding("cross-network-gateway-missing", cluster=cluster,
                       resource=f"Service {namespace_of(svc)}/{name_of(svc)}",
                       evidence=[line, *seen], context=ctx.info(home).context_name,
                       istio_namespace=ctx.info(home).istio_namespace)


def _gateway_findings(ctx: CheckContext, cluster: str, svc: dict, network: str,
                      expected: str | None, evidence: list[str], seen: list[str]
                      ) -> list[Finding]:
    """Label and address of one east-west gateway Service, then the Gateway resource for it.
    `seen` (networkz, what clients receive) backs every finding."""
    out = []
    line = _describe_gateway(svc, cluster)
    evidence.append(line)
    params = dict(cluster=cluster, resource=f"Service {namespace_of(svc)}/{name_of(svc)}",
                  evidence=[line, *seen], basis=[line], gateway=name_of(svc),
                  istio_namespace=namespace_of(svc))
    label = labels_of(svc).get(NETWORK_LABEL)
    want = expected or network
    runtime = _runtime(ctx, network, svc)
    if not label or label != want:
        out.append(ctx.finding("eastwest-gateway-network-label", network=want, **params))
    if not has_external_address(svc):
        out.append(ctx.finding("eastwest-gateway-pending", network=want, **params))
    crossing = _cross_network(ctx, cluster, svc, evidence, seen)
    out += [crossing] if crossing else []
    kept = []
    for finding in out:
        wins = runtime.contradicts(finding.id)
        if wins:  # what istiod and the proxies do outranks meshbot's reading of the config
            evidence.append(f"{finding.id} not reported: the configuration read says so, but "
                            f"{wins}; the configuration that makes it work is somewhere meshbot "
                            "does not read it")
        else:
            kept.append(finding)
    return kept


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


def _runtime(ctx: CheckContext, network: str, svc: dict) -> Runtime:
    """istiod's networkz, the clients' EDS and the clients' access logs about `network`'s
    gateway (the addresses of `svc`, and those istiod gives the network): evidence that
    outranks a reading of the gateway's configuration."""
    rt = Runtime()
    addresses = set(gateway_addresses(svc))
    for cluster, replicas in ctx.available(NETWORKZ).items():
        for g in _known_gateways(replicas):
            if g.network == network and g.address:
                rt.known.append(f"istiod of {cluster} knows {network}'s gateway {g.target}")
                addresses.add(g.address)
                break
    name, ns = ctx.args["service"], ctx.args["namespace"]
    for cluster, clients in ctx.available(CLIENT_CONFIG_DUMPS).items():
        for fact in clients.values():
            hits = [ep.target for port in service_ports(ctx, name, ns) if not fact.missing
                    for ep in endpoints_for(fact.value, name, ns, port) or []
                    if ep.address in addresses]
            if hits:
                rt.received.append(f"{name_of(fact.pod)} ({cluster}) receives {hits[0]}, "
                                   f"{network}'s gateway, from istiod")
    for cluster, logs in ctx.available(CLIENT_PROXY_LOGS).items():
        for fact in logs.values():
            ok = [e for e in parse_access_log(fact.value or "") if not e.failed_to_connect
                  and e.upstream_host.rsplit(":", 1)[0] in addresses and e.code is not None
                  and e.upstream_cluster.endswith(f"|{name}.{ns}.svc.{_cluster_domain(ctx, cluster)}")]
            if ok:
                rt.answered.append(f"{name_of(fact.pod)} ({cluster}) has {len(ok)} requests "
                                   f"answered through {ok[-1].upstream_host}, {network}'s "
                                   "gateway, in its access log")
    return rt


def networkz_lines(mesh: MeshNetworks, network: str) -> list[str]:
    """What each istiod (replicas with the same answer folded) knows as gateways."""
    lines = []
    for cluster, replicas in mesh.networkz.items():
        groups: dict[tuple[str, ...], list[str]] = {}
        for replica, body in replicas.values.items():
            key = tuple(g.describe() for g in parse_networkz(body))
            groups.setdefault(key, []).append(replica)
        for known, names in groups.items():
            who = names[0] if len(names) == 1 else f"{len(names)} replicas"
            has = any(d.startswith(f"{network} ") for d in known)
            tail = "" if has else f"; none for {network}"
            lines.append(f"networkz of istiod {who} ({cluster}): "
                         + (", ".join(known) if known else "null (no gateway known)") + tail)
        lines += [f"networkz of istiod {r} ({cluster}): not read ({why})"
                  for r, why in replicas.missing.items()]
    return lines


def _network_step(ctx: CheckContext, network: str, mesh: MeshNetworks, ready_in: list[str],
                  ports: list[int]) -> Step:
    clusters_in = [c for c in ctx.cluster_names if mesh.of(c) == network]
    with_endpoints = [c for c in clusters_in if c in ready_in]
    evidence = [mesh.clusters[c].describe() for c in clusters_in]
    evidence.append(f"ready endpoints of {ctx.args['service']} in {', '.join(with_endpoints)}: "
                    f"clients on other networks must reach {network}")
    # What istiod knows and what clients get: shown in the step and under every finding.
    seen = networkz_lines(mesh, network) + received_for_network(ctx, network, clusters_in,
                                                                  mesh, ports)
    findings: list[Finding] = []
    services = ctx.available(SERVICES)
    gateways = [(c, s) for c in clusters_in for s in services.get(c, [])
                if looks_like_eastwest_gateway(s)]
    unread = [c for c in clusters_in if c not in services]
    if not gateways and unread:  # absence is only known where the Services could be listed
        evidence.append(f"could not list the Services of {', '.join(unread)}")
        step = ctx.step(f"East-west gateway of network {network}", with_endpoints[0],
                        evidence + seen, status="error")
        step.incomplete = True
        return step
    if not gateways:
        line = (f"no east-west gateway Service in {', '.join(clusters_in)} (none labelled "
                f"{NETWORK_LABEL}, istio=eastwestgateway or named *eastwest*)")
        evidence.append(line)
        home = with_endpoints[0]
        findings.append(ctx.finding("eastwest-gateway-missing", cluster=home,
                                    resource=f"Namespace {ctx.info(home).istio_namespace}",
                                    evidence=[line, *seen], network=network))
    for cluster, svc in gateways:
        expected = mesh.clusters[cluster].network(GATEWAY_LABEL, NETWORKZ_SOURCE)
        findings += _gateway_findings(ctx, cluster, svc, network, expected, evidence, seen)
    return ctx.step(f"East-west gateway of network {network}", with_endpoints[0],
                    evidence + seen, findings)


@check("network-gateways", title="East-west gateway of each network that others must reach",
       inputs=(*NETWORK_INPUTS, TARGET_ENDPOINTSLICES, CLIENT_CONFIG_DUMPS, ISTIO_GATEWAYS,
               K8S_GATEWAYS, ISTIO_PODS, ISTIOD_PODS, CLIENT_PROXY_LOGS),
       emits=("eastwest-gateway-missing", "eastwest-gateway-pending",
              "eastwest-gateway-network-label", "cross-network-gateway-missing"))
def network_gateways(ctx: CheckContext) -> list[Step]:
    """In a multi-network mesh, check the gateway of every network holding the service's
    endpoints: present, addressed, labelled, and exposing 15443 with AUTO_PASSTHROUGH."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    ports = service_ports(ctx, name, ns)
    if not ports:
        return []  # no Service anywhere: service-presence explains it
    title = "East-west gateways"
    mesh = gather_networks(ctx)
    if not mesh.multi:
        return [single_network_step(ctx, title, mesh)]
    ready_in = clusters_with_ready_endpoints(ctx, name)
    unknown = [c for c in ready_in if mesh.of(c) is None]
    # A network must be reachable when it holds endpoints and an examined client is elsewhere.
    client_nets = {mesh.of(c) for c in ctx.focus}
    networks = sorted({n for c in ready_in for n in [mesh.of(c)]
                       if n and any(net != n for net in client_nets)})
    steps = [_network_step(ctx, net, mesh, ready_in, ports) for net in networks]
    if unknown:
        step = ctx.step(title, unknown[0], [f"{c}: no source names its network, so its gateway "
                                            "cannot be checked" for c in unknown], status="skip")
        steps.append(step)
    return steps


# ------------------------------------------------------------------------- network labels


def _mesh_proxy_metadata(ctx: CheckContext, cluster: str) -> dict:
    cfg = mesh_config(ctx.available(ISTIO_CONFIGMAPS).get(cluster, []))
    meta = (cfg.get("defaultConfig") or {}).get("proxyMetadata") if isinstance(cfg, dict) else None
    return meta if isinstance(meta, dict) else {}


def _network_param(mesh: MeshNetworks, cluster: str, *skip: str) -> str:
    return mesh.clusters[cluster].network(*skip) or f"<network of {cluster}>"


def _system_namespace_finding(ctx: CheckContext, cluster: str, mesh: MeshNetworks,
                              evidence: list[str]) -> Finding | None:
    istio_ns = ctx.info(cluster).istio_namespace
    namespace = _system_namespace(ctx.get(NAMESPACES, cluster), istio_ns)
    if namespace is None:
        evidence.append(f"namespace {istio_ns} not found")
        return None
    label = labels_of(namespace).get(NETWORK_LABEL)
    expected = mesh.clusters[cluster].network(NS_LABEL)
    registry = mesh.clusters[cluster].sources.get(MESH_NETWORKS)
    line = (f"namespace {istio_ns}: {NETWORK_LABEL}=" + (label or "(missing)")
            + (f"; {expected} expected" if expected and expected != label else ""))
    evidence.append(line)
    if label and (not expected or label == expected):
        return None
    if not label and registry:
        evidence.append(f"meshNetworks assigns {cluster} to {registry}: endpoints without a "
                        "label still get a network")
        return None
    both = [line, mesh.clusters[cluster].describe()]
    return ctx.finding("system-namespace-network-label", cluster=cluster,
                       resource=f"Namespace {istio_ns}", evidence=both, basis=both,
                       network=expected or _network_param(mesh, cluster, NS_LABEL))


def _pod_finding(ctx: CheckContext, cluster: str, pod: dict, line: str, mesh: MeshNetworks,
                 extra: list[str]) -> Finding:
    return ctx.finding("pod-network-unset", cluster=cluster,
                       resource=f"Pod {namespace_of(pod)}/{name_of(pod)}",
                       evidence=[line, *extra], basis=[line],
                       pod=name_of(pod), namespace=namespace_of(pod),
                       workload=workload_ref(pod), network=_network_param(mesh, cluster))


def _client_findings(ctx: CheckContext, cluster: str, mesh: MeshNetworks,
                     evidence: list[str]) -> list[Finding]:
    """The examined client's own network: its proxy's ISTIO_META_NETWORK (env, ProxyConfig or
    mesh default), or the network label the injector stamps with it."""
    if cluster not in ctx.focus:
        return []
    clients: dict[str, ClientFact] = ctx.available(CLIENT_CONFIG_DUMPS).get(cluster, {})
    meta = _mesh_proxy_metadata(ctx, cluster)
    out = []
    for fact in clients.values():
        pod = fact.pod
        env = proxy_env(pod, ISTIO_META_NETWORK, meta)
        label = labels_of(pod).get(NETWORK_LABEL)
        line = (f"client {name_of(pod)}: {NETWORK_LABEL}={label or '(missing)'}, "
                f"{ISTIO_META_NETWORK}={env or '(unset)'}")
        evidence.append(line)
        if env or label:
            continue
        received = _cross_network_pod_ips(ctx, cluster, fact, mesh)
        evidence += received
        out.append(_pod_finding(ctx, cluster, pod, line, mesh, received))
    return out


def _cross_network_pod_ips(ctx: CheckContext, cluster: str, fact: ClientFact,
                           mesh: MeshNetworks) -> list[str]:
    """Remote pod IPs on another network that the client receives (the symptom)."""
    if fact.missing:
        return []
    name, ns = ctx.args["service"], ctx.args["namespace"]
    pods, gateways = pod_index(ctx.available(TARGET_PODS)), gateway_index(ctx.available(SERVICES))
    lines = []
    for port in service_ports(ctx, name, ns):
        for ep in endpoints_for(fact.value, name, ns, port) or []:
            where = locate(ep, pods, gateways)
            if where.kind == "pod" and where.cluster != cluster \
                    and mesh.of(where.cluster or "") != mesh.of(cluster):
                lines.append(f"  receives {describe_endpoint(ep, where, cluster)}"
                             f"{_verdict(where, mesh.of(where.cluster or ''))}")
    return lines


def _server_findings(ctx: CheckContext, cluster: str, mesh: MeshNetworks,
                     evidence: list[str]) -> list[Finding]:
    """The service's endpoint pods: network from their label, else the namespace/meshNetworks."""
    name = ctx.args["service"]
    slices = ctx.get(TARGET_ENDPOINTSLICES, cluster)
    targets = {(ep.get("targetRef") or {}).get("name") for s in slices
               if labels_of(s).get(SERVICE_NAME_LABEL) == name for ep in s.get("endpoints") or []}
    pods = [p for p in ctx.get(TARGET_PODS, cluster) if name_of(p) in targets]
    fallback = mesh.clusters[cluster].sources.get(NS_LABEL) or \
        mesh.clusters[cluster].sources.get(MESH_NETWORKS)
    out, seen = [], set()
    for pod in sorted(pods, key=name_of):
        label = labels_of(pod).get(NETWORK_LABEL)
        network = label or fallback
        if label:
            line = f"endpoint {name_of(pod)}: network {label}"
        elif network:
            line = f"endpoint {name_of(pod)}: network {network} (no pod label; cluster default)"
        else:
            line = (f"endpoint {name_of(pod)}: no {NETWORK_LABEL} label, none on "
                    f"{ctx.info(cluster).istio_namespace}, none in meshNetworks")
        evidence.append(line)
        if not network and workload_ref(pod) not in seen:
            seen.add(workload_ref(pod))
            out.append(_pod_finding(ctx, cluster, pod, line, mesh, []))
    return out


@check("network-labels", title="Networks of clients, endpoints and system namespaces",
       inputs=(*NETWORK_INPUTS, TARGET_ENDPOINTSLICES, CLIENT_CONFIG_DUMPS),
       emits=("pod-network-unset", "system-namespace-network-label"))
def network_labels(ctx: CheckContext) -> list[Step]:
    """In a multi-network mesh, every client, endpoint and system namespace must name a network;
    an empty one counts as "same network" and gets raw pod IPs."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    if not service_ports(ctx, name, ns):
        return []
    title = "Networks of clients, endpoints and the system namespace"
    mesh = gather_networks(ctx)
    if not mesh.multi:
        return [single_network_step(ctx, title, mesh)]

    def one(cluster: str) -> Step:
        evidence = [mesh.clusters[cluster].describe()]
        findings = [f for f in [_system_namespace_finding(ctx, cluster, mesh, evidence)] if f]
        findings += _client_findings(ctx, cluster, mesh, evidence)
        findings += _server_findings(ctx, cluster, mesh, evidence)
        return ctx.step(title, cluster, evidence, findings)

    return per_cluster(ctx, title, ctx.cluster_names, one)
