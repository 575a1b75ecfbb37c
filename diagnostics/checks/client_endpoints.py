"""What a client proxy actually receives for the service: the runbook's decisive observation.

istiod's config_dump (with EDS) for a client pod is exactly what it sends that proxy. Local pod
IPs only, remote pod IPs or remote gateways each point down a different branch of the runbook.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.facts import ClientFact
from diagnostics.inputs import CLIENT_CONFIG_DUMPS, SERVICES, TARGET_ENDPOINTSLICES, TARGET_PODS
from diagnostics.model import Step
from diagnostics.views.endpoints import clusters_with_ready_endpoints, endpoints_for, service_ports
from diagnostics.views.mesh import describe_endpoint, gateway_index, locate, pod_index
from diagnostics.workloads import client_candidates, name_of


@check("client-endpoints", title="Endpoints a client proxy receives",
       inputs=(CLIENT_CONFIG_DUMPS, SERVICES, TARGET_PODS, TARGET_ENDPOINTSLICES),
       emits=("only-local-endpoints",))
def client_endpoints(ctx: CheckContext) -> list[Step]:
    """Read what istiod sends a client proxy for the service and say where each endpoint leads."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    ports = service_ports(ctx, name, ns)
    if not ports:
        return []  # no Service anywhere: service-presence explains it
    pods = pod_index(ctx.available(TARGET_PODS))
    gateways = gateway_index(ctx.available(SERVICES))
    ready_in = clusters_with_ready_endpoints(ctx, name)
    title = f"What a client proxy receives for {name}.{ns}"

    def one(cluster: str) -> Step:
        clients: dict[str, ClientFact] = ctx.get(CLIENT_CONFIG_DUMPS, cluster)
        if not clients:
            _, why = client_candidates(ctx.get(TARGET_PODS, cluster),
                                       ctx.available(SERVICES).get(cluster, []), service=name,
                                       namespace=ns, from_pod=ctx.args.get("from"))
            return ctx.step(title, cluster, [f"no client to examine here: {why}"], status="skip")
        fact = next(iter(clients.values()))
        return _client_step(ctx, title, cluster, fact, ports, pods, gateways, ready_in)

    return per_cluster(ctx, title, ctx.focus, one)


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
        eps = endpoints_for(fact.value, name, ns, port)
        if eps is None:
            evidence.append(f"{name}:{port}: istiod sends no cluster for this port "
                            "(a Sidecar resource or exportTo may hide the service)")
            continue
        received_any = received_any or bool(eps)
        lines = [describe_endpoint(ep, locate(ep, pods, gateways), cluster) for ep in eps]
        evidence.append(f"{name}:{port}: {len(eps)} endpoint{'s' if len(eps) != 1 else ''}"
                        + ("" if eps else " (none)"))
        evidence += [f"  {line}" for line in lines]
        remote_seen = remote_seen or any(locate(ep, pods, gateways).cluster not in (cluster, None)
                                         or locate(ep, pods, gateways).kind == "gateway"
                                         for ep in eps)
    findings = []
    remote_ready = [c for c in ready_in if c != cluster]
    if received_any and not remote_seen and remote_ready:
        findings.append(ctx.finding(
            "only-local-endpoints", cluster=cluster, resource=f"Pod {ns}/{client}",
            evidence=evidence, pod=client, peer_cluster=remote_ready[0],
            clusters_with_endpoints=", ".join(remote_ready)))
    return ctx.step(title, cluster, evidence, findings)
