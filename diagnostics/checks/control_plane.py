"""`control-plane` steps 1-2: istiod's health in each cluster, and the webhooks that call it.

1. istiod health: every istiod pod with its version (image tag), node, restarts, requests and
   limits; a pod that does not serve gets `istiod-unhealthy` with the precise reason (Pending and
   the scheduler's words, CrashLoopBackOff with the last exit, OOMKilled with the memory limit,
   not Ready with the failing probe) and its node's pressure conditions.
2. Webhooks: an injection (mutating) and a validation webhook must point at a live istiod: a
   Service in the Istio namespace that selects istiod pods, a selector-less Service with
   endpoints (remote clusters: the primary's gateway), or a URL. A webhook left pointing at a
   removed revision's Service injects nothing. A cluster that only hosts an external control
   plane needs no webhooks of its own: they live in the clusters it serves.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from diagnostics.checks.base import CheckContext, Unavailable, check, per_cluster
from diagnostics.checks.control_plane_facts import (ISTIO_DEPLOYMENTS, ISTIO_ENDPOINTS,
                                                    ISTIO_ENDPOINTSLICES, ISTIO_EVENTS,
                                                    MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS,
                                                    PodHealth, control_plane_of, deployment_line,
                                                    image_version, istiod_container,
                                                    istiod_deployments, pod_health)
from diagnostics.inputs import ISTIO_SECRETS, ISTIO_SERVICES, ISTIOD_PODS, NODES
from diagnostics.mesh_view import gateway_addresses
from diagnostics.model import Finding, Step
from diagnostics.selectors import selector_matches
from diagnostics.workloads import labels_of, name_of, namespace_of

HEALTH = "istiod health"
WEBHOOKS = "Injection and validation webhooks"


# ------------------------------------------------------------------------------ istiod health


@check("istiod-health", title="istiod pods, versions and resources",
       inputs=(ISTIOD_PODS, ISTIO_DEPLOYMENTS, ISTIO_EVENTS, NODES),
       emits=("istiod-unhealthy",))
def istiod_health(ctx: CheckContext) -> list[Step]:
    """Every istiod pod's state, version and resources; why a pod that does not serve fails."""
    return per_cluster(ctx, HEALTH, ctx.focus, lambda c: _health_step(ctx, c))


def _health_step(ctx: CheckContext, cluster: str) -> Step:
    pods = ctx.get(ISTIOD_PODS, cluster)
    ns = ctx.info(cluster).istio_namespace
    deployments = istiod_deployments(_optional(ctx, ISTIO_DEPLOYMENTS, cluster) or [])
    evidence = [deployment_line(d) for d in deployments]
    if not pods and not any((d.get("spec") or {}).get("replicas", 1) for d in deployments):
        evidence.append(f"no istiod pod in {ns}: this cluster's proxies use a control plane "
                        "running elsewhere")
        return ctx.step(HEALTH, cluster, evidence, status="skip")
    nodes = {name_of(n): n for n in _optional(ctx, NODES, cluster) or []}
    healths = [pod_health(p, None, nodes) for p in pods]
    if any(h.problem for h in healths):  # events only explain a pod that does not serve
        events = _optional(ctx, ISTIO_EVENTS, cluster, evidence, f"events in {ns}")
        healths = [pod_health(p, events, nodes) for p in pods]
    evidence += [h.summary for h in healths]
    versions = {image_version(istiod_container(h.pod).get("image", "")) for h in healths}
    if len(versions) > 1:
        evidence.append(f"istiod replicas run different versions: {', '.join(sorted(versions))}")
    findings = []
    for h in healths:
        evidence += h.details
        if h.problem:
            findings.append(_unhealthy(ctx, cluster, h))
    if not pods:
        dep = deployments[0]
        reason = f"no istiod pod exists for {deployment_line(dep)}"
        findings.append(ctx.finding("istiod-unhealthy", cluster=cluster,
                                    resource=f"Deployment {ns}/{name_of(dep)}", evidence=[reason],
                                    istiod_pod=f"deployment/{name_of(dep)}", reason=reason))
    elif findings and not any(h.problem is None or h.severity == "warning" for h in healths):
        evidence.append(f"no istiod replica in {cluster} is serving")
    step = ctx.step(HEALTH, cluster, evidence, findings)
    step.data = {"replicas": len(pods), "serving": sum(1 for h in healths if h.problem is None),
                 "versions": sorted(versions)}
    return step


def _unhealthy(ctx: CheckContext, cluster: str, h: PodHealth) -> Finding:
    return ctx.finding("istiod-unhealthy", cluster=cluster,
                       resource=f"Pod {namespace_of(h.pod)}/{h.name}",
                       evidence=[h.summary, *h.details], severity=h.severity,
                       istiod_pod=h.name, reason=h.problem)


def _optional(ctx: CheckContext, inp, cluster: str, evidence: list[str] | None = None,
              label: str = "") -> list[dict] | None:
    """An input that only adds detail: missing, it is noted (when asked) and the step goes on."""
    try:
        return ctx.get(inp, cluster)
    except Unavailable as exc:
        if evidence is not None:
            evidence.append(f"{label}: not read ({exc.reason})")
        return None


# ---------------------------------------------------------------------------------- webhooks

INJECTOR_SUFFIX = "sidecar-injector.istio.io"
VALIDATOR_SUFFIX = "validation.istio.io"


def injector_hooks(configs: list[dict]) -> list[tuple[dict, dict]]:
    """(configuration, webhook) pairs that inject sidecars."""
    return [(cfg, hook) for cfg in configs for hook in cfg.get("webhooks") or []
            if str(hook.get("name", "")).endswith(INJECTOR_SUFFIX)
            or "/inject" in hook_path(hook)]


def validator_hooks(configs: list[dict]) -> list[tuple[dict, dict]]:
    """(configuration, webhook) pairs that validate Istio resources."""
    return [(cfg, hook) for cfg in configs for hook in cfg.get("webhooks") or []
            if str(hook.get("name", "")).endswith(VALIDATOR_SUFFIX)
            or hook_path(hook).startswith("/validate")]


def hook_path(hook: dict) -> str:
    client = hook.get("clientConfig") or {}
    if client.get("url"):
        return urlsplit(str(client["url"])).path
    return str((client.get("service") or {}).get("path") or "")


def hook_target(hook: dict) -> str:
    client = hook.get("clientConfig") or {}
    if client.get("url"):
        return str(client["url"])
    svc = client.get("service") or {}
    port = svc.get("port", 443)
    return f"Service {svc.get('namespace')}/{svc.get('name')}:{port}{svc.get('path') or ''}"


@check("webhooks", title="Injection and validation webhooks",
       inputs=(MUTATING_WEBHOOKS, VALIDATING_WEBHOOKS, ISTIO_SERVICES, ISTIOD_PODS,
               ISTIO_SECRETS, ISTIO_ENDPOINTSLICES, ISTIO_ENDPOINTS),
       emits=("injection-webhook-missing", "validation-webhook-missing"))
def webhooks(ctx: CheckContext) -> list[Step]:
    """Find an injection and a validation webhook in each cluster that point at a live istiod."""
    return per_cluster(ctx, WEBHOOKS, ctx.focus, lambda c: _webhook_step(ctx, c))


def _webhook_step(ctx: CheckContext, cluster: str) -> Step:
    pods = ctx.get(ISTIOD_PODS, cluster)
    cp = control_plane_of(cluster, pods, ctx.get(ISTIO_SECRETS, cluster))
    if cp is not None and cp.config_elsewhere:
        return ctx.step(WEBHOOKS, cluster, [
            *cp.signs, f"istiod in {cluster} is an external control plane for cluster id "
            f"{cp.cluster_id}: its injection and validation webhooks are installed in the "
            "clusters it serves"], status="skip")
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
