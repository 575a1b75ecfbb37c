"""ztunnel and the istio-cni node agent: the two DaemonSets ambient mode runs on every node.

ztunnel carries the traffic of the node's captured pods and must be running, ready and
connected to istiod (istiod's syncz lists it with proxy type `ztunnel`); the istio-cni node agent
redirects each enrolled pod into ztunnel as it starts. Both are found by their charts' pod labels
(`app=ztunnel`, `k8s-app=istio-cni-node`), wherever they were installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagnostics.checking import CheckContext
from diagnostics.model import Finding
from diagnostics.parse.ztunnel import parse_dump
from diagnostics.views.ambient import REDIRECTION, node_of
from diagnostics.views.mesh import workload_ref
from diagnostics.views.proxies import census_view, proxy_image_version
from diagnostics.workloads import is_ready, name_of, namespace_of

CONTAINERS = {"ztunnel": "istio-proxy", "istio-cni": "install-cni"}


@dataclass
class AgentState:
    """One node's agent: its pod (None when none runs there) and what is wrong, if anything."""

    node: str
    pod: dict | None
    problem: str = ""  # "" when it serves

    @property
    def name(self) -> str:
        return name_of(self.pod) if self.pod else "none"

    @property
    def namespace(self) -> str:
        return namespace_of(self.pod) if self.pod else "istio-system"

    def describe(self, kind: str) -> str:
        state = self.problem or "running, ready"
        return f"node {self.node}: {kind} {self.name}: {state}"


def _waiting_reason(pod: dict) -> str:
    for st in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (st.get("state") or {}).get("waiting")
        if waiting:
            restarts = st.get("restartCount") or 0
            return f"{waiting.get('reason', 'waiting')}, {restarts} restarts"
        if not st.get("ready"):
            return "container not ready"
    return (pod.get("status") or {}).get("phase") or "not ready"


def agent_state(node: str, pods: list[dict]) -> AgentState:
    """The agent pod on `node` (a ready one if several) and whether it serves."""
    on_node = sorted((p for p in pods if node_of(p) == node), key=lambda p: not is_ready(p))
    if not on_node:
        return AgentState(node, None, "no pod on this node")
    pod = on_node[0]
    return AgentState(node, pod, "" if is_ready(pod) else f"not ready ({_waiting_reason(pod)})")


def nodes_with(pods: list[dict]) -> list[str]:
    return sorted({node_of(p) for p in pods if node_of(p)})


def connected_ztunnels(ctx: CheckContext, cluster: str) -> set[str] | None:
    """`<pod>.<namespace>` of the ztunnels some istiod lists in its syncz; None when the syncz
    of the control plane serving `cluster` could not be read in full (the census of syncz:
    whether a ztunnel is listed, nothing of its sync state)."""
    view = census_view(ctx)
    if view.serving_incomplete(cluster) or not view.any_replica_read():
        return None
    return {p.sync.proxy for p in view.proxies if p.cluster == cluster}


def ztunnel_version(pod: dict | None) -> str:
    return proxy_image_version(pod) or "?"


# --- what a client's ztunnel holds for a service --------------------------------------------


@dataclass
class ZtunnelView:
    """The service as the client's ztunnel holds it: its endpoints, described."""

    known: bool  # ztunnel knows the service at all
    lines: list[str]
    remote: list[str]  # endpoints in another cluster (pods, or a network through its gateway)
    local: list[str]
    load_balancing: str = ""  # `Failover by Network, Region, Zone`, "" when unset
    remote_ids: list[str] = field(default_factory=list)  # cluster ids of the remote endpoints


def ztunnel_view(dump_body: object, service: str, namespace: str, cluster_id: str | None
                 ) -> ZtunnelView:
    """Where the client's ztunnel sends the service's traffic: local workloads, remote ones,
    remote networks through their east-west gateways."""
    dump = parse_dump(dump_body)
    svc = next((s for s in dump.services if s.name == service and s.namespace == namespace),
               None)
    if svc is None:
        return ZtunnelView(False, [f"ztunnel knows no service {service}.{namespace}"], [], [])
    local, remote, lines, ids = [], [], [], []
    for w in dump.endpoints_of(svc):
        where = "remote" if w.split_horizon or (cluster_id and w.cluster_id != cluster_id) \
            else "local"
        (remote if where == "remote" else local).append(w.describe())
        ids += [w.cluster_id] if where == "remote" and w.cluster_id not in ids else []
        lines.append(f"  {where}: {w.describe()}")
    head = (f"{service}.{namespace}: {len(local)} local and {len(remote)} remote endpoint(s)"
            + (f", waypoint {svc.waypoint.describe()}" if svc.waypoint else ""))
    lb = f"{svc.lb_mode} by {', '.join(svc.lb_scopes)}" if svc.lb_mode else ""
    if lb:
        head += f", load balancing {lb}"
    return ZtunnelView(True, [head, *lines], remote, local, lb, ids)


# --- what pods a down agent leaves out -----------------------------------------------------


def not_captured_finding(ctx: CheckContext, cluster: str, pod: dict, cni_line: str,
                         why: str) -> Finding:
    line = (f"{name_of(pod)}.{namespace_of(pod)} on node {node_of(pod)}: enrolled in ambient, "
            f"no {REDIRECTION}: enabled")
    return ctx.finding("ambient-pod-not-captured", cluster=cluster,
                       resource=f"Pod {namespace_of(pod)}/{name_of(pod)}",
                       evidence=[line, cni_line], pod=name_of(pod),
                       namespace=namespace_of(pod), workload=workload_ref(pod),
                       node=node_of(pod), reason=why)


def why_not_captured(cni_problem: str) -> str:
    return (f"the istio-cni node agent on its node is {cni_problem}" if cni_problem else
            "it started before its namespace was enrolled, or while the node agent was down")
