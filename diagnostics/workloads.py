"""Small facts about pods and services that several checks and the engine agree on."""

from __future__ import annotations

from diagnostics.selectors import selector_matches

PROXY_CONTAINER = "istio-proxy"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def name_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def namespace_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


def labels_of(obj: dict) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def has_sidecar(pod: dict) -> bool:
    """A container named istio-proxy, or a native sidecar (init container with restartPolicy Always)."""
    spec = pod.get("spec") or {}
    if any(c.get("name") == PROXY_CONTAINER for c in spec.get("containers") or []):
        return True
    return any(c.get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always"
               for c in spec.get("initContainers") or [])


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


def select_clients(pods: list[dict], services: list[dict], *, service: str | None,
                   namespace: str, from_pod: str | None) -> list[dict]:
    """The client pod whose view a command examines in one cluster.

    `--from` names it; otherwise the first (by name) Ready, sidecar-injected pod of the namespace
    that is not itself behind the service, so the answer is about a caller, not a callee.
    """
    in_ns = [p for p in pods if namespace_of(p) == namespace]
    if from_pod:
        return [p for p in in_ns if name_of(p) == from_pod]
    svc = find_service(services, service, namespace) if service else None
    eligible = [p for p in in_ns if has_sidecar(p) and is_ready(p)
                and not service_selects(svc, p, fallback_app=service)]
    return sorted(eligible, key=name_of)[:1]


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
