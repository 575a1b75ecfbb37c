"""Ambient: ztunnel and the istio-cni node agent on every node.

Both run as DaemonSets: one ztunnel and one istio-cni agent per node. Where either is missing or
not ready, the node's ambient pods lose their data plane (ztunnel) or new pods are not
redirected into it (istio-cni); a ztunnel that no istiod lists in its syncz is not connected and
holds no workloads or certificates. A cluster with neither (no ambient install) is skipped.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import CNI_PODS, ISTIOD_PODS, NODES, SYNCZ_CENSUS, ZTUNNEL_PODS
from diagnostics.model import Finding, Step
from diagnostics.views.node_agents import (AgentState, agent_state, connected_ztunnels,
                                           nodes_with, ztunnel_version)
from diagnostics.views.proxies import istiod_versions
from diagnostics.workloads import name_of


@check("node-agents", title="ztunnel and istio-cni on every node",
       inputs=(ZTUNNEL_PODS, CNI_PODS, NODES, SYNCZ_CENSUS, ISTIOD_PODS),
       emits=("ztunnel-unhealthy", "cni-node-agent-unhealthy"))
def node_agents(ctx: CheckContext) -> list[Step]:
    """On every node of an ambient cluster, a ready ztunnel connected to istiod and a ready
    istio-cni node agent."""
    title = "ztunnel and istio-cni on every node"

    def one(cluster: str) -> Step | None:
        ztunnels, cnis = ctx.get(ZTUNNEL_PODS, cluster), ctx.get(CNI_PODS, cluster)
        if not ztunnels and not cnis:
            return None  # no ambient install here
        nodes = sorted({name_of(n) for n in ctx.available(NODES).get(cluster, [])}
                       | set(nodes_with(ztunnels)) | set(nodes_with(cnis)))
        connected = connected_ztunnels(ctx, cluster)
        versions = sorted(set(istiod_versions(ctx.available(ISTIOD_PODS).get(cluster, [])).values()))
        evidence = [f"{len(nodes)} node(s); istiod {', '.join(versions) or '?'}; ztunnel "
                    + ", ".join(sorted({ztunnel_version(p) for p in ztunnels}) or ["none"])]
        if connected is None:
            evidence.append("istiod's syncz could not be read in full: connections not checked")
        findings: list[Finding] = []
        for node in nodes:
            z, c = agent_state(node, ztunnels), agent_state(node, cnis)
            if not z.problem and connected is not None and f"{z.name}.{z.namespace}" not in connected:
                z.problem = "not connected to istiod (no istiod replica lists it in its syncz)"
            evidence += [z.describe("ztunnel"), c.describe("istio-cni")]
            findings += _findings(ctx, cluster, z, c)
        return ctx.step(title, cluster, evidence, findings)

    return per_cluster(ctx, title, ctx.focus, one)


def _findings(ctx: CheckContext, cluster: str, z: AgentState, c: AgentState) -> list[Finding]:
    out = []
    if z.problem:
        out.append(ctx.finding("ztunnel-unhealthy", cluster=cluster,
                               resource=f"Pod {z.namespace}/{z.name}",
                               evidence=[z.describe("ztunnel")], node=z.node, ztunnel=z.name,
                               ztunnel_namespace=z.namespace, problem=z.problem))
    if c.problem:
        out.append(ctx.finding("cni-node-agent-unhealthy", cluster=cluster,
                               resource=f"Pod {c.namespace}/{c.name}",
                               evidence=[c.describe("istio-cni")], node=c.node, agent=c.name,
                               agent_namespace=c.namespace, problem=c.problem,
                               affected="every ambient pod started on it while it is down"))
    return out
