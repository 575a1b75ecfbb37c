"""check: istio-init cannot set up traffic capture when a policy takes away NET_ADMIN and NET_RAW
(the CNI plugin removes the need for them).
"""

from __future__ import annotations

import re
from diagnostics.checking import CheckContext, check
from diagnostics.facts import PodLogs
from diagnostics.inputs import NAMESPACES, TARGET_LOGS
from diagnostics.model import Finding, Step
from diagnostics.targets import Target, Workload
from diagnostics.views.ambient import captured
from diagnostics.views.workload import (TARGET_INPUTS, container_status, init_containers, log_line,
                                        namespace_object, optional_get, owner_ref, per_target,
                                        short)
from diagnostics.workloads import labels_of, name_of, namespace_of, pods_where


PSA_PREFIX = "pod-security.kubernetes.io/"
INIT = "istio-init"
_IPTABLES_DENIED = re.compile(r"permission denied|operation not permitted|you must be root|"
                              r"can't initialize iptables|could not initialize|EPERM|EACCES",
                              re.IGNORECASE)
_CAPS = ("NET_ADMIN", "NET_RAW")
_LOG_PREFIX = re.compile(r"^\S*\d{4}-\d\d-\d\dT\S+\s+(?:info|warn|error|debug)\s+", re.IGNORECASE)


def _caps_missing(container: dict) -> list[str]:
    caps = ((container.get("securityContext") or {}).get("capabilities") or {})
    added = {str(c).upper() for c in caps.get("add") or []}
    return [c for c in _CAPS if c not in added]


def _psa(ns: dict) -> str:
    labels = {k: v for k, v in labels_of(ns).items() if k.startswith(PSA_PREFIX)
              and not k.endswith("-version")}
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _init_failure(pod: dict) -> str | None:
    st = container_status(pod, INIT)
    waiting = (st.get("state") or {}).get("waiting") or {}
    for state in ((st.get("state") or {}).get("terminated"), (st.get("lastState") or {}).get("terminated")):
        if state and state.get("exitCode", 0) != 0:
            restarts = st.get("restartCount") or 0
            extra = f", {waiting['reason']}" if waiting.get("reason") else ""
            return (f"{INIT} exited with code {state.get('exitCode')} ({state.get('reason', '')}"
                    f"{extra}, {restarts} restarts)")
    if waiting.get("reason") == "CrashLoopBackOff":
        return f"{INIT} is in CrashLoopBackOff"
    return None


def _admission_rejections(w: Workload) -> list[tuple[dict, str]]:
    out = []
    for rs in w.replicasets:
        for cond in (rs.get("status") or {}).get("conditions") or []:
            msg = str(cond.get("message") or "")
            if (cond.get("type") == "ReplicaFailure" and cond.get("status") == "True"
                    and INIT in msg and any(c in msg for c in _CAPS + ("capabilit",))):
                out.append((rs, msg))
    return out


def _blocked_pod(ctx: CheckContext, cluster: str, w: Workload, pod: dict,
                 logs: dict[str, PodLogs]) -> Finding | None:
    init = next((c for c in init_containers(pod) if c.get("name") == INIT), None)
    failure = _init_failure(pod) if init else None
    if not failure:
        return None
    log = (logs.get(name_of(pod)) or PodLogs(pod)).logs.get(INIT, "")
    denied = [log_line(_LOG_PREFIX.sub("", line)) for line in log.splitlines()
              if _IPTABLES_DENIED.search(line)]
    missing = _caps_missing(init)
    if not denied and not missing:
        return None  # it fails for another reason: not this pitfall
    ns = namespace_object(ctx, cluster, namespace_of(pod))
    lines = [f"{name_of(pod)}: {failure}"]
    if missing:
        lines.append(f"{INIT} securityContext does not add {', '.join(missing)}"
                     + (" (capabilities drop ALL)" if "ALL" in [str(c).upper() for c in
                        ((init.get("securityContext") or {}).get("capabilities") or {}).get("drop") or []]
                        else ""))
    lines += [f"{INIT} log: {line}" for line in denied[:3]]
    if _psa(ns):
        lines.append(f"namespace {namespace_of(pod)} Pod Security labels: {_psa(ns)}")
    reason = (f"iptables is refused: {denied[0]}" if denied else
              f"{INIT} lacks {', '.join(missing)}")
    return ctx.finding("istio-init-blocked", cluster=cluster,
                       resource=f"Pod {namespace_of(pod)}/{name_of(pod)}", evidence=lines,
                       pod=name_of(pod), namespace=namespace_of(pod), workload=owner_ref(w, pod),
                       reason=reason)


@check("workload-init", title="Traffic capture (istio-init)",
       inputs=TARGET_INPUTS + (NAMESPACES, TARGET_LOGS), emits=("istio-init-blocked",))
def workload_init(ctx: CheckContext) -> list[Step]:
    """istio-init failing with iptables permission errors or without NET_ADMIN/NET_RAW, and
    pods rejected at admission because istio-init asks for those capabilities."""
    title = "Traffic capture (istio-init)"

    def body(cluster: str, target: Target) -> Step:
        logs: dict[str, PodLogs] = optional_get(ctx, TARGET_LOGS, cluster, {}) or {}
        evidence, findings = [], []
        for w in target.workloads:
            found = None
            for pod in w.pods:
                if INIT not in w.state(pod).failed_inits:
                    continue  # its istio-init did not fail (the pod's status, read once)
                found = _blocked_pod(ctx, cluster, w, pod, logs)
                if found:
                    break
            if not found:
                for rs, msg in _admission_rejections(w)[:1]:
                    ns = namespace_object(ctx, cluster, target.namespace)
                    lines = [f"ReplicaSet {name_of(rs)} cannot create pods: {short(msg, 400)}"]
                    if _psa(ns):
                        lines.append(f"namespace {target.namespace} Pod Security labels: {_psa(ns)}")
                    found = ctx.finding(
                        "istio-init-blocked", cluster=cluster,
                        resource=f"ReplicaSet {target.namespace}/{name_of(rs)}", evidence=lines,
                        pod=f"{name_of(rs)}-<new pod>", namespace=target.namespace,
                        workload=w.ref, reason="pods are rejected at admission: "
                        + short(msg.split(":", 1)[-1], 160))
            if found:
                findings.append(found)
                evidence.append(f"{w.ref}: {found.evidence[0]}")
                continue
            with_init = pods_where(w.pods, lambda pod: any(
                c.get("name") == INIT for c in (pod.get("spec") or {}).get("initContainers") or ()))
            done = w.counted([p for p in with_init if INIT in w.state(p).inits_done])
            if w.pods:
                how = (f"{INIT} completed in {done} of {w.counted(with_init)} pods" if with_init else
                       f"no {INIT} container: ambient mode, the istio-cni node agent redirects "
                       "its traffic into ztunnel" if all(captured(p) for p in w.pods) else
                       f"no {INIT} container (Istio CNI or no sidecar)")
                evidence.append(f"{w.ref}: {how}")
        return ctx.step(title, cluster, evidence or ["no pods to examine"], findings)

    return per_target(ctx, title, body)
