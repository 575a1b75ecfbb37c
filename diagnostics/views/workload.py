"""What the `check` command's checks share: their inputs, the target in each cluster, and the
few pieces of Istio semantics several pitfalls need (effective mTLS mode, mesh and injector
settings, label selectors, the parts of a pod).

No check lives here; each pitfall has its module (workload_injection, workload_probes,
workload_ports, workload_tls, workload_logs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

import yaml

from diagnostics import yaml_text
from diagnostics.checking import CheckContext, Unavailable, per_cluster
from diagnostics.inputs import (ISTIO_CONFIGMAPS, NAMESPACES, TARGET,
                                TARGET_DEPLOYMENTS, TARGET_PODS, TARGET_REPLICASETS,
                                TARGET_SERVICES)
from diagnostics.model import Step
from diagnostics.redact import REDACTED, redact_log
from diagnostics.targets import Target, Workload
from diagnostics.views.mesh import (PROXY_CONFIG_ANNOTATION, injector_values, install_value,
                                    mesh_config)
from diagnostics.workloads import (PROXY_CONTAINER, annotations_of, labels_of, name_of,
                                   namespace_of, pods_where, proxy_container)


#: Everything a check needs to find its target; every `check` check declares these.
TARGET_INPUTS = (TARGET_PODS, TARGET_SERVICES, TARGET_REPLICASETS, TARGET_DEPLOYMENTS, TARGET)

#: Namespaces the injector never serves and that are not meant to carry sidecars.
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
STATUS_PORT = 15020
AMBIENT_LABEL = "istio.io/dataplane-mode"


# ------------------------------------------------------------------------------ the target


def target_in(ctx: CheckContext, cluster: str) -> Target:
    """The command's target in one cluster (pods are required; the rest is best effort).
    Every `check` check asks for it: it is resolved once per cluster and diagnosis (input
    TARGET, shared with the choice of logs), while each check still reads, and is told of,
    what is missing itself. Do not change the target returned."""
    ctx.get(TARGET_PODS, cluster)  # Unavailable: the step says the pods could not be read
    for inp in (TARGET_SERVICES, TARGET_REPLICASETS, TARGET_DEPLOYMENTS):
        optional_get(ctx, inp, cluster)
    return ctx.get(TARGET, cluster).target


def per_target(ctx: CheckContext, title: str,
               body: Callable[[str, Target], Step | None]) -> list[Step]:
    """Run `body` in every examined cluster where the target exists."""
    def one(cluster: str) -> Step | None:
        target = target_in(ctx, cluster)
        return body(cluster, target) if target.found else None

    return per_cluster(ctx, title, ctx.focus, one)


def optional_get(ctx: CheckContext, inp, cluster: str, default=None):
    """An input that only adds evidence: its absence is not an error of the step."""
    try:
        return ctx.get(inp, cluster)
    except Unavailable:
        return default


# ------------------------------------------------------------------------------ pod anatomy


def containers(pod: dict) -> list[dict]:
    return list((pod.get("spec") or {}).get("containers") or [])


def init_containers(pod: dict) -> list[dict]:
    return list((pod.get("spec") or {}).get("initContainers") or [])


def native_sidecar(pod: dict) -> bool:
    return any(c.get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always"
               for c in init_containers(pod))


def app_containers(pod: dict) -> list[dict]:
    return [c for c in containers(pod) if c.get("name") != PROXY_CONTAINER]


def is_gateway(pod: dict) -> bool:
    """A pod whose Envoy is the workload itself (ingress, egress, east-west gateway, waypoint).
    Asked of every sidecar pod of a namespace by two checks: it copies no list."""
    proxy = proxy_container(pod)
    if proxy is None:
        return False
    return any(str(a) == "router" for a in proxy.get("args") or ()) or \
        all(c.get("name") == PROXY_CONTAINER for c in (pod.get("spec") or {}).get("containers")
            or ())


def app_sidecar_pods(pods: list[dict]) -> list[dict]:
    """The pods among `pods` whose sidecar serves an application: not a gateway's own Envoy
    (is_gateway, asked once per workload's containers: pods_where)."""
    return pods_where(pods, lambda pod: not is_gateway(pod))


def container_status(pod: dict, name: str) -> dict:
    """The first status of the container `name`, else {} (copies no list: asked per pod)."""
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for st in status.get(key) or ():
            if st.get("name") == name:
                return st
    return {}


def owner_ref(workload: Workload, pod: dict | None) -> str:
    return workload.ref if workload.kind != "pod" or pod is None else f"pod/{name_of(pod)}"


def port_number(pod: dict, port: object) -> int | None:
    """A probe's or Service targetPort's port, resolving a named port against the pod."""
    if isinstance(port, int):
        return port
    text = str(port or "")
    if text.isdigit():
        return int(text)
    for c in containers(pod):
        for p in c.get("ports") or []:
            if p.get("name") == text:
                return int(p.get("containerPort"))
    return None


def short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


_URL_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@")
_KEY_VALUE_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)"
                               r"(\"[^\"]*\"|'[^']*'|[^\s,;&]+)")


def log_line(text: str, limit: int = 200) -> str:
    """A container log line fit for evidence: secrets masked (tokens, keys, URL passwords,
    `password=...`), whitespace folded, length capped."""
    text = redact_log(str(text))
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return short(text, limit)


# ------------------------------------------------------------------------------ mesh settings


def _configmaps(ctx: CheckContext, cluster: str) -> list[dict]:
    return optional_get(ctx, ISTIO_CONFIGMAPS, cluster, []) or []


def mesh_settings(ctx: CheckContext, cluster: str) -> dict:
    """meshConfig of the cluster's install (the `istio` ConfigMap)."""
    return mesh_config(_configmaps(ctx, cluster))


def root_namespace(ctx: CheckContext, cluster: str) -> str:
    return str(mesh_settings(ctx, cluster).get("rootNamespace") or ctx.info(cluster).istio_namespace)


def injector_setting(ctx: CheckContext, cluster: str, *path: str) -> object:
    return install_value(injector_values(_configmaps(ctx, cluster)), *path)


def pod_proxy_config(pod: dict) -> dict:
    """The pod's `proxy.istio.io/config` annotation (ProxyConfig as YAML or JSON)."""
    raw = annotations_of(pod).get(PROXY_CONFIG_ANNOTATION)
    try:
        doc = yaml_text.load(raw) if raw else None
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


# ------------------------------------------------------------------------------ mTLS


@dataclass(frozen=True)
class MtlsMode:
    mode: str  # STRICT | PERMISSIVE | DISABLE
    source: str  # which policy decided it


def _mode(spec: dict | None) -> str | None:
    mode = str(((spec or {}).get("mtls") or {}).get("mode") or "").upper()
    return mode if mode in ("STRICT", "PERMISSIVE", "DISABLE") else None


def _oldest(policies: Iterable[dict]) -> dict | None:
    items = sorted(policies, key=lambda p: (str((p.get("metadata") or {}).get("creationTimestamp") or ""),
                                            name_of(p)))
    return items[0] if items else None


def _selector(pa: dict) -> dict | None:
    sel = (pa.get("spec") or {}).get("selector") or {}
    return sel.get("matchLabels") or None


def effective_mtls(pod: dict, port: int | None, policies: list[dict], root_ns: str) -> MtlsMode:
    """The PeerAuthentication mode that applies to a pod's container port, as istiod computes
    it: the workload policy (selector) over the namespace policy over the mesh-wide policy in the
    root namespace, UNSET inheriting from the level above, port-level settings (keyed by
    container port, workload policies only) over the workload's mode; PERMISSIVE by default."""
    ns, labels = namespace_of(pod), labels_of(pod)
    mesh = _oldest(p for p in policies if namespace_of(p) == root_ns and not _selector(p))
    space = _oldest(p for p in policies if namespace_of(p) == ns and not _selector(p)
                    and ns != root_ns)
    workload = _oldest(p for p in policies if namespace_of(p) == ns and _selector(p)
                       and all(labels.get(k) == v for k, v in _selector(p).items()))
    result = MtlsMode("PERMISSIVE", "no PeerAuthentication applies (default PERMISSIVE)")
    for pa, scope in ((mesh, "mesh-wide"), (space, "namespace-wide"), (workload, "workload")):
        mode = _mode((pa or {}).get("spec"))
        if pa is not None and mode:
            result = MtlsMode(mode, f"PeerAuthentication {namespace_of(pa)}/{name_of(pa)} "
                                    f"({scope}) mode {mode}")
    if workload is not None and port is not None:
        levels = (workload.get("spec") or {}).get("portLevelMtls") or {}
        for key, value in levels.items():
            mode = _mode({"mtls": value})
            if str(key) == str(port) and mode:
                result = MtlsMode(mode, f"PeerAuthentication {namespace_of(workload)}/"
                                        f"{name_of(workload)} portLevelMtls {port} mode {mode}")
    return result


def inbound_captured(pod: dict, port: int) -> bool:
    """Whether the sidecar captures inbound traffic to the port (interception annotations)."""
    ann = annotations_of(pod)
    excluded = {p.strip() for p in ann.get("traffic.sidecar.istio.io/excludeInboundPorts", "").split(",")}
    if str(port) in excluded:
        return False
    included = ann.get("traffic.sidecar.istio.io/includeInboundPorts")
    if included is None or included.strip() == "*":
        return True
    return str(port) in {p.strip() for p in included.split(",")}


# Protocols istiod recognises in a port name prefix or appProtocol (protocol.Parse).
KNOWN = {"http": "HTTP", "http2": "HTTP2", "https": "HTTPS", "grpc": "GRPC",
         "grpc-web": "GRPC-Web", "tcp": "TCP", "tls": "TLS", "udp": "UDP", "mongo": "Mongo",
         "mysql": "MySQL", "redis": "Redis", "h2c": "HTTP2", "ws": "HTTP", "wss": "HTTPS",
         "http_proxy": "HTTP_PROXY", "hbone": "HBONE"}


def declared_protocol(port: dict) -> tuple[str | None, str]:
    """(protocol or None, where it comes from) for one Service port."""
    app = str(port.get("appProtocol") or "")
    if app:
        key = app.lower().removeprefix("kubernetes.io/")
        return KNOWN.get(key), f"appProtocol {app}"
    name = str(port.get("name") or "")
    prefix = name.split("-", 1)[0].lower()
    if prefix in KNOWN:
        return KNOWN[prefix], f"name {name}"
    return None, f"name {name!r}" if name else "no name"


def target_port(svc_port: dict, pods: list[dict]) -> object:
    raw = svc_port.get("targetPort", svc_port.get("port"))
    for pod in pods:
        number = port_number(pod, raw)
        if number is not None:
            return number
    return raw


def ports_of(svc: dict) -> list[dict]:
    return list((svc.get("spec") or {}).get("ports") or [])


def is_control_plane(svc: dict) -> bool:
    """What istioctl analyze leaves out of port naming checks (IST0118): Services of the system
    namespaces and of Istio's own install (label `istio`, or `release: istio`)."""
    labels = labels_of(svc)
    return (namespace_of(svc) in SYSTEM_NAMESPACES or "istio" in labels
            or labels.get("release") == "istio")


def examined_services(target: Target) -> list[dict]:
    """The Services whose ports are judged: the Service itself for `svc/<name>`, else every
    Service of the target's pods (ExternalName services have no ports of their own)."""
    services = [target.service] if target.service is not None else target.services
    return [s for s in services if (s.get("spec") or {}).get("type") != "ExternalName"
            and not is_control_plane(s)]


def namespace_object(ctx: CheckContext, cluster: str, name: str) -> dict:
    for ns in optional_get(ctx, NAMESPACES, cluster, []) or []:
        if name_of(ns) == name:
            return ns
    return {}
