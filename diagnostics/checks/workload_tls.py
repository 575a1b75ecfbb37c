"""check: does the app terminate its own TLS on a port where STRICT mTLS applies?

A Service port declared HTTPS or TLS (`https-`/`tls-` name, or appProtocol) says the app itself
serves TLS there. When the pods behind it run a sidecar and the effective PeerAuthentication for
that container port is STRICT, only in-mesh clients get through (their mTLS carries the app's TLS
as opaque bytes) and clients outside the mesh are refused.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.inputs import ISTIO_CONFIGMAPS, PEER_AUTHENTICATIONS
from diagnostics.model import Step
from diagnostics.selectors import selector_matches
from diagnostics.targets import Target
from diagnostics.views.workload import (TARGET_INPUTS, app_sidecar_pods, declared_protocol,
                                        effective_mtls, examined_services, inbound_captured,
                                        optional_get, per_target, root_namespace, target_port)
from diagnostics.workloads import labels_of, name_of, namespace_of

APP_TLS = ("HTTPS", "TLS")


@check("workload-tls", title="App TLS under mTLS",
       inputs=TARGET_INPUTS + (PEER_AUTHENTICATIONS, ISTIO_CONFIGMAPS),
       emits=("app-tls-under-strict-mtls",))
def workload_tls(ctx: CheckContext) -> list[Step]:
    """Service ports declared HTTPS/TLS (the app serves its own TLS) on pods with a sidecar
    where the effective PeerAuthentication for the container port is STRICT."""
    title = "App TLS under mTLS"

    def body(cluster: str, target: Target) -> Step | None:
        policies = optional_get(ctx, PEER_AUTHENTICATIONS, cluster, []) or []
        root = root_namespace(ctx, cluster)
        evidence, findings = [], []
        candidates: list[dict] | None = None  # sidecar pods but gateways, sorted out once
        for svc in examined_services(target):
            declared = [(port, *declared_protocol(port))
                        for port in (svc.get("spec") or {}).get("ports") or []]
            tls = [(port, proto, where) for port, proto, where in declared if proto in APP_TLS]
            if not tls:  # most Services: their pods need not be looked for (a namespace of
                continue  # a hundred Services and 10,000 pods made that a million matches)
            if candidates is None:
                candidates = app_sidecar_pods(target.sidecar_pods)
            selector = (svc.get("spec") or {}).get("selector")
            pods = [p for p in candidates if selector_matches(selector, labels_of(p))]
            if not pods:
                continue
            for port, proto, where in tls:
                tp = target_port(port, pods)
                if not isinstance(tp, int) or not inbound_captured(pods[0], tp):
                    evidence.append(f"Service {name_of(svc)} port {port.get('port')} ({where}): "
                                    "app TLS, port not captured by the sidecar")
                    continue
                mtls = effective_mtls(pods[0], tp, policies, root)
                line = (f"Service {name_of(svc)} port {port.get('port')} ({where}) → container "
                        f"port {tp}: the app serves {proto}; {mtls.source}")
                evidence.append(line)
                if mtls.mode == "STRICT":
                    findings.append(ctx.finding(
                        "app-tls-under-strict-mtls", cluster=cluster,
                        resource=f"Service {namespace_of(svc)}/{name_of(svc)}",
                        evidence=[line, f"pods with a sidecar behind it: "
                                        f"{', '.join(sorted(name_of(p) for p in pods)[:3])}"],
                        service=name_of(svc), namespace=namespace_of(svc),
                        port=port.get("port")))
        if not evidence:
            return None  # no port declares the app's own TLS: nothing to show
        return ctx.step(title, cluster, evidence, findings)

    return per_target(ctx, title, body)
