"""A service's endpoints as Kubernetes and a client proxy see them: the Service's ports, the
EDS endpoints istiod sends for them, and the clusters holding ready endpoints.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext
from diagnostics.inputs import CLIENT_CONFIG_DUMPS, SERVICES, TARGET_ENDPOINTSLICES
from diagnostics.parse.envoy import Endpoint, endpoints_of, field, load_assignments
from diagnostics.workloads import find_service, has_ready_endpoint


def service_ports(ctx: CheckContext, name: str, ns: str) -> list[int]:
    """The service's ports, from whichever cluster defines it."""
    for services in ctx.available(SERVICES).values():
        svc = find_service(services, name, ns)
        if svc:
            return [int(p["port"]) for p in (svc.get("spec") or {}).get("ports") or []
                    if "port" in p]
    return []


def endpoints_for(ctx: CheckContext, dump: object, service: str, ns: str, port: int
                  ) -> list[Endpoint] | None:
    """The endpoints of `outbound|<port>||<service>.<ns>.svc.<domain>`, whatever the domain,
    in a client's config dump (a CLIENT_CONFIG_DUMPS value). Parsed once per diagnosis: five
    checks read the same client's endpoints, 10,000 of them in a big mesh. Do not change the
    list returned."""
    return ctx.derived(("eds", id(dump), service, ns, port), (CLIENT_CONFIG_DUMPS,),
                       lambda: _endpoints_for(dump, service, ns, port))


def _endpoints_for(dump: object, service: str, ns: str, port: int) -> list[Endpoint] | None:
    prefix = f"outbound|{port}||{service}.{ns}.svc."
    for cla in load_assignments(dump):
        name = field(cla, "cluster_name") or ""
        if name.startswith(prefix):
            return list(endpoints_of(cla))
    return None


def clusters_with_ready_endpoints(ctx: CheckContext, service: str) -> list[str]:
    return [c for c, slices in ctx.available(TARGET_ENDPOINTSLICES).items()
            if has_ready_endpoint(slices, service)]
