"""control-plane: the injection and validation webhooks of each control plane, and whether they
reach a live istiod.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from diagnostics.checking import CheckContext, Unavailable, check, per_cluster
from diagnostics.inputs import (ISTIOD_PODS, ISTIO_ENDPOINTS, ISTIO_ENDPOINTSLICES, ISTIO_SECRETS,
                                ISTIO_SERVICES, MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS)
from diagnostics.model import Step
from diagnostics.selectors import selector_matches
from diagnostics.views.control_plane import (control_plane_of, hook_target, injector_hooks,
                                             validator_hooks)
from diagnostics.views.istiod_secretless import withheld_secrets
from diagnostics.views.mesh import gateway_addresses
from diagnostics.workloads import labels_of, name_of, namespace_of


WEBHOOKS = "Injection and validation webhooks"


@check("webhooks", title="Injection and validation webhooks",
       inputs=(MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS, ISTIO_SERVICES, ISTIOD_PODS,
               ISTIO_SECRETS, ISTIO_ENDPOINTSLICES, ISTIO_ENDPOINTS),
       emits=("injection-webhook-missing", "validation-webhook-missing"))
def webhooks(ctx: CheckContext) -> list[Step]:
    """Find an injection and a validation webhook in each cluster that point at a live istiod."""
    return per_cluster(ctx, WEBHOOKS, ctx.focus, lambda c: _webhook_step(ctx, c))


def _webhook_step(ctx: CheckContext, cluster: str) -> Step:
    pods = ctx.get(ISTIOD_PODS, cluster)
    withheld = withheld_secrets(ctx, cluster)  # Secrets only tell an external control plane
    cp = control_plane_of(cluster, pods, [] if withheld else ctx.get(ISTIO_SECRETS, cluster))
    if cp is not None and cp.config_elsewhere:
        return ctx.step(WEBHOOKS, cluster, [
            *cp.signs, f"istiod in {cluster} is an external control plane for cluster id "
            f"{cp.cluster_id}: its injection and validation webhooks are installed in the "
            "clusters it serves"], status="skip")
    if cp is not None and cp.external and withheld:
        step = ctx.step(WEBHOOKS, cluster, [*cp.signs, f"not checked: {withheld.reason}; "
                        "whether this external istiod's config cluster is another one, where "
                        "its webhooks live, is in its config-type secret"], status="skip")
        step.incomplete = True
        return step
    evidence: list[str] = []
    findings = []
    for label, inp, pick, fid in (
            ("injection", MUTATING_WEBHOOKS, injector_hooks, "injection-webhook-missing"),
            ("validation", VALIDATING_WEBHOOKS, validator_hooks, "validation-webhook-missing")):
        kind = "MutatingWebhookConfiguration" if inp is MUTATING_WEBHOOKS \
            else "ValidatingWebhookConfiguration"
        hooks = pick(ctx.get(inp, cluster))
        lines, live = [], False
        for cfg, hook in hooks:
            alive, why = _liveness(ctx, cluster, hook)
            lines.append(f"{label} webhook {hook.get('name')} ({kind} {name_of(cfg)}) → "
                         f"{hook_target(hook)}: {why}")
            live = live or alive
        evidence += lines
        if live:
            continue
        line = (f"no {kind} in {cluster} has an Istio {label} webhook" if not hooks else
                f"every {label} webhook in {cluster} points at a control plane that is not there")
        evidence.append(line)
        findings.append(ctx.finding(fid, cluster=cluster, resource=f"{kind}s of {cluster}",
                                    evidence=[line, *lines]))
    return ctx.step(WEBHOOKS, cluster, evidence, findings)


def _liveness(ctx: CheckContext, cluster: str, hook: dict) -> tuple[bool, str]:
    """Whether a webhook reaches an istiod: (live or not known to be dead, why)."""
    client = hook.get("clientConfig") or {}
    if client.get("url"):
        return True, _url_target(ctx, cluster, str(client["url"]))
    ref = client.get("service") or {}
    ns, name = ref.get("namespace"), ref.get("name")
    if ns != ctx.info(cluster).istio_namespace:
        return True, f"Service in {ns}, outside the Istio namespace: not checked"
    svc = next((s for s in ctx.get(ISTIO_SERVICES, cluster) if name_of(s) == name), None)
    if svc is None:
        return False, f"Service {ns}/{name} does not exist"
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return True, f"ExternalName {spec.get('externalName')}"
    selector = spec.get("selector")
    if selector:
        pods = [p for p in ctx.get(ISTIOD_PODS, cluster)
                if selector_matches(selector, labels_of(p))]
        if not pods:
            return False, f"Service {ns}/{name} selects no istiod pod"
        return True, f"selects istiod pod(s) {', '.join(name_of(p) for p in pods)}"
    addresses = _service_addresses(ctx, cluster, name)
    if addresses is None:
        return True, "selector-less Service; its endpoints were not read"
    if not addresses:
        return False, f"selector-less Service {ns}/{name} has no endpoints"
    return True, "selector-less, endpoints " + ", ".join(
        f"{a}{_where(ctx, cluster, a)}" for a in addresses)


def _service_addresses(ctx: CheckContext, cluster: str, name: str) -> list[str] | None:
    """Addresses behind a selector-less Service (EndpointSlices, else legacy Endpoints)."""
    found: list[str] = []
    read = False
    for inp in (ISTIO_ENDPOINTSLICES, ISTIO_ENDPOINTS):
        try:
            objs = ctx.get(inp, cluster)
        except Unavailable:
            continue
        read = True
        for obj in objs:
            if inp is ISTIO_ENDPOINTSLICES and \
                    labels_of(obj).get("kubernetes.io/service-name") == name:
                found += [a for ep in obj.get("endpoints") or [] for a in ep.get("addresses") or []]
            elif inp is ISTIO_ENDPOINTS and name_of(obj) == name:
                found += [a.get("ip") for s in obj.get("subsets") or []
                          for a in s.get("addresses") or [] if a.get("ip")]
    return sorted(set(found)) if read else None


def _where(ctx: CheckContext, cluster: str, address: str) -> str:
    """` (cluster1's Service istio-system/istio-eastwestgateway)` when another cluster's
    load balancer carries the address."""
    for other, services in ctx.available(ISTIO_SERVICES).items():
        if other == cluster:
            continue
        for svc in services:
            if address in gateway_addresses(svc):
                return f" ({other}'s Service {namespace_of(svc)}/{name_of(svc)})"
    return ""


def _url_target(ctx: CheckContext, cluster: str, url: str) -> str:
    host = urlsplit(url).hostname or ""
    where = _where(ctx, cluster, host)
    return f"URL to {host}{where}" if where else f"URL to {host} (not a load balancer of the mesh)"
