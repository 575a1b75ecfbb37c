"""check: do the kubelet's HTTP probes survive STRICT mTLS?

The kubelet probes in plain text and holds no mesh certificate. Istio rewrites HTTP and gRPC
probes at injection so that they go to the agent's status port (15020, `/app-health/...`);
a probe still aimed at the app's port means rewriting was off (the pod annotation
`sidecar.istio.io/rewriteAppHTTPProbers: "false"` or the injector's
`sidecarInjectorWebhook.rewriteAppHTTPProbe=false`). If that port is captured by the sidecar and
STRICT mTLS applies to it (PeerAuthentication: workload over namespace over mesh-wide,
port-level last), the probe cannot pass. The finding needs the probe to be failing, too: the
container not ready, restarted, or an `Unhealthy` event.
"""

from __future__ import annotations

import heapq

from diagnostics.checking import CheckContext, check
from diagnostics.inputs import ISTIO_CONFIGMAPS, PEER_AUTHENTICATIONS, TARGET_EVENTS
from diagnostics.model import Finding, Step
from diagnostics.targets import Target, Workload
from diagnostics.views.ambient import captured
from diagnostics.views.workload import (STATUS_PORT, TARGET_INPUTS, annotations_of, app_containers,
                                        app_sidecar_pods, container_status, effective_mtls,
                                        inbound_captured, injector_setting, optional_get,
                                        owner_ref, per_target, port_number, root_namespace, short)
from diagnostics.workloads import name_of, namespace_of

REWRITE_ANNOTATION = "sidecar.istio.io/rewriteAppHTTPProbers"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _probe_target(probe: dict) -> tuple[str, object, str] | None:
    """(kind, port, path) of an HTTP or gRPC probe; None for exec and TCP probes."""
    if probe.get("httpGet"):
        get = probe["httpGet"]
        return "HTTP", get.get("port"), str(get.get("path") or "/")
    if probe.get("grpc"):
        return "gRPC", probe["grpc"].get("port"), ""
    return None


def _rewritten(port: int | None, path: str) -> bool:
    return port == STATUS_PORT and (path.startswith("/app-health/") or not path)


def _rewrite_off(ctx: CheckContext, cluster: str, pod: dict) -> str:
    if annotations_of(pod).get(REWRITE_ANNOTATION, "").lower() == "false":
        return f"annotation {REWRITE_ANNOTATION}: \"false\""
    if injector_setting(ctx, cluster, "sidecarInjectorWebhook", "rewriteAppHTTPProbe") is False:
        return "sidecarInjectorWebhook.rewriteAppHTTPProbe=false in the injector values"
    return "the probe was not rewritten at injection"


def _failing(pod: dict, container: str, events: list[dict]) -> list[str]:
    st = container_status(pod, container)
    signs = []
    if st and not st.get("ready", False):
        signs.append(f"container {container} is not ready")
    if st.get("restartCount"):
        n = st['restartCount']
        signs.append(f"container {container} restarted {n} time{'s' if n != 1 else ''}")
    unhealthy = [e for e in events if (e.get("involvedObject") or {}).get("name") == name_of(pod)
                 and e.get("reason") == "Unhealthy"]
    for e in unhealthy[:2]:
        count = f" (×{e['count']})" if e.get("count") else ""
        signs.append(f"event Unhealthy{count}: {short(e.get('message', ''), 220)}")
    return signs


def _problem(ctx: CheckContext, cluster: str, w: Workload, pod: dict, events: list[dict],
             policies: list[dict]) -> tuple[Finding | None, str]:
    root = root_namespace(ctx, cluster)
    notes, rewritten = [], []
    for c in app_containers(pod):
        for field in PROBES:
            probe = c.get(field)
            what = _probe_target(probe) if isinstance(probe, dict) else None
            if what is None:
                continue
            kind, raw_port, path = what
            port = port_number(pod, raw_port)
            label = f"{c.get('name')} {field} {kind} {path}:{raw_port}".replace(" :", " port ")
            if _rewritten(port, path):
                rewritten.append(f"{c.get('name')} {field}")
                continue
            if port is None or not inbound_captured(pod, port):
                notes.append(f"{label}: port not captured by the sidecar")
                continue
            mtls = effective_mtls(pod, port, policies, root)
            if mtls.mode != "STRICT":
                notes.append(f"{label}: mTLS {mtls.mode} on port {port}")
                continue
            signs = _failing(pod, c.get("name", ""), events)
            if not signs:
                notes.append(f"{label}: STRICT but not failing (container ready, no restarts)")
                continue
            lines = [f"{name_of(pod)} {label}: not rewritten ({_rewrite_off(ctx, cluster, pod)})",
                     f"port {port}: {mtls.source}"] + signs
            return ctx.finding(
                "probes-fail-under-mtls", cluster=cluster,
                resource=f"Pod {namespace_of(pod)}/{name_of(pod)}", evidence=lines,
                basis=lines, pod=name_of(pod), namespace=namespace_of(pod),
                workload=owner_ref(w, pod), container=c.get("name", ""), port=port), lines[0]
    if rewritten:
        notes.insert(0, f"probes rewritten to the agent's port {STATUS_PORT} "
                        f"({', '.join(rewritten)})")
    return None, "; ".join(notes) or "no HTTP or gRPC probes"


@check("workload-probes", title="Health probes under mTLS",
       inputs=TARGET_INPUTS + (PEER_AUTHENTICATIONS, ISTIO_CONFIGMAPS, TARGET_EVENTS),
       emits=("probes-fail-under-mtls",))
def workload_probes(ctx: CheckContext) -> list[Step]:
    """HTTP/gRPC probes aimed at an app port under STRICT mTLS because probe rewriting is off,
    and failing (not ready, restarts, Unhealthy events)."""
    title = "Health probes under mTLS"

    def body(cluster: str, target: Target) -> Step:
        policies = optional_get(ctx, PEER_AUTHENTICATIONS, cluster, []) or []
        events = optional_get(ctx, TARGET_EVENTS, cluster, []) or []
        evidence, findings = [], []
        for w in target.workloads:
            pods = app_sidecar_pods(w.sidecar_pods)
            if not pods and w.pods and all(captured(p) for p in w.pods):
                evidence.append(f"{w.ref}: ambient mode: the istio-cni node agent keeps kubelet "
                                "probes (SNAT from 169.254.7.127) out of ztunnel, whatever the "
                                "mTLS mode")
            if not pods:
                continue
            # the three whose containers are not all ready first (PodState, read once)
            ranked = heapq.nsmallest(3, pods, key=lambda p: (w.state(p).containers_ready,
                                                             name_of(p)))
            finding, note = None, ""
            for pod in ranked:
                finding, note = _problem(ctx, cluster, w, pod, events, policies)
                if finding:
                    break
            evidence.append(f"{w.ref}: {note}")
            if finding:
                findings.append(finding)
        return ctx.step(title, cluster, evidence or ["no pod with a sidecar"], findings)

    return per_target(ctx, title, body)
