"""check: is the sidecar there, and could istio-init set up traffic capture?

`sidecar-not-injected`: a pod without `istio-proxy` (container, or native sidecar), with the
reason as far as the objects tell it: the pod's own opt-out, host networking, the namespace's
labels against the injector webhooks' namespace and object selectors, or (when the webhook
selects it now) a pod created before its namespace was labelled. Pods that are not meant to
carry a sidecar are left alone: system namespaces, ambient-mode pods, finished pods.

`istio-init-blocked`: the istio-init init container failing with iptables permission errors or
without NET_ADMIN/NET_RAW, or a ReplicaSet whose pods are rejected at admission because
istio-init asks for those capabilities (Pod Security `baseline`/`restricted`, policy engines).
"""

from __future__ import annotations

import re

from diagnostics.checks.base import CheckContext, check
from diagnostics.checks.workload_common import (AMBIENT_LABEL, MUTATING_WEBHOOKS, SYSTEM_NAMESPACES,
                                                TARGET_INPUTS, TARGET_LOGS, annotations_of,
                                                container_status, init_containers,
                                                label_selector_matches, log_line, optional_get,
                                                owner_ref,
                                                per_target, short)
from diagnostics.facts import PodLogs
from diagnostics.inputs import NAMESPACES
from diagnostics.model import Finding, Step
from diagnostics.targets import Target, Workload
from diagnostics.workloads import has_sidecar, labels_of, name_of, namespace_of

INJECT = "sidecar.istio.io/inject"
INJECTION_LABEL = "istio-injection"
REV_LABEL = "istio.io/rev"
PSA_PREFIX = "pod-security.kubernetes.io/"
INIT = "istio-init"
_IPTABLES_DENIED = re.compile(r"permission denied|operation not permitted|you must be root|"
                              r"can't initialize iptables|could not initialize|EPERM|EACCES",
                              re.IGNORECASE)
_CAPS = ("NET_ADMIN", "NET_RAW")
_LOG_PREFIX = re.compile(r"^\S*\d{4}-\d\d-\d\dT\S+\s+(?:info|warn|error|debug)\s+", re.IGNORECASE)


def _namespace(ctx: CheckContext, cluster: str, name: str) -> dict:
    for ns in optional_get(ctx, NAMESPACES, cluster, []) or []:
        if name_of(ns) == name:
            return ns
    return {}


def _injector_hooks(webhooks: list[dict]) -> list[tuple[str, dict]]:
    out = []
    for cfg in webhooks:
        for hook in cfg.get("webhooks") or []:
            if "sidecar-injector" in str(hook.get("name", "")):
                out.append((name_of(cfg), hook))
    return out


def _opt_out(pod: dict) -> str | None:
    if labels_of(pod).get(INJECT) == "false":
        return f"the pod opts out with the label {INJECT}=false"
    if annotations_of(pod).get(INJECT) == "false":
        return f"the pod opts out with the annotation {INJECT}: \"false\""
    return None


def why_no_sidecar(pod: dict, ns: dict, hooks: list[tuple[str, dict]] | None) -> tuple[str, list[str]]:
    """(reason, evidence) for a pod without a sidecar, from the pod, its namespace and the
    injector webhooks (None: they could not be read)."""
    ns_name = namespace_of(pod)
    ns_labels = labels_of(ns)
    shown = {k: v for k, v in ns_labels.items() if k in (INJECTION_LABEL, REV_LABEL)}
    evidence = [f"namespace {ns_name} labels: "
                + (", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or
                   f"no {INJECTION_LABEL} or {REV_LABEL} label")]
    if (opt := _opt_out(pod)):
        return opt, evidence
    if (pod.get("spec") or {}).get("hostNetwork"):
        return "the pod uses hostNetwork, which the injector never injects", evidence
    if ns_labels.get(INJECTION_LABEL) == "disabled":
        return f"namespace {ns_name} is labelled {INJECTION_LABEL}=disabled", evidence
    if hooks is None:
        if not shown and labels_of(pod).get(INJECT) != "true":
            return (f"namespace {ns_name} has neither {INJECTION_LABEL}=enabled nor "
                    f"{REV_LABEL}", evidence)
        return ("the namespace asks for injection, but the injector webhooks could not be read "
                "to tell why the pod was not injected", evidence)
    selecting = [name for name, hook in hooks
                 if label_selector_matches(hook.get("namespaceSelector"), ns_labels)
                 and label_selector_matches(hook.get("objectSelector"), labels_of(pod))]
    if selecting:
        created = (pod.get("metadata") or {}).get("creationTimestamp", "?")
        evidence.append(f"injector webhook {selecting[0]} selects the pod now")
        return ("the injection webhook selects the pod now, so it was created (at "
                f"{created}) before the namespace was labelled or while the webhook was "
                "unavailable", evidence)
    if not hooks:
        return "no sidecar-injector webhook is configured in this cluster", evidence
    rev = ns_labels.get(REV_LABEL) or labels_of(pod).get(REV_LABEL)
    if rev and ns_labels.get(INJECTION_LABEL) != "enabled":
        evidence.append("injector webhooks: " + ", ".join(sorted({n for n, _ in hooks})))
        return (f"{REV_LABEL}={rev} names a revision no injection webhook serves", evidence)
    if not shown and labels_of(pod).get(INJECT) != "true":
        return (f"namespace {ns_name} has neither {INJECTION_LABEL}=enabled nor {REV_LABEL}, "
                "so no injection webhook selects it", evidence)
    return ("no injection webhook selects the pod with its namespace and pod labels", evidence)


def _namespace_wide(reason: str) -> bool:
    """A reason that holds for every pod of the namespace (its labels, the webhooks), as opposed
    to one pod's own opt-out or age: reported once, listing the workloads."""
    return reason.startswith(("namespace ", "no sidecar-injector webhook", "no injection webhook",
                              f"{REV_LABEL}="))


def _meant_without_sidecar(pod: dict, ns: dict, ctx: CheckContext, cluster: str) -> str | None:
    ns_name = namespace_of(pod)
    if ns_name in SYSTEM_NAMESPACES or ns_name == ctx.info(cluster).istio_namespace:
        return f"{ns_name} is a system namespace"
    if labels_of(pod).get(AMBIENT_LABEL) == "ambient" or labels_of(ns).get(AMBIENT_LABEL) == "ambient":
        return "it is in ambient mode (no sidecar by design)"
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "it has finished"
    return None


@check("workload-injection", title="Sidecar injection",
       inputs=TARGET_INPUTS + (NAMESPACES, MUTATING_WEBHOOKS), emits=("sidecar-not-injected",))
def workload_injection(ctx: CheckContext) -> list[Step]:
    """Pods without an istio-proxy sidecar, and why: pod opt-out, hostNetwork, namespace labels
    against the injector webhooks' selectors, or a pod older than its namespace's label."""
    title = "Sidecar injection"

    def body(cluster: str, target: Target) -> Step:
        raw_hooks = optional_get(ctx, MUTATING_WEBHOOKS, cluster)
        hooks = None if raw_hooks is None else _injector_hooks(raw_hooks)
        evidence, findings = [], []
        for w in target.workloads:
            if not w.pods:
                continue
            without = [p for p in w.pods if not has_sidecar(p)]
            if not without:
                evidence.append(f"{w.ref}: sidecar in all {len(w.pods)} pods")
                continue
            pod = without[0]
            ns = _namespace(ctx, cluster, namespace_of(pod))
            exempt = _meant_without_sidecar(pod, ns, ctx, cluster)
            if exempt:
                evidence.append(f"{w.ref}: no sidecar; not expected, {exempt}")
                continue
            reason, lines = why_no_sidecar(pod, ns, hooks)
            head = (f"{w.ref}: {len(without)} of {len(w.pods)} pods without istio-proxy "
                    f"(e.g. {name_of(pod)})")
            evidence += [head, f"  reason: {reason}"]
            same = next((f for f in findings if f.params["reason"] == reason), None)
            if same is not None and _namespace_wide(reason):
                same.evidence.insert(len(same.evidence) - len(lines), head)  # one finding
                continue                                                     # per namespace cause
            findings.append(ctx.finding(
                "sidecar-not-injected", cluster=cluster,
                resource=f"Pod {namespace_of(pod)}/{name_of(pod)}", evidence=[head] + lines,
                basis=[head] + lines, pod=name_of(pod), namespace=namespace_of(pod), workload=owner_ref(w, pod),
                reason=reason))
        return ctx.step(title, cluster, evidence or ["no pods to examine"], findings)

    return per_target(ctx, title, body)


# ------------------------------------------------------------------------------ istio-init


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
    ns = _namespace(ctx, cluster, namespace_of(pod))
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
                found = _blocked_pod(ctx, cluster, w, pod, logs)
                if found:
                    break
            if not found:
                for rs, msg in _admission_rejections(w)[:1]:
                    ns = _namespace(ctx, cluster, target.namespace)
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
            with_init = [p for p in w.pods if any(c.get("name") == INIT
                                                  for c in init_containers(p))]
            done = sum(1 for p in with_init if ((container_status(p, INIT).get("state") or {})
                                                .get("terminated") or {}).get("exitCode") == 0)
            if w.pods:
                how = (f"{INIT} completed in {done} of {len(with_init)} pods" if with_init else
                       f"no {INIT} container (Istio CNI or no sidecar)")
                evidence.append(f"{w.ref}: {how}")
        return ctx.step(title, cluster, evidence or ["no pods to examine"], findings)

    return per_target(ctx, title, body)
