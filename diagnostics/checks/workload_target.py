"""check, step 1: what the target is in each cluster (its workloads, pods and Services).

`check` looks the workload up in every cluster where it exists (or those named by
`--cluster`). For `ns/<name>` this step is the namespace's summary: one line per workload.
"""

from __future__ import annotations

from diagnostics.checks.base import CheckContext, Unavailable, check
from diagnostics.checks.workload_common import TARGET_INPUTS, container_status, target_in
from diagnostics.model import Step
from diagnostics.targets import Target, Workload
from diagnostics.workloads import has_sidecar, is_ready, name_of

SUMMARY_LIMIT = 40


def _ports(svc: dict) -> str:
    ports = (svc.get("spec") or {}).get("ports") or []
    head = "headless, " if (svc.get("spec") or {}).get("clusterIP") == "None" else ""
    return head + ", ".join(f"{p.get('port')}/{p.get('name') or p.get('protocol', 'TCP')}"
                            for p in ports)


def _restarts(pod: dict) -> int:
    status = pod.get("status") or {}
    return sum(int(s.get("restartCount") or 0) for s in
               (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []))


def workload_line(w: Workload) -> str:
    pods = w.pods
    if not pods:
        failed = [c.get("message") for rs in w.replicasets
                  for c in (rs.get("status") or {}).get("conditions") or []
                  if c.get("type") == "ReplicaFailure" and c.get("status") == "True"]
        return f"{w.ref}: no pods" + (" (ReplicaSet cannot create them)" if failed else "")
    ready = sum(1 for p in pods if is_ready(p))
    sidecars = sum(1 for p in pods if has_sidecar(p))
    restarts = sum(_restarts(p) for p in pods)
    phases = sorted({(p.get("status") or {}).get("phase", "?") for p in pods})
    waiting = sorted({(container_status(p, c.get("name")).get("state") or {}).get("waiting", {})
                      .get("reason", "") for p in pods
                      for c in ((p.get("spec") or {}).get("initContainers") or [])
                      + ((p.get("spec") or {}).get("containers") or [])} - {""})
    parts = [f"{len(pods)} pod{'s' if len(pods) != 1 else ''} ({'/'.join(phases)})",
             f"{ready} ready", f"sidecar in {sidecars}"]
    if restarts:
        parts.append(f"{restarts} restarts")
    if waiting:
        parts.append("waiting: " + ", ".join(waiting))
    return f"{w.ref}: " + ", ".join(parts)


@check("workload-target", title="Target workload", inputs=TARGET_INPUTS)
def workload_target(ctx: CheckContext) -> list[Step]:
    """Resolve the target in every examined cluster: deployment → ReplicaSets → pods,
    service → selected pods, namespace → every workload, with pod and Service status."""
    title = f"Target {_label(ctx)}"
    steps, missing, unread = [], [], []
    for cluster in ctx.focus:
        try:
            target = target_in(ctx, cluster)
        except Unavailable as exc:
            steps.append(ctx.unavailable_step(title, cluster, exc))
            unread.append(cluster)
            continue
        if not target.found:
            missing.append(cluster)
            continue
        steps.append(ctx.step(title, cluster, _overview(target), status="pass"))
    if missing and not steps:
        where = ", ".join(missing)
        step = ctx.step(title, None, [f"{_label(ctx)} not found in namespace "
                                      f"{ctx.args['namespace']} of {where}"], status="fail")
        step.incomplete = True  # nothing to examine: the answer cannot be "healthy"
        steps.append(step)
    elif missing:
        steps[0].evidence.append(f"not present in {', '.join(missing)}")
    return steps


def _label(ctx: CheckContext) -> str:
    kind, name = ctx.args["kind"], ctx.args["name"]
    return f"namespace {name}" if kind == "ns" else f"{kind}/{name}"


def _overview(target: Target) -> list[str]:
    lines = []
    if target.kind == "ns":
        pods = target.pods
        lines.append(f"namespace {target.name}: {len(target.workloads)} workloads, {len(pods)} "
                     f"pods, {sum(1 for p in pods if has_sidecar(p))} with a sidecar, "
                     f"{len(target.services)} Services")
        lines += [f"  {workload_line(w)}" for w in target.workloads[:SUMMARY_LIMIT]]
        if len(target.workloads) > SUMMARY_LIMIT:
            lines.append(f"  … {len(target.workloads) - SUMMARY_LIMIT} more workloads")
        return lines
    lines += [workload_line(w) for w in target.workloads]
    if not target.workloads:
        lines.append("no pods selected")
    for svc in target.services:
        lines.append(f"Service {name_of(svc)}: {_ports(svc)}")
    return lines
