"""A service's endpoints as Kubernetes and a client proxy see them: the Service's ports, the
EDS endpoints istiod sends for them, and the clusters holding ready endpoints.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext
from diagnostics.inputs import SERVICES, TARGET_ENDPOINTSLICES
from diagnostics.parse.envoy import Endpoint, eds_endpoints, field, load_assignments
from diagnostics.workloads import endpoint_addresses, find_service


def service_ports(ctx: CheckContext, name: str, ns: str) -> list[int]:
    """The service's ports, from whichever cluster defines it."""
    for services in ctx.available(SERVICES).values():
        svc = find_service(services, name, ns)
        if svc:
            return [int(p["port"]) for p in (svc.get("spec") or {}).get("ports") or []
                    if "port" in p]
    return []


def endpoints_for(dump: object, service: str, ns: str, port: int) -> list[Endpoint] | None:
    """The endpoints of `outbound|<port>||<service>.<ns>.svc.<domain>`, whatever the domain."""
    prefix = f"outbound|{port}||{service}.{ns}.svc."
    for cla in load_assignments(dump):
        name = field(cla, "cluster_name") or ""
        if name.startswith(prefix):
            return eds_endpoints(dump, name)
    return None


def clusters_with_ready_endpoints(ctx: CheckContext, service: str) -> list[str]:
    return [c for c, slices in ctx.available(TARGET_ENDPOINTSLICES).items()
            if endpoint_addresses(slices, service)[0]]
