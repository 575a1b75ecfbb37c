"""Step 8 of the runbook: the client has remote endpoints, but can it connect to them?

When istiod does its part (the client receives a remote gateway or remote pod addresses) and
responses still come only from local instances, the path between the clusters is the suspect:
a firewall dropping 15443 or the pod CIDRs, an unreachable advertised address, or a TLS failure.
The client's own Envoy says so in its access log: requests to the remote address end with
`UF` (connection failure), `URX` (retries or connect attempts exhausted) or `UH` (no healthy
upstream), or an upstream transport failure reason. Access logging is off by default, so a
missing log is "not visible", never "healthy" or "broken".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.facts import ClientFact
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, CLIENT_PROXY_LOGS, SERVICES,
                                TARGET_ENDPOINTSLICES, TARGET_POD_NETWORKS, TARGET_ROLE_PODS)
from diagnostics.model import Finding, Step
from diagnostics.parse.access_log import AccessLogEntry, parse_access_log
from diagnostics.parse.envoy import Endpoint
from diagnostics.views.ambient import captured
from diagnostics.views.endpoints import endpoints_for, service_ports
from diagnostics.views.mesh import Where, gateway_index, target_pod_index
from diagnostics.workloads import namespace_of


@dataclass
class HostOutcome:
    """What the access log says about one upstream host of the service."""

    host: str
    where: Where
    failed: list[AccessLogEntry] = field(default_factory=list)
    answered: list[AccessLogEntry] = field(default_factory=list)

    @property
    def unreachable(self) -> bool:
        """Every attempt failed to connect: no single answer came back from it."""
        return bool(self.failed) and not self.answered


def _is_for_service(entry: AccessLogEntry, service: str, namespace: str) -> bool:
    """`outbound|<port>|<subset>|<service>.<namespace>.svc.<domain>` (or, without a cluster
    name, the authority the client called)."""
    parts = entry.upstream_cluster.split("|")
    if len(parts) == 4 and parts[0] == "outbound":
        return parts[3].startswith(f"{service}.{namespace}.svc.")
    authority = entry.authority.split(":")[0]
    return authority in (service, f"{service}.{namespace}") or \
        authority.startswith(f"{service}.{namespace}.svc.")


def _port_of(entry: AccessLogEntry, default: int) -> int:
    parts = entry.upstream_cluster.split("|")
    return int(parts[1]) if len(parts) == 4 and parts[1].isdigit() else default


def _where(host: str, pods: dict[str, Where], gateways: dict[str, Where]) -> Where:
    address = host.rsplit(":", 1)[0] if ":" in host else host
    return pods.get(address) or gateways.get(address) or Where("unknown", None, None)


def _received(ctx: CheckContext, fact: ClientFact | None, service: str, namespace: str,
              ports: list[int]) -> dict[str, Endpoint]:
    """The endpoints istiod sends the client for the service, by `address:port`."""
    if fact is None or fact.missing:
        return {}
    return {ep.target: ep for port in ports
            for ep in endpoints_for(ctx, fact.value, service, namespace, port) or []}


def outcomes_by_host(entries: list[AccessLogEntry], pods: dict[str, Where],
                     gateways: dict[str, Where]) -> dict[str, HostOutcome]:
    out: dict[str, HostOutcome] = {}
    for entry in entries:
        if not entry.upstream_host:
            continue
        outcome = out.setdefault(entry.upstream_host, HostOutcome(
            entry.upstream_host, _where(entry.upstream_host, pods, gateways)))
        (outcome.failed if entry.failed_to_connect else outcome.answered).append(entry)
    return out


def _describe(outcome: HostOutcome, received: dict[str, Endpoint], cluster: str) -> str:
    w = outcome.where
    what = (f"east-west gateway {w.name} of {w.cluster}" if w.kind == "gateway" else
            f"{'local' if w.cluster == cluster else 'remote'} pod {w.name} ({w.cluster})"
            if w.kind == "pod" else "unknown address")
    ep = received.get(outcome.host)
    health = "without health status (used as healthy)" if ep and ep.health == "UNKNOWN" \
        else f"as {ep.health}" if ep else ""
    sent = f"; istiod sends it {health}" if ep else "; not among the endpoints istiod sends now"
    return (f"{outcome.host} {what}: {len(outcome.failed)} failed to connect, "
            f"{len(outcome.answered)} answered{sent}")


def _is_remote(outcome: HostOutcome, cluster: str) -> bool:
    return outcome.where.kind in ("gateway", "pod") and outcome.where.cluster not in (None, cluster)


def _finding(ctx: CheckContext, cluster: str, client: str, outcome: HostOutcome, port: int,
             evidence: list[str]) -> Finding:
    decisive = outcome.failed[-1]
    total = len(outcome.failed) + len(outcome.answered)
    error = f"{decisive.failure}; {len(outcome.failed)} of {total} requests to {outcome.host}"
    return ctx.finding("remote-endpoints-unreachable", cluster=cluster,
                       resource=f"Pod {ctx.args['namespace']}/{client}", evidence=evidence,
                       pod=client, port=port, peer_cluster=outcome.where.cluster,
                       endpoint=outcome.host, error=error)


@check("remote-reachability", title="Connections from a client to remote endpoints",
       inputs=(CLIENT_PROXY_LOGS, CLIENT_CONFIG_DUMPS, SERVICES, TARGET_ENDPOINTSLICES,
               TARGET_POD_NETWORKS, TARGET_ROLE_PODS),
       emits=("remote-endpoints-unreachable",))
def remote_reachability(ctx: CheckContext) -> list[Step]:
    """Read the client's access log: requests to remote endpoints that never connect (UF, URX,
    UH, transport failures) while istiod hands those endpoints out."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    ports = service_ports(ctx, name, ns)
    if not ports:
        return []
    pods, gateways = target_pod_index(ctx), gateway_index(ctx.available(SERVICES))
    title = f"Connections to remote endpoints of {name}.{ns}"

    def one(cluster: str) -> Step:
        logs: dict[str, ClientFact] = ctx.get(CLIENT_PROXY_LOGS, cluster)
        if not logs and any(captured(p) for p in ctx.available(TARGET_ROLE_PODS).get(cluster, [])
                            if namespace_of(p) == ns):
            return ctx.step(title, cluster, ["the clients of this namespace are ambient: no "
                                             "sidecar access log; their ztunnel's errors are in "
                                             "the step on the ambient client's ztunnel"],
                            status="skip")
        if not logs:
            return ctx.step(title, cluster, ["no client pod to examine here"], status="skip")
        client, fact = next(iter(logs.items()))
        if fact.missing:  # the reason's wording is the source's; what matters is the absence
            return ctx.step(title, cluster, [f"no istio-proxy log of {client}: connection "
                                             "failures are not visible"], status="skip")
        entries = [e for e in parse_access_log(fact.value) if _is_for_service(e, name, ns)]
        if not entries:
            return ctx.step(title, cluster, [
                f"no access-log line for {name} in {client}'s istio-proxy log (access logging "
                "is off by default: meshConfig.accessLogFile; or no request was made)"],
                status="skip")
        dumps = ctx.available(CLIENT_CONFIG_DUMPS).get(cluster, {})
        received = _received(ctx, dumps.get(client), name, ns, ports)
        outcomes = outcomes_by_host(entries, pods, gateways)
        failed = sum(len(o.failed) for o in outcomes.values())
        evidence = [f"client {client}.{ns}: {len(entries)} access-log lines for {name}, "
                    f"{failed} failed to connect"]
        evidence += [_describe(o, received, cluster) for o in outcomes.values()]
        no_host = [e for e in entries if not e.upstream_host and e.failed_to_connect]
        if no_host:
            evidence.append(f"{len(no_host)} requests failed with no upstream host "
                            f"({no_host[-1].failure})")
        findings, reported = [], set()
        unreachable = sorted((o for o in outcomes.values() if _is_remote(o, cluster)
                              and o.unreachable), key=lambda o: -len(o.failed))
        for outcome in unreachable:
            if outcome.where.cluster in reported:
                continue
            reported.add(outcome.where.cluster)
            lines = [_describe(outcome, received, cluster), f"  {outcome.failed[-1].short()}"]
            evidence.append(lines[1])
            findings.append(_finding(ctx, cluster, client, outcome,
                                     _port_of(outcome.failed[-1], ports[0]), lines))
        return ctx.step(title, cluster, evidence, findings)

    return per_cluster(ctx, title, ctx.focus, one)
