"""What a client proxy actually receives for the service: the runbook's decisive observation.

istiod's config_dump (with EDS) for a client pod is exactly what it sends that proxy. Local pod
IPs only, remote pod IPs or remote gateways each point down a different branch of the runbook.
An ambient client has no proxy of its own: its view is what the ztunnel on its node holds for
the service (that ztunnel's /config_dump), local workloads and remote networks reached through
their east-west gateways.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.facts import ClientFact, ZtunnelFact
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, CLIENT_POOL, CLIENT_ZTUNNEL_DUMPS, SERVICES,
                                TARGET_ENDPOINTSLICES, TARGET_POD_NETWORKS, TARGET_ROLE_PODS)
from diagnostics.model import Step
from diagnostics.views.endpoints import clusters_with_ready_endpoints, endpoints_for, service_ports
from diagnostics.views.ambient import ambient_clients, captured, node_of
from diagnostics.views.listing import listed
from diagnostics.views.mesh import (describe_endpoint, endpoint_kind, gateway_index, locate,
                                    target_pod_index)
from diagnostics.views.node_agents import ztunnel_view
from diagnostics.workloads import client_candidates, name_of, namespace_of


@check("client-endpoints", title="Endpoints a client proxy receives",
       inputs=(CLIENT_CONFIG_DUMPS, CLIENT_ZTUNNEL_DUMPS, SERVICES, TARGET_ROLE_PODS,
               TARGET_POD_NETWORKS, CLIENT_POOL, TARGET_ENDPOINTSLICES),
       emits=("only-local-endpoints",))
def client_endpoints(ctx: CheckContext) -> list[Step]:
    """Read what a client receives for the service (istiod's config for a sidecar, the node's
    ztunnel for an ambient client) and say where each endpoint leads."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    ports = service_ports(ctx, name, ns)
    if not ports:
        return []  # no Service anywhere: service-presence explains it
    pods = target_pod_index(ctx)
    gateways = gateway_index(ctx.available(SERVICES))
    ready_in = clusters_with_ready_endpoints(ctx, name)
    title = f"What a client proxy receives for {name}.{ns}"

    def one(cluster: str) -> Step:
        clients: dict[str, ClientFact] = ctx.get(CLIENT_CONFIG_DUMPS, cluster)
        ambient: dict[str, ZtunnelFact] = ctx.available(CLIENT_ZTUNNEL_DUMPS).get(cluster, {})
        if not clients and ambient:
            return _ambient_step(ctx, title, cluster, next(iter(ambient.values())), ready_in)
        if not clients:
            return ctx.step(title, cluster, _no_client(ctx, cluster), status="skip")
        fact = next(iter(clients.values()))
        return _client_step(ctx, title, cluster, fact, ports, pods, gateways, ready_in)

    return per_cluster(ctx, title, ctx.focus, one)


def _no_client(ctx: CheckContext, cluster: str) -> list[str]:
    """Why neither a sidecar nor an ambient client could be examined in `cluster`."""
    name, ns, from_pod = ctx.args["service"], ctx.args["namespace"], ctx.args.get("from")
    pool, services = ctx.get(CLIENT_POOL, cluster), ctx.available(SERVICES).get(cluster, [])
    _, why = client_candidates(pool, services, service=name, namespace=ns, from_pod=from_pod)
    lines = [f"no client to examine here: {why}"]
    if any(captured(p) for p in ctx.get(TARGET_ROLE_PODS, cluster) if namespace_of(p) == ns):
        _, why_ambient = ambient_clients(pool, services, service=name, namespace=ns,
                                         from_pod=from_pod)
        lines += [f"no ambient client either: {why_ambient}"] if why_ambient else []
    return lines


def _client_step(ctx: CheckContext, title: str, cluster: str, fact: ClientFact, ports: list[int],
                 pods, gateways, ready_in: list[str]) -> Step:
    name, ns = ctx.args["service"], ctx.args["namespace"]
    client = name_of(fact.pod)
    tried = [f"tried before it: {t}" for t in fact.tried]
    if fact.missing:
        step = ctx.step(title, cluster, [f"no config_dump for {client}.{ns} from istiod "
                                         f"({fact.missing})", *tried], status="skip")
        step.incomplete = True
        return step
    chosen = f"; chosen as {fact.why}" if fact.why else ""
    evidence = [f"client {client}.{ns} (config from {fact.replica}{chosen})", *tried]
    remote_seen, received_any = False, False
    for port in ports:
        eps = endpoints_for(ctx, fact.value, name, ns, port)
        if eps is None:
            evidence.append(f"{name}:{port}: istiod sends no cluster for this port "
                            "(a Sidecar resource or exportTo may hide the service)")
            continue
        received_any = received_any or bool(eps)
        wheres = [locate(ep, pods, gateways) for ep in eps]
        evidence.append(f"{name}:{port}: {len(eps)} endpoint{'s' if len(eps) != 1 else ''}"
                        + ("" if eps else " (none)"))
        evidence += listed(((endpoint_kind(ep, where, cluster), (ep, where))
                            for ep, where in zip(eps, wheres)), "endpoint", indent="  ",
                           line=lambda shown: describe_endpoint(*shown, cluster))
        remote_seen = remote_seen or any(where.cluster not in (cluster, None)
                                         or where.kind == "gateway" for where in wheres)
    findings = []
    remote_ready = [c for c in ready_in if c != cluster]
    if received_any and not remote_seen and remote_ready:
        findings.append(ctx.finding(
            "only-local-endpoints", cluster=cluster, resource=f"Pod {ns}/{client}",
            evidence=evidence, pod=client, peer_cluster=remote_ready[0],
            clusters_with_endpoints=", ".join(remote_ready)))
    return ctx.step(title, cluster, evidence, findings)


def _ambient_step(ctx: CheckContext, title: str, cluster: str, fact: ZtunnelFact,
                  ready_in: list[str]) -> Step:
    """What the ztunnel on an ambient client's node holds for the service."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    client = name_of(fact.pod)
    ztunnel = name_of(fact.ztunnel or {}) or "none"
    chosen = f"; chosen as {fact.why}" if fact.why else ""
    head = (f"client {client}.{ns} (ambient: its traffic leaves through ztunnel {ztunnel} on "
            f"node {node_of(fact.pod)}{chosen})")
    if fact.missing:
        step = ctx.step(title, cluster, [head, f"no ztunnel config_dump ({fact.missing})"],
                        status="skip")
        step.incomplete = True
        return step
    view = ztunnel_view(fact.value, name, ns, ctx.info(cluster).cluster_id)
    evidence = [head, *view.lines]
    findings = []
    remote_ready = [c for c in ready_in if c != cluster]
    if view.local and not view.remote and remote_ready:
        findings.append(ctx.finding(
            "only-local-endpoints", cluster=cluster, resource=f"Pod {ns}/{client}",
            evidence=evidence, pod=client, peer_cluster=remote_ready[0],
            clusters_with_endpoints=", ".join(remote_ready)))
    return ctx.step(title, cluster, evidence, findings)
