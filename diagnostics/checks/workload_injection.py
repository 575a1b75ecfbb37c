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


from diagnostics.checking import CheckContext, check
from diagnostics.inputs import MUTATING_WEBHOOKS, NAMESPACES
from diagnostics.model import Step
from diagnostics.selectors import label_selector_matches
from diagnostics.targets import Target
from diagnostics.views.workload import (AMBIENT_LABEL, SYSTEM_NAMESPACES, TARGET_INPUTS,
                                        annotations_of, namespace_object, optional_get, owner_ref,
                                        per_target)
from diagnostics.workloads import labels_of, name_of, namespace_of

INJECT = "sidecar.istio.io/inject"
INJECTION_LABEL = "istio-injection"
REV_LABEL = "istio.io/rev"


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
            without = w.pods_without_sidecar
            if not without:
                evidence.append(f"{w.ref}: sidecar in all {w.count} pods")
                continue
            pod = without[0]
            ns = namespace_object(ctx, cluster, namespace_of(pod))
            exempt = _meant_without_sidecar(pod, ns, ctx, cluster)
            if exempt:
                evidence.append(f"{w.ref}: no sidecar; not expected, {exempt}")
                continue
            reason, lines = why_no_sidecar(pod, ns, hooks)
            head = (f"{w.ref}: {w.counted(without)} of {w.count} pods without istio-proxy "
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


