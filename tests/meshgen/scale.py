"""Large synthetic meshes: the demo topology with many helloworld pods, some out of sync.

Used by bench/mesh_scale.py (figures) and tests/test_scale.py (API calls that do not grow with
the pods, answers that still fit Slack).
"""

from __future__ import annotations

from tests.meshgen.model import Mesh, default_mesh, helloworld


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
