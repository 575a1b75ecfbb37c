"""Ambient across networks: istiod's multi-network switch and ztunnel's own network.

istiod handles ambient traffic across networks only with `PILOT_ENABLE_AMBIENT=true` and
`AMBIENT_ENABLE_MULTI_NETWORK=true` (istio/istio pilot/pkg/features/ambient.go; 1.27 or newer,
the first release with the istio-east-west gateway class); without them it treats every Service
as local and logs nothing. ztunnel learns its network from the NETWORK variable the ztunnel
chart sets from its `network` value (istio/ztunnel src/config.rs); unset, it cannot match the
network-qualified addresses istiod sends it.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import ISTIOD_PODS, TARGET_ROLE_PODS, ZTUNNEL_PODS
from diagnostics.model import Finding, Step
from diagnostics.views.ambient import ambient_clusters
from diagnostics.views.control_plane import istiod_env
from diagnostics.views.mesh import proxy_env
from diagnostics.views.networks import NETWORK_INPUTS, MeshNetworks, gather_networks
from diagnostics.workloads import istiod_version, name_of, namespace_of

FLAGS = ("PILOT_ENABLE_AMBIENT", "AMBIENT_ENABLE_MULTI_NETWORK")
FIRST_RELEASE = (1, 27)


@check("ambient-multinetwork", title="Ambient multi-network settings",
       inputs=(*NETWORK_INPUTS, ISTIOD_PODS, ZTUNNEL_PODS, TARGET_ROLE_PODS),
       emits=("ambient-multinetwork-disabled", "ztunnel-network-unset"))
def ambient_multinetwork(ctx: CheckContext) -> list[Step]:
    """Where ambient mode spans networks, check that each istiod runs with multi-network
    support (by its environment) and that each cluster's ztunnels know their network."""
    ztunnels = ctx.available(ZTUNNEL_PODS)
    if not any(ztunnels.values()):
        return []
    namespace = ctx.args.get("namespace")
    if ctx.args.get("service") and not ambient_clusters(ctx, namespace or "default"):
        return []  # why-local-only about a namespace no cluster runs in ambient mode
    mesh = gather_networks(ctx)
    if not mesh.multi:
        return []
    title = "Ambient multi-network settings"

    def one(cluster: str) -> Step | None:
        if not ztunnels.get(cluster):
            return None
        evidence = [mesh.clusters[cluster].describe()]
        findings = _istiod(ctx, cluster, evidence)
        findings += _ztunnels(ctx, cluster, mesh, ztunnels[cluster], evidence)
        return ctx.step(title, cluster, evidence, findings)

    return per_cluster(ctx, title, ctx.cluster_names, one)


def _istiod(ctx: CheckContext, cluster: str, evidence: list[str]) -> list[Finding]:
    pods = sorted(ctx.get(ISTIOD_PODS, cluster), key=name_of)
    if not pods:
        evidence.append("no istiod runs here: its primary's settings apply")
        return []
    pod = pods[0]
    env = istiod_env(pod)
    version = istiod_version(pod)
    shown = ", ".join(f"{f}={env.get(f) or '(unset)'}" for f in FLAGS)
    line = f"istiod {name_of(pod)} ({'.'.join(map(str, version)) if version else '?'}): {shown}"
    evidence.append(line)
    missing = [f"{f}=true" for f in FLAGS if str(env.get(f, "")).lower() != "true"]
    if version and version[:2] < FIRST_RELEASE:
        missing.append(f"a release with ambient multi-network support (Istio "
                       f"{FIRST_RELEASE[0]}.{FIRST_RELEASE[1]} or newer)")
    if not missing:
        return []
    return [ctx.finding("ambient-multinetwork-disabled", cluster=cluster,
                        resource=f"Pod {namespace_of(pod)}/{name_of(pod)}", evidence=[line],
                        istiod=name_of(pod), missing=", ".join(missing),
                        version=".".join(map(str, version)) if version else "unknown")]


def _ztunnels(ctx: CheckContext, cluster: str, mesh: MeshNetworks, pods: list[dict],
              evidence: list[str]) -> list[Finding]:
    network = mesh.of(cluster) or f"<network of {cluster}>"
    unset = sorted((p for p in pods if not proxy_env(p, "NETWORK")), key=name_of)
    values = sorted({proxy_env(p, "NETWORK") or "(unset)" for p in pods})
    evidence.append(f"{len(pods)} ztunnel pod(s): NETWORK={', '.join(values)}")
    if not unset:
        return []
    line = (f"{len(unset)} of {len(pods)} ztunnel pods run without NETWORK (e.g. "
            f"{name_of(unset[0])}), in a cluster on network {network}")
    return [ctx.finding("ztunnel-network-unset", cluster=cluster,
                        resource=f"DaemonSet {namespace_of(unset[0])}/ztunnel", evidence=[line],
                        network=network, ztunnel_namespace=namespace_of(unset[0]))]
