"""Ambient: the ztunnel that carries the examined client's traffic.

An ambient client's connections leave through the ztunnel on its node, so that ztunnel must be
running, ready and connected to istiod; its workload state (keyed by pod UID) says whether it
actually proxies the client, and its log names what it could not route (istio/ztunnel
src/proxy.rs errors: unknown network gateway, no healthy upstream, unknown waypoint, ...).
"""

from __future__ import annotations

from collections import Counter

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.facts import ZtunnelFact
from diagnostics.inputs import (CLIENT_ZTUNNEL_DUMPS, CLIENT_ZTUNNEL_LOGS, ISTIOD_PODS, SYNCZ_CENSUS,
                                ZTUNNEL_PODS)
from diagnostics.model import Finding, Step
from diagnostics.parse.ztunnel import log_errors, parse_dump
from diagnostics.views.ambient import node_of
from diagnostics.views.node_agents import agent_state, connected_ztunnels
from diagnostics.workloads import name_of, namespace_of


@check("client-ztunnel", title="The ztunnel of the ambient client",
       inputs=(CLIENT_ZTUNNEL_DUMPS, CLIENT_ZTUNNEL_LOGS, ZTUNNEL_PODS, SYNCZ_CENSUS, ISTIOD_PODS),
       emits=("ztunnel-unhealthy",))
def client_ztunnel(ctx: CheckContext) -> list[Step]:
    """Check that the ztunnel on the ambient client's node runs, is ready, is connected to
    istiod and proxies the client, and list the routing errors its log reports."""
    title = "The ztunnel of the ambient client"

    def one(cluster: str) -> Step | None:
        facts: dict[str, ZtunnelFact] = ctx.get(CLIENT_ZTUNNEL_DUMPS, cluster)
        if not facts:
            return None  # no ambient client here: the client step says which view is read
        fact = next(iter(facts.values()))
        logs = ctx.available(CLIENT_ZTUNNEL_LOGS).get(cluster, {})
        return _step(ctx, title, cluster, fact, logs.get(name_of(fact.pod)))

    return per_cluster(ctx, title, ctx.focus, one)


def _step(ctx: CheckContext, title: str, cluster: str, fact: ZtunnelFact,
          log: ZtunnelFact | None) -> Step:
    client, node = name_of(fact.pod), node_of(fact.pod)
    state = agent_state(node, ctx.get(ZTUNNEL_PODS, cluster))
    evidence = [f"client {client}.{namespace_of(fact.pod)} on node {node}",
                state.describe("ztunnel")]
    problem = state.problem
    connected = connected_ztunnels(ctx, cluster)
    proxy_id = f"{state.name}.{state.namespace}"
    if not problem and connected is not None:
        if proxy_id in connected:
            evidence.append(f"istiod lists {proxy_id} as connected (syncz)")
        else:
            problem = "not connected to istiod (no istiod replica lists it in its syncz)"
            evidence.append(f"no istiod replica lists {proxy_id} in its syncz")
    evidence += _dump_lines(fact)
    evidence += _log_lines(log)
    findings: list[Finding] = []
    if problem:
        findings.append(ctx.finding(
            "ztunnel-unhealthy", cluster=cluster, resource=f"Pod {state.namespace}/{state.name}",
            evidence=evidence[:], node=node, ztunnel=state.name,
            ztunnel_namespace=state.namespace, problem=problem))
    return ctx.step(title, cluster, evidence, findings)


def _dump_lines(fact: ZtunnelFact) -> list[str]:
    if fact.missing:
        return [f"config_dump not read: {fact.missing}"]
    dump = parse_dump(fact.value)
    uid = str((fact.pod.get("metadata") or {}).get("uid") or "")
    state = dump.proxies(uid)
    lines = [f"ztunnel {dump.version or '?'}: network {dump.network or '(unset)'}, cluster id "
             f"{dump.cluster_id or '?'}, {len(dump.workloads)} workloads, "
             f"{len(dump.services)} services"]
    lines.append(f"it proxies the client (workloadState {state})" if state else
                 "the client is not in its workloadState: ztunnel does not proxy it")
    return lines


def _log_lines(log: ZtunnelFact | None) -> list[str]:
    if log is None or log.missing:
        return [f"log not read: {log.missing}"] if log is not None else []
    errors = log_errors(log.value or "")
    if not errors:
        return ["its log reports no routing or xDS errors"]
    counts = Counter(e.kind for e in errors)
    last = {e.kind: e.text for e in errors}
    return [f"log: {n} × {kind} error, last: {last[kind][:240]}" for kind, n in counts.items()]
