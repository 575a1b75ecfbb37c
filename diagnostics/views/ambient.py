"""Ambient mode as Istio decides it: which data plane a pod is on, whether it is captured, which
waypoint it uses, and whether a Service is global.

- Enrolment: a namespace (or pod) labelled `istio.io/dataplane-mode=ambient`; a pod's own
  `istio.io/dataplane-mode=none` opts it out; never a pod with a sidecar or on the host network
  (istio/istio cni/pkg/util/enablement_selector.go Matches).
- Capture: the istio-cni node agent annotates a pod it has redirected to ztunnel with
  `ambient.istio.io/redirection: enabled`; `pending` is a pod not yet handed to ztunnel
  (istio/istio cni/pkg/util/podutil.go PodFullyEnrolled, PodPartiallyEnrolled).
- Waypoints: `istio.io/use-waypoint` (with `istio.io/use-waypoint-namespace`) on the Service or
  pod, else on its namespace; `none` opts out (pilot/pkg/serviceregistry/ambient/waypoints.go).
- Scope: a Service is global when `meshConfig.serviceScopeConfigs` selects it (its labels and
  its namespace's); otherwise it is local to its cluster, and a remote cluster's local Service
  is not sent to this cluster's ztunnels at all (ambient/services.go `matchServiceScope`,
  applied only with AMBIENT_ENABLE_MULTI_NETWORK). The ambient profile selects
  `istio.io/global=true` (manifests/helm-profiles/ambient.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from diagnostics.inputs import NAMESPACES, TARGET_ROLE_PODS
from diagnostics.selectors import label_selector_matches
from diagnostics.workloads import (Candidate, annotations_of, find_service, has_sidecar,
                                   is_mesh_infrastructure, is_ready, labels_of, name_of,
                                   namespace_of, service_selects)

DATAPLANE_MODE = "istio.io/dataplane-mode"
REDIRECTION = "ambient.istio.io/redirection"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
GLOBAL_LABEL = "istio.io/global"
MANAGED = "gateway.istio.io/managed"
WAYPOINT_CONTROLLER = "istio.io-mesh-controller"
EASTWEST_CONTROLLER = "istio.io-eastwest-controller"
WAYPOINT_CLASS = "istio-waypoint"
EASTWEST_CLASS = "istio-east-west"
GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name"

AMBIENT, SIDECAR, NONE = "ambient", "sidecar", "none"


def namespace_index(namespaces: list[dict]) -> dict[str, dict]:
    return {name_of(n): n for n in namespaces}


def namespace_mode(ns: dict | None) -> str:
    """The data plane a namespace asks for: ambient, sidecar (injection labels) or none."""
    labels = labels_of(ns or {})
    if labels.get(DATAPLANE_MODE) == AMBIENT:
        return AMBIENT
    if labels.get("istio-injection") == "enabled" or labels.get("istio.io/rev"):
        return SIDECAR
    return NONE


def enrolled_counts(namespaces: list[dict], skip: tuple[str, ...]) -> dict[str, int]:
    """How many namespaces (those in `skip` left out: the system ones) ask for each data plane:
    {sidecar: n, ambient: n}. Counts, not names: the topology picture needs only the kind, and a
    mesh of thousands of namespaces keeps a small report."""
    out = {SIDECAR: 0, AMBIENT: 0}
    for ns in namespaces:
        mode = namespace_mode(ns)
        if mode != NONE and name_of(ns) not in skip:
            out[mode] += 1
    return out


def enrolled(pod: dict, ns: dict | None) -> bool:
    """A pod ambient mode should capture: enrolled by its namespace or itself, not opted out,
    no sidecar, no host network, not ztunnel/a waypoint/a gateway."""
    if not enrolled_by_metadata(pod, ns):  # first: in a sidecar namespace, no pod is
        return False
    if is_mesh_infrastructure(pod) or has_sidecar(pod):
        return False
    return not (pod.get("spec") or {}).get("hostNetwork")


def enrolled_by_metadata(pod: dict, ns: dict | None) -> bool:
    """What a pod's metadata says of `enrolled`: asked for by its label or its namespace's,
    not opted out. Every enrolled pod is; the spec rules some out (a sidecar, host network)."""
    own = labels_of(pod).get(DATAPLANE_MODE)
    return own != NONE and (own == AMBIENT or namespace_mode(ns) == AMBIENT)


def ambient_namespaces(namespaces: Iterable[dict]) -> set[str]:
    """The namespaces that ask for ambient mode (namespace_mode), by name."""
    return {name_of(ns) for ns in namespaces if namespace_mode(ns) == AMBIENT}


def enrolled_in(pod: dict, ambient: set[str]) -> bool:
    """enrolled_by_metadata with the ambient namespaces named once (ambient_namespaces): asked
    of every pod of a cluster, it reads the pod's labels and nothing of its namespace."""
    own = labels_of(pod).get(DATAPLANE_MODE)
    return own == AMBIENT or own != NONE and namespace_of(pod) in ambient


def captured(pod: dict) -> bool:
    """The istio-cni node agent redirected the pod's traffic to ztunnel."""
    return annotations_of(pod).get(REDIRECTION) == "enabled"


def finished(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_dataplane(pod: dict, ns: dict | None) -> str:
    """What carries a pod's traffic, in words: sidecar, ambient, ambient but not captured,
    infrastructure (ztunnel, waypoint, gateway) or none."""
    if is_mesh_infrastructure(pod):
        return "mesh infrastructure"
    if has_sidecar(pod):
        return SIDECAR
    if captured(pod):
        return AMBIENT
    if enrolled(pod, ns):
        return "ambient, not captured"
    return NONE


def node_of(pod: dict) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def ambient_clients(pods: list[dict], services: list[dict], *, service: str | None,
                    namespace: str, from_pod: str | None) -> tuple[list[Candidate], str]:
    """The ambient client whose ztunnel is examined: `--from`, else the first Ready pod of the
    namespace that ztunnel captures (`ambient.istio.io/redirection: enabled`) and that the
    service does not select. ztunnel, waypoint and gateway pods are never clients."""
    in_ns = [p for p in pods if namespace_of(p) == namespace and not is_mesh_infrastructure(p)]
    if from_pod:
        named = [p for p in in_ns if name_of(p) == from_pod]
        if not named or has_sidecar(named[0]):
            return [], ""  # the sidecar path answers for it
        if not captured(named[0]):
            return [], (f"--from {from_pod}: the pod has no sidecar and ztunnel does not capture "
                        f"it (no {REDIRECTION}: enabled)")
        return [Candidate(named[0], "named by --from")], ""
    svc = find_service(services, service, namespace) if service else None
    eligible = sorted((p for p in in_ns if captured(p) and is_ready(p)
                       and not service_selects(svc, p, fallback_app=service)), key=name_of)
    if not eligible:
        return [], f"no Ready pod of {namespace} is captured by ztunnel"
    why = (f"the first Ready pod of {namespace} captured by ztunnel"
           + (f" that {service} does not select" if service else ""))
    return [Candidate(eligible[0], why)], ""


# --- waypoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaypointRef:
    """A waypoint an object is bound to, and what binds it."""

    name: str
    namespace: str
    by: str  # "Service sample/helloworld", "namespace sample"


def waypoint_of(obj: dict, ns: dict | None, what: str) -> WaypointRef | None:
    """The waypoint `obj` (a Service or pod) uses: its own label first, then its namespace's;
    `none` means no waypoint."""
    for source, by in ((obj, what), (ns or {}, f"namespace {name_of(ns or {})}")):
        labels = labels_of(source)
        name = labels.get(USE_WAYPOINT)
        if name:
            if name == NONE:
                return None
            target_ns = labels.get(USE_WAYPOINT_NAMESPACE) or namespace_of(obj) or name_of(source)
            return WaypointRef(name, target_ns, by)
    return None


def gateway_conditions(gw: dict) -> dict[str, dict]:
    return {str(c.get("type")): c for c in (gw.get("status") or {}).get("conditions") or []
            if isinstance(c, dict)}


def programmed(gw: dict) -> tuple[bool, str]:
    """Whether the Gateway is Programmed, and the condition's reason/message."""
    cond = gateway_conditions(gw).get("Programmed")
    if cond is None:
        return False, "no Programmed condition (no controller has accepted it)"
    ok = cond.get("status") == "True"
    return ok, f"Programmed={cond.get('status')} ({cond.get('reason', '')}: " \
               f"{cond.get('message', '')})".replace(" ()", "")


def class_of(gw: dict) -> str:
    return str((gw.get("spec") or {}).get("gatewayClassName") or "")


def find_gateway(gateways: list[dict], name: str, namespace: str) -> dict | None:
    return next((g for g in gateways if name_of(g) == name and namespace_of(g) == namespace), None)


def pods_of_gateway(pods: list[dict], name: str, namespace: str) -> list[dict]:
    return [p for p in pods if namespace_of(p) == namespace
            and labels_of(p).get(GATEWAY_NAME) == name]


def waypoint_problem(gateways: list[dict], pods: list[dict], ref: WaypointRef, cluster: str
                     ) -> tuple[str, list[str]]:
    """What is wrong with a waypoint in one cluster ("" when nothing), and the line seen:
    its Gateway must exist, be Programmed, and have a ready pod."""
    gw = find_gateway(gateways, ref.name, ref.namespace)
    if gw is None:
        return MISSING, [f"{cluster}: no Gateway {ref.namespace}/{ref.name}"]
    ok, condition = programmed(gw)
    mine = pods_of_gateway(pods, ref.name, ref.namespace)
    ready = [p for p in mine if is_ready(p)]
    line = (f"{cluster}: Gateway {ref.namespace}/{ref.name} (class {class_of(gw)}): {condition}; "
            f"{len(ready)} of {len(mine)} pod(s) ready")
    if not ok:
        return f"not Programmed ({condition})", [line]
    if not ready:
        return "no ready pod" + (f" ({len(mine)} not ready)" if mine else ""), [line]
    return "", [line]


MISSING = "the Gateway does not exist"


# --- service scope -------------------------------------------------------------------------


def scope_configs(mesh: dict | None) -> list[dict]:
    """meshConfig.serviceScopeConfigs (protojson of /debug/mesh, or the ConfigMap's YAML)."""
    raw = (mesh or {}).get("serviceScopeConfigs")
    return [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []


def _selector(raw: object) -> dict | None:
    return raw if isinstance(raw, dict) else None


def is_global(svc: dict, ns: dict | None, configs: list[dict]) -> bool:
    """Whether a GLOBAL serviceScopeConfig selects the Service and its namespace, as istiod's
    matchServiceScope does (an empty selector selects everything)."""
    for cfg in configs:
        if str(cfg.get("scope", "")).upper() != "GLOBAL":
            continue
        if label_selector_matches(_selector(cfg.get("namespaceSelector")), labels_of(ns or {})) \
                and label_selector_matches(_selector(cfg.get("servicesSelector")),
                                           labels_of(svc)):
            return True
    return False


def describe_scope_configs(configs: list[dict]) -> str:
    """`GLOBAL for services istio.io/global In [true]` — the selectors, shortly."""
    def selector(raw: object) -> str:
        sel = _selector(raw) or {}
        parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
        parts += [f"{e.get('key')} {e.get('operator')} {e.get('values') or []}"
                  for e in sel.get("matchExpressions") or [] if isinstance(e, dict)]
        return ", ".join(parts) or "everything"
    return "; ".join(f"{c.get('scope', '?')} for services {selector(c.get('servicesSelector'))}"
                     + (f" in namespaces {selector(c.get('namespaceSelector'))}"
                        if c.get("namespaceSelector") else "") for c in configs) or "none"


def ambient_in(namespaces: list[dict], pods: list[dict], namespace: str) -> bool:
    """Whether `namespace` uses ambient mode in one cluster: enrolled, or pods captured."""
    if namespace_mode(namespace_index(namespaces).get(namespace)) == AMBIENT:
        return True
    return any(captured(p) for p in pods if namespace_of(p) == namespace)


def ambient_clusters(ctx, namespace: str) -> list[str]:
    """The clusters read where `namespace` uses ambient mode (the calling check declares
    NAMESPACES and TARGET_ROLE_PODS, which holds every pod a cluster's ztunnel may capture).
    Told once per diagnosis: four checks ask."""
    def build() -> tuple[str, ...]:
        namespaces, pods = ctx.available(NAMESPACES), ctx.available(TARGET_ROLE_PODS)
        return tuple(c for c in ctx.cluster_names
                     if ambient_in(namespaces.get(c, []), pods.get(c, []), namespace))

    return list(ctx.derived(("ambient-clusters", namespace), (NAMESPACES, TARGET_ROLE_PODS),
                            build))
