"""meshgen: a model of an Istio multicluster mesh and a renderer of consistent snapshots.

Scenario folders under tests/scenarios/ and the demo under examples/demo-mesh/ are generated
from `scenarios.SCENARIOS` by `python -m tests.meshgen` — never edit them by hand.

Modules: model (dataclasses and knobs) → topology (pods, IPs, endpoints) → remote_secrets and
istiod_view (what each istiod syncs and who connects) → debug_bodies, config_dump, k8s_objects,
k8s_workloads, logs, traffic, envoy_admin (the files) → render (a snapshot folder).
"""

from tests.meshgen.model import Mesh, default_mesh, primary_remote_mesh
from tests.meshgen.render import render_files, write_snapshot

__all__ = ["Mesh", "default_mesh", "primary_remote_mesh", "render_files", "write_snapshot"]
