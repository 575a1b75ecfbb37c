"""Which data plane a cluster's namespaces are enrolled in: sidecars or ambient.

Read from the namespaces' own labels, as istiod and the CNI node agent read them: a namespace
labelled `istio.io/dataplane-mode=ambient` is in ambient mode (its pods are redirected to the
node's ztunnel, with no sidecar); one labelled `istio-injection=enabled` or `istio.io/rev=<rev>`
gets sidecars. The topology picture shows the counts per cluster; nothing here judges them.
Counts, not names: a mesh of thousands of namespaces keeps a small report.
"""

from __future__ import annotations

from diagnostics.views.workload import AMBIENT_LABEL, SYSTEM_NAMESPACES
from diagnostics.workloads import labels_of, name_of

INJECTION_LABEL = "istio-injection"
REV_LABEL = "istio.io/rev"
SIDECAR, AMBIENT = "sidecar", "ambient"


def mode_of(namespace: dict) -> str | None:
    """sidecar, ambient, or None for a namespace enrolled in neither."""
    labels = labels_of(namespace)
    if labels.get(AMBIENT_LABEL) == AMBIENT:
        return AMBIENT
    if labels.get(INJECTION_LABEL) == "enabled" or \
            (labels.get(REV_LABEL) and labels.get(INJECTION_LABEL) != "disabled"):
        return SIDECAR
    return None


def enrolled_counts(namespaces: list[dict], istio_ns: str) -> dict[str, int]:
    """{sidecar: n, ambient: n}: namespaces enrolled in each, the system namespaces left out."""
    out = {SIDECAR: 0, AMBIENT: 0}
    for ns in namespaces:
        mode = mode_of(ns)
        if mode and name_of(ns) not in (istio_ns, *SYSTEM_NAMESPACES):
            out[mode] += 1
    return out
