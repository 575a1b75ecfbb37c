"""Ambient mode (ztunnel, istio-cni, waypoints, the ambient east-west gateway) across clusters:
a healthy ambient mesh and a mixed one for every command, and one scenario per ambient finding.

Meshes come from tests/meshgen/ambient_meshes.py: istio.io's ambient multi-primary,
multi-network install and its verify and failover guides. Each fault is one knob; the
description says what a perfect diagnosis reports and why consequences are or are not expected.
"""

from __future__ import annotations

from tests.meshgen.ambient_meshes import ambient_mesh, mixed_mesh
from tests.meshgen.model import Mesh
from tests.meshgen.scenarios import Expected, scenario

Result = tuple[Mesh, Expected]


def _healthy(command: str, args: list[str], description: str) -> Expected:
    return Expected(description, "healthy", [], command=command, args=args)


@scenario("ambient-healthy")
def ambient_healthy() -> Result:
    return ambient_mesh(), _healthy(
        "why-local-only", ["helloworld", "-n", "sample"],
        "istio.io's ambient multi-primary, multi-network mesh: sample enrolled in ambient, "
        "helloworld and sleep global, an istio-east-west gateway in each cluster. Each client's "
        "ztunnel holds its local helloworld pod and the peer network's workloads through the "
        "peer's east-west gateway.")
