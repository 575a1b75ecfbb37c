"""Ambient: pods that should be captured by ztunnel but are not (proxy-status).

A pod of a namespace enrolled in ambient mode (`istio.io/dataplane-mode=ambient`) is redirected
into ztunnel by the istio-cni node agent when it starts, which marks it
`ambient.istio.io/redirection: enabled` (istio/istio cni/pkg/util/podutil.go). A running enrolled pod
without the mark bypasses the mesh: it started while the agent on its node was missing or
failing, or before the namespace was enrolled.

The enrolled pods are read as metadata (the ambient namespaces' pods, and pods labelled for
ambient); only those without the mark are read whole, to see whether they run, where, and with
a sidecar or host network that rules them out.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import AMBIENT_ENROLLED_PODS, CNI_PODS, NAMESPACES, UNCAPTURED_AMBIENT_PODS
from diagnostics.model import Step
from diagnostics.views.ambient import (ambient_namespaces, captured, enrolled, enrolled_in,
                                       finished, namespace_index, node_of)
from diagnostics.views.mesh import workload_ref
from diagnostics.views.node_agents import agent_state, not_captured_finding, why_not_captured
from diagnostics.views.proxies import FINDING_LIMIT, capped, in_scope
from diagnostics.workloads import is_mesh_infrastructure, name_of, namespace_of, sidecar_injected


@check("ambient-capture", title="Ambient pods captured by ztunnel",
       inputs=(AMBIENT_ENROLLED_PODS, UNCAPTURED_AMBIENT_PODS, NAMESPACES, CNI_PODS), emits=("ambient-pod-not-captured",))
def ambient_capture(ctx: CheckContext) -> list[Step]:
    """Running pods of ambient-enrolled namespaces that istio-cni did not redirect to ztunnel."""
    title = "Ambient pods captured by ztunnel"

    def one(cluster: str) -> Step | None:
        namespaces = namespace_index(ctx.get(NAMESPACES, cluster))
        ambient = ambient_namespaces(namespaces.values())
        # capture first: a label rules out every pod of a sidecar mesh
        held = sum(1 for p in ctx.get(AMBIENT_ENROLLED_PODS, cluster) if captured(p)
                   and in_scope(ctx, namespace_of(p)) and not is_mesh_infrastructure(p)
                   and not sidecar_injected(p) and enrolled_in(p, ambient))
        lost = sorted((p for p in ctx.get(UNCAPTURED_AMBIENT_PODS, cluster)
                       if in_scope(ctx, namespace_of(p)) and not finished(p)
                       and (p.get("status") or {}).get("phase") == "Running"
                       and enrolled(p, namespaces.get(namespace_of(p))) and not captured(p)),
                      key=lambda p: (namespace_of(p), name_of(p)))
        if not held and not lost:
            return None
        cnis = ctx.available(CNI_PODS).get(cluster, [])
        evidence = [f"{held + len(lost)} pod(s) enrolled in ambient, {held} captured by "
                    "ztunnel"]
        findings, seen = [], set()
        for pod in lost:
            state = agent_state(node_of(pod), cnis)
            cni_line = state.describe("istio-cni")
            evidence.append(f"  {name_of(pod)}.{namespace_of(pod)} (node {node_of(pod)}): not "
                            f"captured; {cni_line}")
            owner = (namespace_of(pod), workload_ref(pod))
            if owner in seen or len(findings) >= FINDING_LIMIT:
                continue
            seen.add(owner)
            findings.append(not_captured_finding(ctx, cluster, pod, cni_line,
                                                 why_not_captured(state.problem)))
        return ctx.step(title, cluster, evidence,
                        capped(findings, len({(namespace_of(p), workload_ref(p)) for p in lost}),
                               "workloads with pods not captured"))

    return per_cluster(ctx, title, ctx.focus, one)
