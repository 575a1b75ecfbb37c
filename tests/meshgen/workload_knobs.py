"""Knobs for application workloads and their namespaces (the `check` and `proxy-status` faults).

Plain dataclasses with defaults that change nothing: a workload with default `WorkloadKnobs`
renders exactly as before. `workload_faults` turns them into objects, logs and syncz entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class WorkloadKnobs:
    kind: Literal["Deployment", "StatefulSet"] = "Deployment"
    injected: bool = True          # False: no sidecar (the webhook did not inject the pod)
    pod_labels: dict[str, str] = field(default_factory=dict)       # on the pod template
    pod_annotations: dict[str, str] = field(default_factory=dict)  # on the pod template
    probes: bool = False           # HTTP readiness + liveness probes on the app port
    rewrite_probes: bool = True    # False: sidecar.istio.io/rewriteAppHTTPProbers: "false"
    start_race: bool = False       # app crashed at start (connection errors), restarted once;
    race_recovered: bool = False   # ... and its current run connected at once: only the
                                   # crashed run's log (kubectl logs --previous) shows the race
    app_log: bool = False          # write the app container's (healthy) log
    init_blocked: bool = False     # policy dropped istio-init's NET_ADMIN/NET_RAW: CrashLoop
    proxy_version: str | None = None  # the proxy was injected by another Istio version
    connected: bool = True         # False: the sidecar runs but no istiod lists it
    stale_types: tuple[str, ...] = ()  # xDS kinds (cluster, listener, route, endpoint) unacked
    calls: tuple[str, int] | None = None  # (service, port) this client calls (access log lines)
    http10: bool = False           # ... with HTTP/1.0 (nginx's default upstream): 426
    udp: bool = False              # the container port is UDP
    # ResourceQuota name: admission refuses every pod of the Deployment (exceeded quota), so
    # its ReplicaSet records ReplicaFailure and FailedCreate events and no pod exists
    refused_by_quota: str | None = None


@dataclass
class PeerAuthSpec:
    name: str
    namespace: str
    mode: str = "STRICT"
    selector: dict[str, str] | None = None
    port_levels: dict[int, str] = field(default_factory=dict)


@dataclass
class AppKnobs:
    """Per cluster: PeerAuthentications and the labels of namespaces beyond the defaults."""

    peer_authentications: list[PeerAuthSpec] = field(default_factory=list)
    # labels of extra namespaces (those of workloads outside the default ones); a namespace
    # not listed here is labelled istio-injection=enabled
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)


def connects(pod) -> bool:
    """Whether a meshgen Pod's sidecar is connected to an istiod (and so listed in syncz)."""
    w = getattr(pod, "workload", None)
    return w is None or (w.knobs.connected and not w.knobs.init_blocked)
