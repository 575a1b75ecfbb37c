"""Large synthetic meshes: the demo topology with many helloworld pods, some out of sync, or
with a namespace crowded with faulty workloads.

Used by bench/mesh_scale.py (figures), tests/test_scale.py (API calls that do not grow with the
pods, answers that still fit Slack) and tests/test_bot.py (an answer larger than a message).
"""

from __future__ import annotations

from tests.meshgen.model import (ClusterSpec, Mesh, RemoteSecretSpec, ServicePort, ServiceSpec,
                                   WorkloadSpec, default_mesh, helloworld, helloworld_service,
                                   sleep, sleep_service)


def scaled_mesh(pods: int, stale: float = 0.0, clusters: int = 2) -> Mesh:
    """`pods` helloworld pods per cluster; `stale` of them (a canary Deployment) out of sync.
    More than two `clusters`: a multi-primary mesh, one network each, every istiod reading
    every other cluster."""
    mesh = default_mesh()
    if clusters > 2:
        add_primaries(mesh, clusters)
    mesh.config_dumps_for = ("sleep",)  # meshbot asks istiod for its chosen client's view only
    mesh.compact_files = True  # JSON written by the C encoder: 10,000 pods in seconds
    for cluster in mesh.clusters:
        version = "v1" if cluster.index == 1 else "v2"
        n_stale = round(pods * stale)
        steady = helloworld(version)
        steady.replicas = pods - n_stale
        workloads = [w for w in cluster.workloads if w.app != "helloworld"] + [steady]
        if n_stale:
            canary = helloworld(version)
            canary.name, canary.replicas = f"helloworld-{version}-canary", n_stale
            canary.knobs.stale_types = ("endpoint",)
            workloads.append(canary)
        cluster.workloads = workloads
    return mesh


def add_primaries(mesh: Mesh, total: int) -> None:
    """Clusters 3..total like cluster2 (helloworld v2, sleep), each on its own network and
    zone, with remote secrets between every pair."""
    for i in range(3, total + 1):
        spec = ClusterSpec(f"cluster{i}", i, f"network{i}", "us-west1", f"us-west1-{chr(96 + i)}",
                           f"172.18.0.{i + 1}:6443", f"35.190.20.{30 + i}")
        spec.workloads = [helloworld("v2"), sleep()]
        spec.services = [helloworld_service(), sleep_service()]
        mesh.clusters.append(spec)
    for spec in mesh.clusters:
        spec.remote_secrets = {peer.id: RemoteSecretSpec() for peer in mesh.clusters
                               if peer.id != spec.id}


def crowded_namespace(workloads: int, namespace: str = "crowd") -> Mesh:
    """The demo mesh plus `workloads` uninjected Deployments (each with a Service) in one
    namespace of cluster1: `check ns/<namespace>` then has more findings than a Slack message
    holds."""
    mesh = default_mesh()
    cluster = mesh.clusters[0]
    for i in range(workloads):
        name = f"{namespace}-{i:02d}"
        workload = WorkloadSpec(name=name, app=name, version="v1", image="nginx:1.27",
                                container_port=8080, service_account="default",
                                namespace=namespace)
        workload.knobs.injected = False
        cluster.workloads.append(workload)
        cluster.services.append(ServiceSpec(name=name, namespace=namespace,
                                            ports=[ServicePort("http-web", 80, 8080)],
                                            selector={"app": name}))
    return mesh
