"""Step 7 of the runbook: in a multi-network mesh, can one network's clients reach another's pods?

Across networks, istiod replaces a remote endpoint by its network's east-west gateway (split
horizon EDS, docs/istio-surface.md §4.5) — but only if it knows that gateway (a Service
labelled `topology.istio.io/network` with an external address, listed in `/debug/networkz`), and
only if client and endpoint both have a network (pod label / ISTIO_META_NETWORK, falling back to
the system namespace's label). Any gap sends raw pod IPs across networks, which cannot be
routed; and a gateway without the 15443 AUTO_PASSTHROUGH Gateway accepts nothing. The client's
received endpoints (pod IPs where a gateway address is expected) corroborate each finding.

Where the examined clients use ambient mode, a network's gateway is instead a Gateway of class
`istio-east-west` with an HBONE listener (diagnostics/views/ambient_gateways.py), judged as
the peer istiods judge it, and istiod's `No network gateway found` warning or the client
ztunnel's `unknown network gateway` errors show a gateway no configuration reading explains.
"""

from __future__ import annotations


from diagnostics.checking import CheckContext, check
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, CLIENT_PROXY_LOGS, CLIENT_ZTUNNEL_DUMPS,
                                CLIENT_ZTUNNEL_LOGS, ISTIOD_LOGS, ISTIOD_PODS, ISTIO_GATEWAYS,
                                ISTIO_PODS, K8S_GATEWAYS, SERVICES, TARGET_ENDPOINTSLICES,
                                TARGET_ROLE_PODS)
from diagnostics.model import Finding, Step
from diagnostics.parse.envoy import Endpoint
from diagnostics.parse.networkz import parse_networkz
from diagnostics.views.ambient import ambient_clusters
from diagnostics.views.ambient_gateways import (ambient_eastwest_gateways, gateway_findings,
                                                is_ambient_eastwest, istiod_missing_networks,
                                                received_networks, service_of,
                                                ztunnel_gateway_errors)
from diagnostics.views.endpoints import clusters_with_ready_endpoints, endpoints_for, service_ports
from diagnostics.views.gateways import (CROSS_NETWORK_PORT, LISTENER_PROTOCOL, cluster_domain,
                                        config_clusters, cross_network_servers, describe_gateway,
                                        gateway_data, gateway_pod_labels, gateway_port,
                                        gateway_selects,
                                        has_external_address, host_matches,
                                        k8s_cross_network_listeners, k8s_gateway_of,
                                        runtime_evidence)
from diagnostics.views.mesh import (ISTIO_META_NETWORK, NETWORK_LABEL, Where, describe_endpoint,
                                    gateway_index, locate, looks_like_eastwest_gateway, proxy_env,
                                    target_pod_index)
from diagnostics.views.networks import (GATEWAY_LABEL, MeshNetworks, NETWORKZ_SOURCE,
                                        NETWORK_INPUTS, gather_networks, network_map,
                                        pod_ip_verdict, single_network_step)
from diagnostics.workloads import labels_of, name_of, namespace_of


# ------------------------------------------------------------------------- network of a cluster


# ------------------------------------------------------------------------- what clients receive


def _client_network(pod: dict, mesh_meta: dict, fallback: str | None) -> str | None:
    return proxy_env(pod, ISTIO_META_NETWORK, mesh_meta) or labels_of(pod).get(NETWORK_LABEL) \
        or fallback


RECEIVES_NONE = "receives no endpoint"  # the symptom, as a gateway step shows it


def received_for_network(ctx: CheckContext, network: str, clusters_in: list[str],
                         mesh: MeshNetworks, ports: list[int]) -> list[str]:
    """What clients on other networks receive for the service's endpoints in `network`:
    the gateway (as istiod should send) or raw pod IPs (the symptom)."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    lines = []
    for cluster, clients in ctx.available(CLIENT_CONFIG_DUMPS).items():
        if mesh.of(cluster) == network:
            continue
        for fact in clients.values():
            if fact.missing:
                continue
            for port in ports:
                there = [(ep, w) for ep, w in _located(ctx, fact.value, name, ns, port)
                         if w.cluster in clusters_in]
                lines += [f"client {name_of(fact.pod)} ({cluster}) receives "
                          + describe_endpoint(ep, w, cluster) + pod_ip_verdict(w) for ep, w in there]
                if not there:
                    lines.append(f"client {name_of(fact.pod)} ({cluster}) {RECEIVES_NONE} "
                                 f"of {name}:{port} in {network}")
    return lines


def _located(ctx: CheckContext, dump: object, name: str, ns: str, port: int
             ) -> list[tuple[Endpoint, Where]]:
    """A client's endpoints of the service with where each one is, found once per diagnosis:
    every network's step reads them (ten networks of thousands of endpoints in a big mesh)."""
    def build() -> list[tuple[Endpoint, Where]]:
        pods, gateways = target_pod_index(ctx), gateway_index(ctx.available(SERVICES))
        return [(ep, locate(ep, pods, gateways))
                for ep in endpoints_for(ctx, dump, name, ns, port) or []]

    return ctx.derived(("located", id(dump), name, ns, port), (CLIENT_CONFIG_DUMPS, SERVICES),
                       build)


# ------------------------------------------------------------------------- east-west gateways


def _k8s_cross_network(ctx: CheckContext, cluster: str, svc: dict, fqdn: str,
                       evidence: list[str]) -> bool | None:
    """Whether the Gateway API Gateway behind `svc` (if any) opens the cross-network port for
    `fqdn`; None when the Service is not a Gateway API gateway's."""
    gw = k8s_gateway_of(svc, ctx.available(K8S_GATEWAYS).get(cluster, []))
    if gw is None:
        return None
    listeners = [lst for lst in k8s_cross_network_listeners(gw)
                 if host_matches(str(lst.get("hostname") or "*"), fqdn)]
    ref = f"Gateway {namespace_of(gw)}/{name_of(gw)} (gateway.networking.k8s.io, class " \
        f"{(gw.get('spec') or {}).get('gatewayClassName')}) in {cluster}"
    if listeners:
        hosts = ", ".join(str(lst.get("hostname") or "*") for lst in listeners)
        evidence.append(f"{ref}: listener {listeners[0].get('name')} {gateway_port(gw)} TLS "
                        f"Passthrough with {LISTENER_PROTOCOL}: auto-passthrough, hostname "
                        f"{hosts}; Istio programs it as AUTO_PASSTHROUGH for {name_of(svc)}")
        return True
    evidence.append(f"{ref}: no listener on {gateway_port(gw)} is TLS Passthrough with "
                    f"{LISTENER_PROTOCOL}: auto-passthrough for {fqdn}")
    return False


def _cross_network(ctx: CheckContext, cluster: str, svc: dict, evidence: list[str],
                   seen: list[str]) -> Finding | None:
    """A Gateway opening 15443 with AUTO_PASSTHROUGH for the service, selecting this gateway:
    an Istio Gateway, or the Gateway API Gateway the gateway Service was made for."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    fqdn = f"{name}.{ns}.svc.{cluster_domain(ctx, cluster)}"
    if _k8s_cross_network(ctx, cluster, svc, fqdn, evidence):
        return None
    labels = gateway_pod_labels(ctx, cluster, svc)
    where = config_clusters(ctx, cluster)
    readable = ctx.available(ISTIO_GATEWAYS)
    if not any(c in readable for c in where):
        evidence.append(f"Gateways of {', '.join(where)} could not be read: 15443 not checked")
        return None
    gateways = {c: readable[c] for c in where if c in readable}
    for c, gws in gateways.items():
        for gw in gws:
            servers = cross_network_servers(gw)
            hosts = [h for s in servers for h in s.get("hosts") or []]
            if servers and gateway_selects(gw, labels) and any(host_matches(h, fqdn)
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
    line = describe_gateway(svc, cluster)
    evidence.append(line)
    params = dict(cluster=cluster, resource=f"Service {namespace_of(svc)}/{name_of(svc)}",
                  evidence=[line, *seen], basis=[line], gateway=name_of(svc),
                  istio_namespace=namespace_of(svc))
    label = labels_of(svc).get(NETWORK_LABEL)
    want = expected or network
    runtime = runtime_evidence(ctx, network, svc)
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
                if looks_like_eastwest_gateway(s) and not is_ambient_eastwest(s)]
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
    drawn = []  # each gateway with the findings about it, for the topology picture
    for cluster, svc in gateways:
        expected = mesh.clusters[cluster].network(GATEWAY_LABEL, NETWORKZ_SOURCE)
        about = _gateway_findings(ctx, cluster, svc, network, expected, evidence, seen)
        findings += about
        drawn.append(gateway_data(ctx, cluster, svc, network, [f.id for f in about]))
    step = ctx.step(f"East-west gateway of network {network}", with_endpoints[0],
                    evidence + seen, findings)
    step.data = {"networks": network_map(mesh), "gateways": drawn}
    if step.status == "pass" and any(RECEIVES_NONE in line for line in seen):
        # The gateway is as it should be, yet a client gets nothing of this network: that the
        # gateway works cannot be seen, and the cause is another step's. Never a pass beside
        # the symptom.
        step.status = "skip"
        step.evidence.append(f"whether clients reach {network} through this gateway cannot be "
                             "seen: they receive none of its endpoints (see What a client "
                             "proxy receives)")
    return step


@check("network-gateways", title="East-west gateway of each network that others must reach",
       inputs=(*NETWORK_INPUTS, TARGET_ENDPOINTSLICES, CLIENT_CONFIG_DUMPS, ISTIO_GATEWAYS,
               K8S_GATEWAYS, ISTIO_PODS, ISTIOD_PODS, CLIENT_PROXY_LOGS, ISTIOD_LOGS,
               CLIENT_ZTUNNEL_DUMPS, CLIENT_ZTUNNEL_LOGS, TARGET_ROLE_PODS),
       emits=("eastwest-gateway-missing", "eastwest-gateway-pending",
              "eastwest-gateway-network-label", "cross-network-gateway-missing",
              "ambient-eastwest-gateway-invalid", "ztunnel-network-gateway-unknown"))
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
    ambient = set(ambient_clusters(ctx, ns)) & set(ctx.focus)
    steps = [_ambient_network_step(ctx, net, mesh, ready_in) if ambient else
             _network_step(ctx, net, mesh, ready_in, ports) for net in networks]
    if unknown:
        step = ctx.step(title, unknown[0], [f"{c}: no source names its network, so its gateway "
                                            "cannot be checked" for c in unknown], status="skip")
        steps.append(step)
    return steps


# ------------------------------------------------------------------------- ambient


def _ambient_runtime(ctx: CheckContext, network: str, clients: list[str]
                     ) -> tuple[list[str], list[str]]:
    """What istiod and the clients' ztunnels say about `network`'s gateway: (that it cannot
    be used, how the clients reach the network)."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    down, reach = [], []
    for cluster in clients:
        down += istiod_missing_networks(ctx.available(ISTIOD_LOGS).get(cluster)).get(network, [])
        down += ztunnel_gateway_errors(ctx.available(CLIENT_ZTUNNEL_LOGS).get(cluster, {}))
        reached = received_networks(ctx.available(CLIENT_ZTUNNEL_DUMPS).get(cluster, {}),
                                    name, ns).get(network)
        reach += [f"the client's ztunnel in {cluster} reaches {network}: {r}" for r in
                  (reached or [])]
    return down, reach


def _ambient_network_step(ctx: CheckContext, network: str, mesh: MeshNetworks,
                          ready_in: list[str]) -> Step:
    """The ambient east-west gateway of `network`, as the clients' istiods judge it."""
    title = f"Ambient east-west gateway of network {network}"
    clusters_in = [c for c in ctx.cluster_names if mesh.of(c) == network]
    home = next(c for c in clusters_in if c in ready_in)
    clients = [c for c in ctx.focus if mesh.of(c) != network]
    evidence = [mesh.clusters[c].describe() for c in clusters_in]
    down, reach = _ambient_runtime(ctx, network, clients)
    seen = down + reach
    gateways = ctx.available(K8S_GATEWAYS)
    unread = [c for c in clusters_in if c not in gateways]
    found = [(c, g) for c in clusters_in for g in ambient_eastwest_gateways(gateways.get(c, []))]
    if not found and unread:
        step = ctx.step(title, home, evidence + [f"could not list the Gateways of "
                                                 f"{', '.join(unread)}"] + seen, status="error")
        step.incomplete = True
        return step
    findings: list[Finding] = []
    if not found:
        line = (f"no Gateway of class istio-east-west in {', '.join(clusters_in)}: clients on "
                f"other networks have no way into {network}")
        evidence.append(line)
        findings.append(ctx.finding("eastwest-gateway-missing", cluster=home,
                                    resource=f"Namespace {ctx.info(home).istio_namespace}",
                                    evidence=[line, *seen], network=network))
    services = ctx.available(SERVICES)
    for cluster, gw in found:
        findings += gateway_findings(ctx, cluster, gw, network,
                                     service_of(gw, services.get(cluster, [])), evidence, seen)
    if not findings and down and clients:
        findings.append(ctx.finding("ztunnel-network-gateway-unknown", cluster=clients[0],
                                    resource=f"Namespace {ctx.info(clients[0]).istio_namespace}",
                                    evidence=down, network=network, seen="; ".join(down)[:600]))
    return ctx.step(title, home, evidence + seen, findings)


# ------------------------------------------------------------------------- network labels


