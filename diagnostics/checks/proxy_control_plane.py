"""Step 6 of the runbook: are a remote cluster's proxies served by the primary's istiod?

In primary-remote (and external control plane) meshes a remote cluster's proxies must reach the
primary's istiod through a selector-less `istiod` (or `istiod-remote`) Service pointing at
`remotePilotAddress`. When a remote was installed like a primary instead, its proxies connect to
an in-cluster istiod that reads no other cluster, so they only see local endpoints.

Whose istiod serves whom is read from `/debug/syncz` (each entry's `cluster_id` is the proxy's
cluster); whether a cluster is *meant* to be a remote only from what its install says
(`mesh_view.remote_intent`), so a multi-primary mesh is never taken for a broken remote.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.facts import PerReplica
from diagnostics.inputs import (ISTIOD_PODS, ISTIO_CONFIGMAPS, ISTIO_GATEWAYS, ISTIO_SECRETS,
                                NAMESPACES, SERVICES, SYNCZ_CENSUS)
from diagnostics.model import Step
from diagnostics.views.mesh import (CONTROL_PLANE_CLUSTERS, NETWORK_LABEL, RemoteIntent,
                                    gateway_addresses, injector_values, install_value,
                                    looks_like_eastwest_gateway)
from diagnostics.views.secrets import remote_intent_of
from diagnostics.workloads import labels_of, name_of, namespace_of

ISTIOD_SERVICE_NAMES = ("istiod", "istiod-remote")
ISTIOD_XDS_PORT = 15012


def connected_proxies(ctx: CheckContext, cluster: str) -> dict[tuple[str, str], list[str]]:
    """(istiod cluster, replica) → the proxies of `cluster` connected to it, per syncz (read
    as a census: who is connected, not each proxy's sync state)."""
    out: dict[tuple[str, str], list[str]] = {}
    for home, replicas in ctx.available(SYNCZ_CENSUS).items():
        for replica, body in replicas.values.items():
            mine = [proxy for proxy, cluster_id, _ in body if cluster_id == cluster]
            if mine:
                out[(home, replica)] = mine
    return out


def _connection_lines(served: dict[tuple[str, str], list[str]], cluster: str,
                      own_syncz: PerReplica | None) -> list[str]:
    lines = []
    for (home, replica), proxies in sorted(served.items()):
        names = ", ".join(proxies[:4]) + (" …" if len(proxies) > 4 else "")
        lines.append(f"syncz of istiod {replica} ({home}): {len(proxies)} proxies of {cluster} "
                     f"connected ({names})")
    if not served:
        lines.append(f"no istiod's syncz lists a proxy of {cluster}")
    for replica, why in (own_syncz.missing.items() if own_syncz else ()):
        lines.append(f"syncz of istiod {replica} ({cluster}): not read ({why})")
    return lines


def _istiod_services(ctx: CheckContext, cluster: str, remote: bool
                     ) -> tuple[list[dict], list[str]]:
    """The discovery Services in the system namespace, and a line describing each."""
    istio_ns = ctx.info(cluster).istio_namespace
    found = [s for s in ctx.get(SERVICES, cluster)
             if namespace_of(s) == istio_ns and name_of(s) in ISTIOD_SERVICE_NAMES]
    lines = []
    for svc in found:
        spec = svc.get("spec") or {}
        selector = spec.get("selector") or {}
        how = ("selects " + ",".join(f"{k}={v}" for k, v in selector.items())) if selector \
            else (f"ExternalName {spec.get('externalName')}" if spec.get("type") == "ExternalName"
                  else "selector-less (endpoints point at the primary)")
        lines.append(f"Service {istio_ns}/{name_of(svc)} in {cluster}: {how}")
    if remote and not any(name_of(s) == "istiod-remote" for s in found):
        lines.append(f"no Service {istio_ns}/istiod-remote in {cluster}")
    return found, lines


def _uses_local_istiod(services: list[dict], local_pods: list[dict]) -> bool:
    """Without syncz: proxies dial `istiod(-remote).<ns>.svc:15012`; a selector picking running
    local istiod pods, and no istiod-remote, means they land on the local istiod."""
    names = {name_of(s): s for s in services}
    if "istiod-remote" in names or not local_pods:
        return False
    svc = names.get("istiod")
    return bool(svc and (svc.get("spec") or {}).get("selector"))


def _primary_gateway_address(ctx: CheckContext, primary: str, values: dict) -> str:
    """Where the remote should find the primary's istiod: its east-west gateway address, else
    the remotePilotAddress the values already carry."""
    for svc in ctx.available(SERVICES).get(primary, []):
        if looks_like_eastwest_gateway(svc) and gateway_addresses(svc):
            return gateway_addresses(svc)[0]
    configured = install_value(values, "global", "remotePilotAddress")
    return str(configured) if configured else f"<address of {primary}'s east-west gateway>"


def _istiod_exposed(ctx: CheckContext, primary: str) -> list[str]:
    """Evidence that the primary exposes istiod to remotes (expose-istiod.yaml)."""
    out = []
    for gw in ctx.available(ISTIO_GATEWAYS).get(primary, []):
        ports = [int((s.get("port") or {}).get("number") or 0)
                 for s in (gw.get("spec") or {}).get("servers") or []]
        if ISTIOD_XDS_PORT in ports:
            out.append(f"{primary} exposes istiod on its east-west gateway (Gateway "
                       f"{namespace_of(gw)}/{name_of(gw)}, port {ISTIOD_XDS_PORT})")
    return out


def _network_of(ctx: CheckContext, cluster: str, values: dict) -> str:
    istio_ns = ctx.info(cluster).istio_namespace
    namespace = next((n for n in ctx.get(NAMESPACES, cluster) if name_of(n) == istio_ns), {})
    net = labels_of(namespace).get(NETWORK_LABEL) or install_value(values, "global", "network")
    return str(net) if net else f"<network of {cluster}>"


def _pick_primary(ctx: CheckContext, cluster: str, intent: RemoteIntent) -> str:
    with_istiod = [c for c, pods in ctx.available(ISTIOD_PODS).items() if pods and c != cluster]
    ranked = [p for p in intent.primaries if p in with_istiod] + list(intent.primaries) + \
        with_istiod
    return ranked[0] if ranked else "<primary cluster>"


def _served_locally(ctx: CheckContext, cluster: str, served: dict, services: list[dict],
                    local_pods: list[dict]) -> tuple[bool, list[str]]:
    """Whether the cluster's proxies use an in-cluster istiod: syncz says so, or (syncz of the
    cluster unreadable, nobody else lists them) the discovery Service selects local istiod."""
    if any(home == cluster for home, _replica in served):
        return True, []
    if served or cluster in ctx.available(SYNCZ_CENSUS):
        return False, []
    if _uses_local_istiod(services, local_pods):
        return True, [f"syncz of {cluster} unreadable: the istiod Service selects the local "
                      "istiod pods, so the proxies connect to them"]
    return False, []


def _remote_finding(ctx: CheckContext, cluster: str, intent: RemoteIntent,
                    evidence: list[str]):
    primary = _pick_primary(ctx, cluster, intent)
    evidence += _istiod_exposed(ctx, primary)
    values = injector_values(ctx.get(ISTIO_CONFIGMAPS, cluster))
    extra = {} if primary in ctx.cluster_names else {
        "peer_context": "<context of the primary cluster>",
        "peer_istio_namespace": ctx.info(cluster).istio_namespace}
    return ctx.finding(
        "istiod-remote-missing", cluster=cluster,
        resource=f"Namespace {ctx.info(cluster).istio_namespace}", evidence=evidence,
        peer_cluster=primary, gateway_address=_primary_gateway_address(ctx, primary, values),
        network=_network_of(ctx, cluster, values), **extra)


@check("proxy-control-plane", title="Control plane serving each cluster's proxies",
       inputs=(SYNCZ_CENSUS, ISTIOD_PODS, SERVICES, NAMESPACES, ISTIO_CONFIGMAPS, ISTIO_SECRETS,
               ISTIO_GATEWAYS),
       emits=("istiod-remote-missing",))
def proxy_control_plane(ctx: CheckContext) -> list[Step]:
    """Find which istiod each cluster's proxies use; a cluster meant to be a remote must use
    its primary's, not an in-cluster one."""
    title = "Control plane serving the proxies"

    def one(cluster: str) -> Step:
        intent = remote_intent_of(ctx, cluster)
        local_pods = ctx.get(ISTIOD_PODS, cluster)
        services, service_lines = _istiod_services(ctx, cluster, remote=intent is not None)
        served = connected_proxies(ctx, cluster)
        evidence = list(intent.signs) if intent else [
            f"{cluster} is not set up as a remote (no {CONTROL_PLANE_CLUSTERS} annotation "
            "naming another cluster, no remote-profile injector values)"]
        evidence.append(f"istiod pods in {cluster}: "
                        + (", ".join(name_of(p) for p in local_pods) or "none"))
        evidence += service_lines + _connection_lines(served, cluster,
                                                      ctx.available(SYNCZ_CENSUS).get(cluster))
        local, why = _served_locally(ctx, cluster, served, services, local_pods)
        if intent is None or not local:
            return ctx.step(title, cluster, evidence)
        evidence += why
        finding = _remote_finding(ctx, cluster, intent, evidence)
        return ctx.step(title, cluster, evidence, [finding])

    return per_cluster(ctx, title, ctx.focus, one)
