"""check: what the target's Service ports tell Istio.

Istio takes a port's protocol from `appProtocol`, else from the name's prefix before the first
`-` (`http-web`, plain `http`), else it sniffs (IST0118; docs/istio-surface.md §5). A port
that says nothing is ambiguous, and so is a target port that two Services declare with different
protocols (IST0116). UDP ports are not carried by the sidecar at all. A headless Service in front
of a StatefulSet addresses pods one by one, which Istio supports only for declared ports.
"""

from __future__ import annotations

from diagnostics.checks.base import CheckContext, check
from diagnostics.checks.workload_common import (SYSTEM_NAMESPACES, TARGET_INPUTS, per_target,
                                                port_number)
from diagnostics.model import Finding, Step
from diagnostics.selectors import selector_matches
from diagnostics.targets import Target, owner_of
from diagnostics.workloads import has_sidecar, labels_of, name_of, namespace_of

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


def _is_udp(port: dict) -> bool:
    return str(port.get("protocol") or "TCP").upper() == "UDP"


def _target_port(svc_port: dict, pods: list[dict]) -> object:
    raw = svc_port.get("targetPort", svc_port.get("port"))
    for pod in pods:
        number = port_number(pod, raw)
        if number is not None:
            return number
    return raw


def _ports(svc: dict) -> list[dict]:
    return list((svc.get("spec") or {}).get("ports") or [])


def is_control_plane(svc: dict) -> bool:
    """What istioctl analyze leaves out of port naming checks (IST0118): Services of the system
    namespaces and of Istio's own install (label `istio`, or `release: istio`)."""
    labels = labels_of(svc)
    return (namespace_of(svc) in SYSTEM_NAMESPACES or "istio" in labels
            or labels.get("release") == "istio")


def _examined_services(target: Target) -> list[dict]:
    """The Services whose ports are judged: the Service itself for `svc/<name>`, else every
    Service of the target's pods (ExternalName services have no ports of their own)."""
    services = [target.service] if target.service is not None else target.services
    return [s for s in services if (s.get("spec") or {}).get("type") != "ExternalName"
            and not is_control_plane(s)]


def _meshed(svc: dict, pods: list[dict]) -> bool:
    selector = (svc.get("spec") or {}).get("selector")
    return any(has_sidecar(p) and selector_matches(selector, labels_of(p)) for p in pods)


def _conflicts(target: Target) -> dict[object, list[tuple[dict, dict, str]]]:
    """Target port → (Service, port, protocol) where Services of the same pods disagree."""
    by_port: dict[object, list[tuple[dict, dict, str]]] = {}
    for svc in target.services:
        for port in _ports(svc):
            proto, _ = declared_protocol(port)
            if proto and not _is_udp(port):
                by_port.setdefault(_target_port(port, target.pods), []).append((svc, port, proto))
    return {k: v for k, v in by_port.items() if len({proto for _s, _p, proto in v}) > 1}


@check("workload-ports", title="Service port protocols", inputs=TARGET_INPUTS,
       emits=("port-protocol-ambiguous", "udp-port-not-proxied"))
def workload_ports(ctx: CheckContext) -> list[Step]:
    """Service ports whose protocol Istio cannot know (no protocol prefix, no appProtocol, or
    one target port declared with different protocols) and UDP ports the sidecar cannot carry."""
    title = "Service port protocols"

    def body(cluster: str, target: Target) -> Step:
        evidence, findings = [], []
        conflicts, reported = _conflicts(target), set()
        for svc in _examined_services(target):
            described = []
            for port in _ports(svc):
                number = port.get("port")
                proto, where = declared_protocol(port)
                if _is_udp(port):
                    described.append(f"{number} UDP")
                    if _meshed(svc, target.pods):  # only a sidecar could have carried it
                        findings.append(_udp(ctx, cluster, svc, port))
                    continue
                described.append(f"{number} {proto or '?'} ({where})")
                if proto is None:
                    reason = (f"{where}: no protocol prefix and no appProtocol, so Istio "
                              "sniffs the protocol")
                    findings.append(_ambiguous(ctx, cluster, svc, port, reason, [
                        f"Service {name_of(svc)} port {number} ({where}, targetPort "
                        f"{port.get('targetPort', number)}): protocol unknown"]))
                    continue
                tp = _target_port(port, target.pods)
                clash = conflicts.get(tp)
                if clash and tp not in reported:
                    reported.add(tp)
                    decl = [f"Service {name_of(s)} port {p.get('port')} as {pr}" for s, p, pr in clash]
                    reason = f"target port {tp} is declared with several protocols ({', '.join(decl)})"
                    findings.append(_ambiguous(ctx, cluster, svc, port, reason, decl))
            evidence.append(f"Service {name_of(svc)}: " + (", ".join(described) or "no ports"))
        return ctx.step(title, cluster, evidence or ["no Service selects the target"], findings)

    return per_target(ctx, title, body)


def _ambiguous(ctx: CheckContext, cluster: str, svc: dict, port: dict, reason: str,
               lines: list[str]) -> Finding:
    return ctx.finding("port-protocol-ambiguous", cluster=cluster,
                       resource=f"Service {namespace_of(svc)}/{name_of(svc)}", evidence=lines,
                       basis=lines, service=name_of(svc), namespace=namespace_of(svc), port=port.get("port"),
                       reason=reason)


def _udp(ctx: CheckContext, cluster: str, svc: dict, port: dict) -> Finding:
    line = (f"Service {name_of(svc)} port {port.get('port')} ({port.get('name') or 'unnamed'}) "
            f"is UDP, targetPort {port.get('targetPort', port.get('port'))}")
    return ctx.finding("udp-port-not-proxied", cluster=cluster,
                       resource=f"Service {namespace_of(svc)}/{name_of(svc)}", evidence=[line],
                       service=name_of(svc), namespace=namespace_of(svc), port=port.get("port"))


# ------------------------------------------------------------------------------ headless


def _statefulset_behind(svc: dict, pods: list[dict]) -> str | None:
    selector = (svc.get("spec") or {}).get("selector") or {}
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        owner = owner_of(pod)
        if owner and owner[0] == "StatefulSet":
            return f"statefulset/{owner[1]}"
    return None


@check("workload-headless", title="Headless services", inputs=TARGET_INPUTS,
       emits=("headless-service-statefulset",))
def workload_headless(ctx: CheckContext) -> list[Step]:
    """A headless Service (clusterIP None) selecting StatefulSet pods, which clients address
    one by one."""
    title = "Headless services"

    def body(cluster: str, target: Target) -> Step | None:
        evidence, findings = [], []
        for svc in _examined_services(target):
            spec = svc.get("spec") or {}
            if spec.get("clusterIP") != "None":
                continue
            sts = _statefulset_behind(svc, target.pods)
            if not sts:
                evidence.append(f"Service {name_of(svc)} is headless; it selects no StatefulSet pods")
                continue
            members = sorted(name_of(p) for p in target.pods
                             if (p.get("spec") or {}).get("subdomain") == name_of(svc)
                             or owner_of(p) == ("StatefulSet", sts.split("/", 1)[1]))
            ports = ", ".join(f"{p.get('port')}/{p.get('name') or '-'}" for p in _ports(svc))
            line = (f"Service {name_of(svc)} is headless (clusterIP None, ports {ports}) and "
                    f"selects {sts}: {', '.join(members[:5])}"
                    + (f" … ({len(members)})" if len(members) > 5 else ""))
            evidence.append(line)
            findings.append(ctx.finding(
                "headless-service-statefulset", cluster=cluster,
                resource=f"Service {namespace_of(svc)}/{name_of(svc)}",
                evidence=[line, f"members are addressed as <pod>.{name_of(svc)}."
                                f"{namespace_of(svc)}.svc.cluster.local"],
                service=name_of(svc), namespace=namespace_of(svc), workload=sts))
        if not evidence:
            return None  # nothing headless: no step to show
        return ctx.step(title, cluster, evidence, findings)

    return per_target(ctx, title, body)
