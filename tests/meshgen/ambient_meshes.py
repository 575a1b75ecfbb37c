"""The ambient meshes scenarios start from.

`ambient_mesh()`: istio.io's "Install ambient multi-primary on different networks" followed by
its "Verify the ambient installation" (helloworld v1 in cluster1, v2 in cluster2, a client in
both, namespace `sample` enrolled, Services labelled `istio.io/global=true`), with the ambient
east-west gateway in each cluster and no sidecar anywhere.

`mixed_mesh()`: the sidecar mesh of the multicluster docs (namespace `sample` injected, the
15443 east-west gateway) with ambient installed beside it: namespace `demo` enrolled in ambient
with its own helloworld and curl, and the ambient east-west gateway next to the sidecar one.
"""

from __future__ import annotations

from tests.meshgen.ambient_knobs import AmbientEastWestSpec, AmbientKnobs, WaypointSpec
from tests.meshgen.model import Mesh, ServicePort, ServiceSpec, WorkloadSpec, default_mesh

DEMO = "demo"


def ambient_mesh() -> Mesh:
    mesh = default_mesh()
    for c in mesh.clusters:
        c.ambient = AmbientKnobs(enabled=True)
        c.eastwest.present = False          # no sidecar-mode (15443) east-west gateway
        c.cross_network_gateway = False
        for w in c.workloads:
            w.knobs.injected = False        # enrolled in ambient: no sidecar
    return mesh


def _demo_workload(name: str, app: str, version: str | None, image: str, port: int,
                   account: str, command: list[str] | None = None) -> WorkloadSpec:
    return WorkloadSpec(name, app, version, image, port, account, namespace=DEMO,
                        command=command)


def mixed_mesh() -> Mesh:
    mesh = default_mesh()
    for i, c in enumerate(mesh.clusters, start=1):
        c.ambient = AmbientKnobs(enabled=True, namespaces=(DEMO,),
                                 eastwest=AmbientEastWestSpec(name="eastwestgateway-ambient"))
        demo = [_demo_workload(f"hello-ambient-v{i}", "hello-ambient", f"v{i}",
                               f"docker.io/istio/examples-helloworld-v{i}:1.0", 5000, "default"),
                _demo_workload("curl", "curl", None, "curlimages/curl", 80, "curl",
                               ["/bin/sleep", "infinity"])]
        for w in demo:
            w.knobs.injected = False
        c.workloads += demo
        c.services += [ServiceSpec("hello-ambient", DEMO, [ServicePort("http", 5000, 5000)],
                                   {"app": "hello-ambient"},
                                   labels={"app": "hello-ambient", "service": "hello-ambient"}),
                       ServiceSpec("curl", DEMO, [ServicePort("http", 80, 80)], {"app": "curl"},
                                   labels={"app": "curl", "service": "curl"})]
        c.ambient.global_services = ("hello-ambient", "curl")
    return mesh


def with_waypoint(mesh: Mesh, **knobs) -> Mesh:
    """The failover guide's waypoint for helloworld in every cluster (`--for service`)."""
    for c in mesh.clusters:
        c.ambient.waypoint = WaypointSpec(**knobs)
        c.ambient.waypoint_for = ("helloworld",)
    return mesh
