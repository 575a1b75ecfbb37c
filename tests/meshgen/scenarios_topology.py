"""Scenarios of `topology`: the picture of the mesh and the mesh-wide steps it is drawn from.

The same meshes as the why-local-only and trust scenarios (healthy, a missing remote secret, a
different root), three primaries with one broken link and istio.io's ambient mesh, so the
picture's tests (tests/test_topology.py) and the meta-tests see the `mesh-networks` check run.
"""

from __future__ import annotations

from tests.meshgen.ambient_meshes import ambient_mesh
from tests.meshgen.model import Mesh, default_mesh
from tests.meshgen.scale import add_primaries
from tests.meshgen.scenarios import Expected, scenario


def _topology(description: str, verdict: str, findings: list[str],
              cluster: str | None = None) -> Expected:
    return Expected(description, verdict, findings, findings[0] if findings else None, cluster,
                    command="topology", args=[])


@scenario("topology-healthy")
def topology_healthy() -> tuple[Mesh, Expected]:
    return default_mesh(), _topology(
        "Two primaries on two networks, each istiod reading the other, one root: every link "
        "of the picture is drawn synced.", "healthy", [])


@scenario("topology-remote-secret-missing")
def topology_secret_missing() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster1").remote_secrets["cluster2"].present = False
    return mesh, _topology(
        "cluster1's istiod has no remote secret for cluster2: the picture draws that one link "
        "broken, in the error colour with the finding's id.", "problem",
        ["remote-secret-missing"], "cluster1")


@scenario("topology-root-cert-mismatch")
def topology_root_mismatch() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    mesh.cluster("cluster2").root_ca = "cluster2-root"
    return mesh, _topology(
        "cluster2's root differs from cluster1's: two trust roots, cluster2's marked with "
        "root-cert-mismatch.", "problem", ["root-cert-mismatch"])


@scenario("topology-three-clusters")
def topology_three() -> tuple[Mesh, Expected]:
    mesh = default_mesh()
    add_primaries(mesh, 3)
    mesh.cluster("cluster3").remote_secrets["cluster1"].present = False
    return mesh, _topology(
        "Three primaries on three networks; cluster3's istiod has no remote secret for "
        "cluster1, the one broken link among six.", "problem", ["remote-secret-missing"],
        "cluster3")


@scenario("topology-ambient")
def topology_ambient() -> tuple[Mesh, Expected]:
    return ambient_mesh(), _topology(
        "istio.io's ambient multi-primary, multi-network mesh: each cluster's data plane is "
        "ambient (sample enrolled), each network exposes an istio-east-west gateway with its "
        "HBONE listener, every link synced.", "healthy", [])
