"""check: the ambient pitfalls of a workload enrolled in ambient mode.

What changes for an ambient workload: no sidecar and no istio-init (the istio-cni node agent
redirects the pod into ztunnel when it starts), so the pod must be captured (`ambient.istio.io/
redirection: enabled`), the istio-cni agent and ztunnel on its node must be ready, and a
waypoint it is bound to (`istio.io/use-waypoint` on the pod, its Services or its namespace)
must exist, be Programmed and have a ready pod. Workloads with sidecars are left to the
sidecar checks; a target with no ambient pod gets no step.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.inputs import CNI_PODS, K8S_GATEWAYS, NAMESPACES, WAYPOINT_PODS, ZTUNNEL_PODS
from diagnostics.model import Finding, Step
from diagnostics.targets import Target
from diagnostics.views.ambient import (AMBIENT, DATAPLANE_MODE, WaypointRef, captured, enrolled,
                                       namespace_index, namespace_mode, node_of, waypoint_of,
                                       waypoint_problem)
from diagnostics.views.node_agents import agent_state, not_captured_finding, why_not_captured
from diagnostics.views.workload import TARGET_INPUTS, per_target
from diagnostics.workloads import labels_of, name_of, namespace_of


@check("workload-ambient", title="Ambient capture, node agents and waypoints",
       inputs=TARGET_INPUTS + (NAMESPACES, CNI_PODS, ZTUNNEL_PODS, K8S_GATEWAYS, WAYPOINT_PODS),
       emits=("ambient-pod-not-captured", "cni-node-agent-unhealthy", "ztunnel-unhealthy",
              "waypoint-not-ready"))
def workload_ambient(ctx: CheckContext) -> list[Step]:
    """For the target's pods enrolled in ambient mode: captured by ztunnel, a ready istio-cni
    agent and ztunnel on their nodes, and the waypoint they are bound to ready."""
    title = "Ambient capture, node agents and waypoints"

    def body(cluster: str, target: Target) -> Step | None:
        namespaces = namespace_index(ctx.get(NAMESPACES, cluster))
        ns = namespaces.get(target.namespace)
        pods = target.pods
        if namespace_mode(ns) != AMBIENT:  # only pods labelled for it can be enrolled: the
            pods = [p for p in pods if labels_of(p).get(DATAPLANE_MODE) == AMBIENT]  # few
        pods = sorted((p for p in pods if enrolled(p, ns)), key=name_of)
        if not pods:
            return None
        evidence: list[str] = []
        findings = _nodes(ctx, cluster, pods, evidence)
        findings += _waypoints(ctx, cluster, target, pods, namespaces, evidence)
        return ctx.step(title, cluster, evidence, findings)

    return per_target(ctx, title, body)


def _nodes(ctx: CheckContext, cluster: str, pods: list[dict], evidence: list[str]
           ) -> list[Finding]:
    cnis, ztunnels = ctx.get(CNI_PODS, cluster), ctx.get(ZTUNNEL_PODS, cluster)
    findings: list[Finding] = []
    for node in sorted({node_of(p) for p in pods}):
        cni, z = agent_state(node, cnis), agent_state(node, ztunnels)
        evidence += [cni.describe("istio-cni"), z.describe("ztunnel")]
        if cni.problem:
            on_node = [name_of(p) for p in pods if node_of(p) == node]
            findings.append(ctx.finding(
                "cni-node-agent-unhealthy", cluster=cluster, resource=f"Pod {cni.namespace}/"
                f"{cni.name}", evidence=[cni.describe("istio-cni")], node=node, agent=cni.name,
                agent_namespace=cni.namespace, problem=cni.problem,
                affected=", ".join(on_node)))
        if z.problem:
            findings.append(ctx.finding(
                "ztunnel-unhealthy", cluster=cluster, resource=f"Pod {z.namespace}/{z.name}",
                evidence=[z.describe("ztunnel")], node=node, ztunnel=z.name,
                ztunnel_namespace=z.namespace, problem=z.problem))
        for pod in (p for p in pods if node_of(p) == node):
            if captured(pod):
                evidence.append(f"{name_of(pod)}: captured by ztunnel")
                continue
            evidence.append(f"{name_of(pod)}: enrolled in ambient but not captured")
            findings.append(not_captured_finding(ctx, cluster, pod, cni.describe("istio-cni"),
                                                 why_not_captured(cni.problem)))
    return findings


def _waypoints(ctx: CheckContext, cluster: str, target: Target, pods: list[dict],
               namespaces: dict[str, dict], evidence: list[str]) -> list[Finding]:
    refs: dict[tuple[str, str], WaypointRef] = {}
    for pod in pods:
        ns = namespaces.get(namespace_of(pod))
        for obj, what in [(pod, f"pod {name_of(pod)}")] + [
                (s, f"Service {namespace_of(s)}/{name_of(s)}") for s in target.services]:
            ref = waypoint_of(obj, ns, what)
            if ref:
                refs.setdefault((ref.namespace, ref.name), ref)
    findings = []
    for ref in refs.values():
        problem, lines = waypoint_problem(ctx.get(K8S_GATEWAYS, cluster),
                                          ctx.get(WAYPOINT_PODS, cluster), ref, cluster)
        lines = [f"waypoint {ref.namespace}/{ref.name} bound by {ref.by}", *lines]
        evidence += lines
        if problem:
            findings.append(ctx.finding(
                "waypoint-not-ready", cluster=cluster, resource=f"Gateway {ref.namespace}/"
                f"{ref.name}", evidence=lines, waypoint=ref.name,
                waypoint_namespace=ref.namespace, problem=problem, user=ref.by))
    return findings
