"""proxy-status: a running sidecar that no istiod replica of any cluster lists in its syncz is
connected to no istiod. ztunnel (its container is named istio-proxy too) is judged by the
node-agents check.

Injected pods are counted by name (the injector's `security.istio.io/tlsMode` label selects
them), gateways and waypoints by their labels; only the pods no syncz lists are read whole
(PROXY_PODS, diagnostics/pods_fetch.py proxy_pods), to tell a running sidecar from one still
starting, finished or being deleted.
"""

from __future__ import annotations

from datetime import datetime
from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.inputs import ISTIOD_PODS, PROXY_PODS, SYNCZ
from diagnostics.model import Step
from diagnostics.views.proxies import (CONNECT_GRACE_SECONDS, FINDING_LIMIT, TABLE_LIMIT, capped,
                                       proxy_image_version, proxy_table, proxy_view)
from diagnostics.workloads import PROXY_CONTAINER, has_sidecar, is_ztunnel, name_of, namespace_of


def _proxy_running_since(pod: dict) -> datetime | str | None:
    """When the pod's istio-proxy started running; "" if running since an unknown time;
    None when it is not running (waiting, terminated, not started)."""
    status = pod.get("status") or {}
    for st in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if st.get("name") != PROXY_CONTAINER:
            continue
        running = (st.get("state") or {}).get("running")
        if running is None:
            return None
        started = running.get("startedAt")
        try:
            return datetime.fromisoformat(str(started).replace("Z", "+00:00")) if started else ""
        except ValueError:
            return ""
    return ""  # no status for it (yet): judge by the pod phase alone


def connectable(pod: dict, now: datetime) -> bool:
    """A sidecar that should be connected by now: Running, not terminating, proxy running
    for longer than the connect grace."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if not has_sidecar(pod) or is_ztunnel(pod) or status.get("phase") != "Running" \
            or meta.get("deletionTimestamp"):
        return False
    since = _proxy_running_since(pod)
    if since is None:
        return False
    return since == "" or (now - since).total_seconds() >= CONNECT_GRACE_SECONDS


@check("proxy-connected", title="Sidecars connected to an istiod",
       inputs=(SYNCZ, ISTIOD_PODS, PROXY_PODS), emits=("proxy-disconnected",))
def proxy_connected(ctx: CheckContext) -> list[Step]:
    """Running sidecars that no istiod replica of any cluster lists in its syncz."""
    view = proxy_view(ctx)
    connected = {(p.cluster, p.sync.proxy) for p in view.proxies}
    title = "Sidecars connected to an istiod"
    steps = []
    for cluster in ctx.focus:
        try:
            census = ctx.get(PROXY_PODS, cluster)
        except Unavailable as exc:
            steps.append(ctx.unavailable_step(title, cluster, exc))
            continue
        gaps = view.serving_incomplete(cluster)
        if not view.any_replica_read() or not census.judged:
            why = "; ".join(gaps) or "no istiod replica found in any cluster"
            step = ctx.step(title, cluster, [f"{census.total} pods with a proxy; no syncz "
                                             f"could be read ({why})"],
                            status="error" if gaps else "skip")
            step.incomplete = True
            steps.append(step)
            continue
        unlisted = [p for p in census.unlisted
                    if (cluster, f"{name_of(p)}.{namespace_of(p)}") not in connected]
        lost = [p for p in unlisted if connectable(p, ctx.now)]
        evidence = [f"{census.total} pods with a proxy in {cluster}, "
                    f"{census.total - len(unlisted)} listed by an istiod"]
        if gaps:
            evidence += [f"not read: {g}" for g in gaps]
            if lost:
                evidence.append(f"{len(lost)} not listed by the replicas that were read; they "
                                "may be connected to one that was not")
            step = ctx.step(title, cluster, evidence, status="error")
            step.incomplete = True
            steps.append(step)
            continue
        if lost:
            evidence.append("not connected to any istiod (cluster, pod, proxy image):")
            evidence += proxy_table([(cluster, f"{name_of(p)}.{namespace_of(p)}",
                                 proxy_image_version(p) or "?") for p in lost[:TABLE_LIMIT]],
                               len(lost) - TABLE_LIMIT, "kubectl logs <pod> -c istio-proxy")
        replicas = sum(len(r) for r in view.replicas.values())
        findings = []
        for p in lost[:FINDING_LIMIT]:
            line = (f"{name_of(p)}.{namespace_of(p)} runs a sidecar (phase Running) but none of "
                    f"the {replicas} istiod replicas read lists it in its syncz")
            findings.append(ctx.finding(
                "proxy-disconnected", cluster=cluster,
                resource=f"Pod {namespace_of(p)}/{name_of(p)}", evidence=[line], basis=[line],
                pod=name_of(p), namespace=namespace_of(p)))
        steps.append(ctx.step(title, cluster, evidence,
                              capped(findings, len(lost), "disconnected sidecars")))
    return steps
