"""Large synthetic meshes: the demo topology with many helloworld pods, some out of sync, or
with a namespace crowded with faulty workloads.

Used by bench/mesh_scale.py (figures), tests/test_scale.py (API calls that do not grow with the
pods, answers that still fit Slack) and tests/test_bot.py (an answer larger than a message).
"""

from __future__ import annotations

from tests.meshgen.model import (Mesh, ServicePort, ServiceSpec, WorkloadSpec, default_mesh,
                                   helloworld)


def scaled_mesh(pods: int, stale: float = 0.0) -> Mesh:
    """`pods` helloworld pods per cluster; `stale` of them (a canary Deployment) out of sync."""
    mesh = default_mesh()
    mesh.config_dumps_for = ("sleep",)  # meshbot asks istiod for its chosen client's view only
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
