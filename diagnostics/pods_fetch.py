"""Reading whole only the pods a check judges by spec or status (diagnostics/inputs.py PodsInFull).

A metadata-only list of a big mesh's pods is a sixth of the whole one (13 of 52 MB at 10,000
pods, 43 of 252 MB once decoded) and says what most judgements need: labels, annotations,
owners, deletion. The pickers below name the few pods whose spec or status still decides a
finding; those are read whole, each namespace's at once:

- one `fieldSelector=metadata.name=` list per pod while they are at most PER_POD_READS,
- else one list of the namespace (what reading everything cost before).

Either way the check sees the same objects it would have found in a whole list.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from diagnostics.inputs import (NAMESPACES, SERVICES, SYNCZ, TARGET_ENDPOINTSLICES, TARGET_PODS,
                                Resources)
from diagnostics.parse.syncz import syncz_census
from diagnostics.selectors import selector_matches
from diagnostics.views.ambient import ambient_in, ambient_namespaces, captured, enrolled_in
from diagnostics.workloads import (NOT_READY_SHOWN, endpoint_addresses, find_service,
                                   is_mesh_infrastructure, labels_of, name_of, namespace_of,
                                   runs_proxy, service_selects, sidecar_injected)

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher
    from diagnostics.inputs import PodPicker

#: Up to this many pods of a namespace are read one by one; more, and the namespace is read.
PER_POD_READS = 10


async def picked(fetch: ClusterFetcher, among: Resources, picker: PodPicker
                 ) -> set[tuple[str, str]]:
    """(namespace, name) of the pods `picker` chooses from `among` (metadata only), chosen
    once per cluster: what is read of them may be asked for before they are read whole
    (diagnostics/sidecar_fetch.py likely_client)."""
    async def pick() -> set[tuple[str, str]]:
        return await picker(fetch, await fetch.need(among))

    return await fetch.once(f"picked:{picker.__name__}:{among!r}", pick)


async def pods_in_full(fetch: ClusterFetcher, among: Resources, picker: PodPicker
                       ) -> list[dict]:
    """The whole objects of the pods `picker` chooses from `among` (metadata only)."""
    wanted = await picked(fetch, among, picker)
    by_namespace: dict[str, list[str]] = {}
    for namespace, name in sorted(wanted):
        by_namespace.setdefault(namespace, []).append(name)
    reads = []
    for namespace, names in by_namespace.items():
        if len(names) > PER_POD_READS and namespace == fetch.scope.target_namespace:
            reads.append(fetch.need(TARGET_PODS))  # shared with checks that read it whole
        elif len(names) > PER_POD_READS:
            reads.append(fetch.list("pods", namespace, None))
        else:
            reads += [fetch.list("pods", namespace, None, field_selector=f"metadata.name={n}")
                      for n in names]
    found = await asyncio.gather(*reads)
    return [pod for pods in found for pod in pods
            if (namespace_of(pod), name_of(pod)) in wanted]


def _in_scope(namespace: str | None, pod: dict) -> bool:
    """Whether the pod is in the command's namespace (any, when it named none)."""
    return not namespace or namespace_of(pod) == namespace


async def own_cluster_id(fetch: ClusterFetcher) -> str | None:
    """The Istio cluster id this cluster's own objects state (diagnostics/identity.py), from
    the identity inputs every diagnosis reads anyway: syncz names proxies' clusters by it."""
    from diagnostics.facts import Fact
    from diagnostics.identity import IDENTITY_INPUTS, discover

    facts = {}
    for inp in IDENTITY_INPUTS:
        value = await fetch.optional(inp)
        if value is not None:
            facts[inp] = Fact(value)
    return discover(facts).id


async def unlisted_sidecars(fetch: ClusterFetcher, pods: list[dict]) -> set[tuple[str, str]]:
    """Pods with a proxy (runs_proxy) that no istiod's syncz (this cluster's or a peer's) lists under this
    cluster's id with a version: proxy-connected judges whether they run, proxy-versions reads
    their proxy image. Nothing when no syncz could be read: no pod is judged then. When this
    cluster's id is unknown, a listing under any id counts."""
    own = await own_cluster_id(fetch)
    bodies: list[tuple[bool, Any]] = []  # (this cluster's istiod?, one replica's syncz)
    for fetcher in (fetch, *fetch.peers):
        per_replica = await fetcher.optional(SYNCZ)
        if per_replica is not None:
            bodies += [(fetcher is fetch, body) for body in per_replica.values.values()]
    if not bodies:
        return set()
    return await asyncio.to_thread(_unlisted, bodies, own, pods, fetch.scope.namespace)


def _unlisted(bodies: list[tuple[bool, Any]], own: str | None, pods: list[dict],
              namespace: str | None) -> set[tuple[str, str]]:
    listed: set[str] = set()
    for ours, body in bodies:
        for proxy, cluster, versioned in syncz_census(body):
            mine = cluster == own if cluster else ours
            if versioned and (mine or own is None):
                listed.add(proxy)
    out = set()
    for p in pods:  # most are listed: that lookup first, their proxy and scope only if not
        name, pod_namespace = name_of(p), namespace_of(p)
        if f"{name}.{pod_namespace}" not in listed and runs_proxy(p) and _in_scope(namespace, p):
            out.add((pod_namespace, name))
    return out


async def uncaptured_ambient(fetch: ClusterFetcher, pods: list[dict]) -> set[tuple[str, str]]:
    """Pods enrolled in ambient (by their label or their namespace's) without the redirection
    annotation istio-cni sets: ambient-capture judges whether they run, and where."""
    ambient = ambient_namespaces(await fetch.optional(NAMESPACES) or [])
    namespace = fetch.scope.namespace

    def uncaptured() -> set[tuple[str, str]]:
        # enrolment first: outside ambient namespaces it rules out nearly every pod by a label
        return {(namespace_of(p), name_of(p)) for p in pods
                if enrolled_in(p, ambient) and not captured(p)
                and not is_mesh_infrastructure(p) and _in_scope(namespace, p)}

    return await asyncio.to_thread(uncaptured)


#: Of the namespace's possible clients, how many of each kind (injected, captured by ztunnel)
#: are read whole, first by name: the client is the first of them that is Ready (at most
#: MAX_CLIENTS are tried). Pods an EndpointSlice marks not ready are passed over first, so
#: only ten unready pods that no Service selects, first by name, would hide a client.
CLIENT_POOL_SIZE = 10


async def client_pool(fetch: ClusterFetcher, pods: list[dict]) -> set[tuple[str, str]]:
    """The pods that may be the examined client: the `--from` pod, else the first injected and
    the first captured pods by name that the service does not select, are no gateway, waypoint
    or ztunnel, and are not being deleted (what client_candidates and ambient_clients judge
    whole). Read in every cluster: their sidecars also say the cluster's id (identity)."""
    scope = fetch.scope
    namespace = scope.target_namespace
    if scope.from_pod:
        return {(namespace, name_of(p)) for p in pods
                if name_of(p) == scope.from_pod and namespace_of(p) == namespace}
    services = await fetch.optional(SERVICES) or []
    svc = find_service(services, scope.service, namespace) if scope.service else None
    slices = await fetch.optional(TARGET_ENDPOINTSLICES) or []

    def pool() -> set[tuple[str, str]]:
        in_ns = [p for p in pods if namespace_of(p) == namespace]
        unready = _not_ready_in_slices(slices)
        possible = sorted((p for p in in_ns if not is_mesh_infrastructure(p)
                           and not (p.get("metadata") or {}).get("deletionTimestamp")
                           and name_of(p) not in unready
                           and not service_selects(svc, p, fallback_app=scope.service)),
                          key=name_of)
        injected = [p for p in possible if sidecar_injected(p)][:CLIENT_POOL_SIZE]
        ambient = [p for p in possible if captured(p)][:CLIENT_POOL_SIZE]
        return {(namespace, name_of(p)) for p in injected + ambient}

    return await asyncio.to_thread(pool)


def _not_ready_in_slices(slices: list[dict]) -> set[str]:
    """Pods an EndpointSlice lists as not ready: the controller sets `ready` from the pod's
    Ready condition, so none of them can be a Ready client."""
    return {(ep.get("targetRef") or {}).get("name") for sl in slices
            for ep in sl.get("endpoints") or []
            if (ep.get("conditions") or {}).get("ready") is False
            and (ep.get("targetRef") or {}).get("kind", "Pod") == "Pod"}


async def unready_service_pods(fetch: ClusterFetcher, pods: list[dict]
                               ) -> set[tuple[str, str]]:
    """Where the service has no ready endpoint here, the first NOT_READY_SHOWN pods its
    selector picks (in the list's order): service-endpoints says what keeps each from Ready."""
    scope = fetch.scope
    if not scope.service:
        return set()
    slices = await fetch.optional(TARGET_ENDPOINTSLICES) or []
    if await asyncio.to_thread(lambda: bool(endpoint_addresses(slices, scope.service)[0])):
        return set()  # (every endpoint of a big service is looked at: off the event loop)
    svc = find_service(await fetch.optional(SERVICES) or [], scope.service,
                       scope.target_namespace)
    if svc is None:
        return set()
    selector = (svc.get("spec") or {}).get("selector") or {}

    def first_selected() -> set[tuple[str, str]]:
        selected = [p for p in pods if namespace_of(p) == scope.target_namespace
                    and selector_matches(selector, labels_of(p))]
        return {(namespace_of(p), name_of(p)) for p in selected[:NOT_READY_SHOWN]}

    return await asyncio.to_thread(first_selected)


async def ambient_namespace_pods(fetch: ClusterFetcher, pods: list[dict]
                                 ) -> set[tuple[str, str]]:
    """Every pod of the namespace where it uses ambient mode here (views/ambient.py ambient_in):
    the dataplane step names each pod's data plane from its containers and phase."""
    namespace = fetch.scope.target_namespace
    namespaces = await fetch.optional(NAMESPACES) or []

    def of_namespace() -> set[tuple[str, str]]:
        if not ambient_in(namespaces, pods, namespace):
            return set()
        return {(namespace_of(p), name_of(p)) for p in pods if namespace_of(p) == namespace}

    return await asyncio.to_thread(of_namespace)
