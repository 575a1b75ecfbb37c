"""Small facts about pods and services that several checks and the engine agree on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from diagnostics.selectors import selector_matches

PROXY_CONTAINER = "istio-proxy"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def name_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def namespace_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


def labels_of(obj: dict) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def annotations_of(obj: dict) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def has_sidecar(pod: dict) -> bool:
    """A container named istio-proxy, or a native sidecar (init container with restartPolicy Always)."""
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or ():  # asked of every pod: a loop, no generator
        if c.get("name") == PROXY_CONTAINER:
            return True
    for c in spec.get("initContainers") or ():
        if c.get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always":
            return True
    return False


def containers_key(pod: dict) -> tuple[int, int]:
    """Its container lists, as one key: the replicas of a workload share theirs once decoded
    from a list (parse/k8s_lists.py), so what depends on them alone can be asked once per
    key, while the pods are alive (ids name the lists only as long as they live)."""
    spec = pod.get("spec") or {}
    return id(spec.get("containers")), id(spec.get("initContainers"))


def pods_where(pods: list[dict], holds: Callable[[dict], bool]) -> list[dict]:
    """The pods `holds` holds for, in order; `holds` reads nothing but the pod's container
    lists, and is asked once per containers_key: checks ask such questions of each of a
    namespace's 10,000 pods."""
    known: dict[tuple[int, int], bool] = {}
    out = []
    for pod in pods:
        key = containers_key(pod)
        answer = known.get(key)
        if answer is None:
            answer = known[key] = holds(pod)
        if answer:
            out.append(pod)
    return out


def proxy_container(pod: dict) -> dict | None:
    """The pod's istio-proxy container, a regular one first, else a native sidecar's init
    container. Asked of every sidecar pod of a namespace: it copies no list."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            if c.get("name") == PROXY_CONTAINER:
                return c
    return None


#: What the sidecar injector (and `istioctl kube-inject`) writes on every pod it injects
#: (istio/istio pkg/kube/inject: annotation.SidecarStatus): a metadata-only list tells injected
#: pods from others without their spec.
SIDECAR_STATUS = "sidecar.istio.io/status"


def pod_ref(namespace: str, name: str) -> dict:
    """A pod known by its name only, until it is read: what name_of and namespace_of read."""
    return {"metadata": {"namespace": namespace, "name": name}}


def sidecar_injected(pod: dict) -> bool:
    """Whether the injector injected the pod, from its metadata alone (`has_sidecar` reads
    the spec, which also knows sidecars added by hand)."""
    return SIDECAR_STATUS in annotations_of(pod)


def runs_proxy(pod: dict) -> bool:
    """Whether a pod runs an Envoy proxy istiod configures, from its metadata alone: injected,
    or a gateway or waypoint (deployed with its proxy, not injected; see is_mesh_infrastructure
    for the labels). ztunnel is no such proxy: it is no xDS client of syncz's kind."""
    return sidecar_injected(pod) or (is_mesh_infrastructure(pod) and not is_ztunnel(pod))


# Pods whose container is named istio-proxy but that are no workload's sidecar: ztunnel (the
# ambient node proxy), waypoints and gateways (istio/istio manifests/charts/ztunnel,
# pilot/pkg/config/kube/gatewaycommon: `gateway.istio.io/managed` on what Istio deploys for a
# Gateway, `gateway.networking.k8s.io/gateway-name` on every Gateway API deployment). They are
# never the client whose view a command examines.
INFRASTRUCTURE_LABELS = ("gateway.istio.io/managed", "gateway.networking.k8s.io/gateway-name")


def is_ztunnel(pod: dict) -> bool:
    """ztunnel's pods (the ztunnel chart labels them app=ztunnel)."""
    return labels_of(pod).get("app") == "ztunnel"


def is_mesh_infrastructure(pod: dict) -> bool:
    """ztunnel, a waypoint or a gateway: a proxy that is no application's sidecar."""
    labels = labels_of(pod)
    if is_ztunnel(pod) or any(k in labels for k in INFRASTRUCTURE_LABELS):
        return True
    return labels.get("istio", "").endswith("gateway")  # istioctl/Helm gateways: istio=…gateway


_TAG_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def image_tag(image: str) -> str:
    """What an image says of its version, for people: `pilot:1.28.1-distroless` →
    `1.28.1-distroless`, a digest shortened, `latest` for an untagged image."""
    if "@" in image:
        return image.split("@", 1)[1][:19]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def image_version(image: str | None) -> str | None:
    """An image's tag when it is a release version (`1.28.1`, `1.28.1-distroless`); None for a
    digest, an untagged image or a tag like `latest`."""
    if not image or "@" in image:
        return None
    tag = image_tag(image)
    return tag if _TAG_VERSION.match(tag) else None


def version_tuple(version: str | None) -> tuple[int, int, int] | None:
    """`1.28.1-distroless` → (1, 28, 1); `1.28` → (1, 28, 0); None when it is no version."""
    match = _TAG_VERSION.match(version or "")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)) if match \
        else None


def istiod_version(pod: dict) -> tuple[int, int, int] | None:
    """The `discovery` container's image tag as (major, minor, patch), where behaviour depends
    on the istiod release; None for an untagged image or a digest."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") == "discovery":
            return version_tuple(image_version(str(container.get("image") or "")))
    return None


def is_ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or [])


def pod_ip(pod: dict) -> str | None:
    return (pod.get("status") or {}).get("podIP")


def find_service(services: list[dict], name: str, namespace: str) -> dict | None:
    for svc in services:
        if name_of(svc) == name and namespace_of(svc) == namespace:
            return svc
    return None


def service_selects(service: dict | None, pod: dict, fallback_app: str | None = None) -> bool:
    """Whether a Service selects the pod; without a Service, match the common `app` label."""
    if service is not None:
        return selector_matches((service.get("spec") or {}).get("selector"), labels_of(pod))
    return bool(fallback_app) and labels_of(pod).get("app") == fallback_app


#: How many client pods a cluster's view may be read from before it is called unreadable.
MAX_CLIENTS = 3
#: How many of a service's pods are named, each with what keeps it from Ready, where the
#: service has no ready endpoint.
NOT_READY_SHOWN = 5


@dataclass(frozen=True)
class Candidate:
    """A client pod whose view may be examined, and why it was chosen."""

    pod: dict
    why: str


def client_candidates(pods: list[dict], services: list[dict], *, service: str | None,
                      namespace: str, from_pod: str | None) -> tuple[list[Candidate], str]:
    """The client pods whose view a command examines in one cluster, best first, and, when
    there is none, why.

    `--from` names the one; otherwise the Ready, sidecar-injected pods of the namespace that
    are not themselves behind the service (the answer is about a caller, not a callee), by
    name, at most MAX_CLIENTS: when istiod cannot give one's config, the next is asked.
    """
    in_ns = [p for p in pods if namespace_of(p) == namespace]
    if from_pod:
        named = [p for p in in_ns if name_of(p) == from_pod]
        if not named:
            return [], f"--from {from_pod}: no pod of that name in namespace {namespace}"
        if not has_sidecar(named[0]):
            return [], f"--from {from_pod}: the pod has no sidecar, so istiod configures nothing"
        return [Candidate(named[0], "named by --from")], ""
    svc = find_service(services, service, namespace) if service else None
    # The service's own pods first: on a big mesh they are most of the namespace, and a label
    # lookup rules each out before its containers and conditions are walked.
    eligible = sorted((p for p in in_ns if not service_selects(svc, p, fallback_app=service)
                       and has_sidecar(p) and is_ready(p) and not is_mesh_infrastructure(p)),
                      key=name_of)
    if not eligible:
        behind = f" (other than {service}'s own)" if service else ""
        return [], f"no Ready sidecar-injected pod in {namespace}{behind}; pick one with --from"
    first = (f"the first Ready, sidecar-injected pod of {namespace} by name"
             + (f" that {service} does not select" if service else ""))
    return [Candidate(p, first if i == 0 else f"the next such pod ({i + 1} of {len(eligible)})")
            for i, p in enumerate(eligible[:MAX_CLIENTS])], ""


def has_ready_endpoint(slices: list[dict], service: str) -> bool:
    """Whether the service's EndpointSlices hold a ready address (endpoint_addresses' first
    list is not empty), found without describing each of its endpoints."""
    return any(ep.get("addresses") and (ep.get("conditions") or {}).get("ready", True)
               is not False for sl in slices if labels_of(sl).get(SERVICE_NAME_LABEL) == service
               for ep in sl.get("endpoints") or ())


def endpoint_addresses(slices: list[dict], service: str) -> tuple[list[str], list[str]]:
    """(ready, not ready) endpoint descriptions from the service's EndpointSlices."""
    ready, not_ready = [], []
    for sl in slices:
        if labels_of(sl).get(SERVICE_NAME_LABEL) != service:
            continue
        for ep in sl.get("endpoints") or []:
            target = (ep.get("targetRef") or {}).get("name")
            for addr in ep.get("addresses") or []:
                text = f"{addr} ({target})" if target else addr
                # EndpointSlice semantics: an unset `ready` is to be read as ready.
                is_ok = (ep.get("conditions") or {}).get("ready", True) is not False
                (ready if is_ok else not_ready).append(text)
    return ready, not_ready
