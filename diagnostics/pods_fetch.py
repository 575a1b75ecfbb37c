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
from collections import Counter
from typing import TYPE_CHECKING, Callable

from diagnostics.facts import PerReplica, ProxyCensus
from diagnostics.inputs import (ISTIOD_PODS, NAMESPACES, PROXY_INFRA_META, PROXY_POD_META,
                                PROXY_POD_NAMES, SERVICES, SYNCZ, TARGET_ENDPOINTSLICES,
                                TARGET_PODS, TLS_MODE_LABEL, Input)
from diagnostics.parse.syncz import parse_syncz, syncz_census
from diagnostics.selectors import selector_matches
from diagnostics.views.ambient import (AMBIENT, DATAPLANE_MODE, ambient_in, ambient_namespaces,
                                       captured, enrolled_in)
from diagnostics.workloads import (NOT_READY_SHOWN, endpoint_addresses, find_service,
                                   is_mesh_infrastructure, is_ztunnel, labels_of, name_of,
                                   namespace_of, runs_proxy, service_selects, sidecar_injected)

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher
    from diagnostics.inputs import PodPicker

#: Up to this many pods of a namespace are read one by one; more, and the namespace is read.
PER_POD_READS = 10
#: Up to this many names of injected pods that syncz may not list are read by name (each
#: across namespaces); more, and the injected pods' metadata is read to say which.
NAME_READS = 20


async def picked(fetch: ClusterFetcher, among: Input, picker: PodPicker
                 ) -> set[tuple[str, str]]:
    """(namespace, name) of the pods `picker` chooses from `among` (metadata only), chosen
    once per cluster: what is read of them may be asked for before they are read whole
    (diagnostics/sidecar_fetch.py likely_client)."""
    async def pick() -> set[tuple[str, str]]:
        return await picker(fetch, await fetch.need(among))

    return await fetch.once(f"picked:{picker.__name__}:{among!r}", pick)


async def pods_in_full(fetch: ClusterFetcher, among: Input, picker: PodPicker
                       ) -> list[dict]:
    """The whole objects of the pods `picker` chooses from `among` (metadata only)."""
    return await read_whole(fetch, await picked(fetch, among, picker))


async def read_whole(fetch: ClusterFetcher, wanted: set[tuple[str, str]]) -> list[dict]:
    """The whole objects of the pods `wanted` names, (namespace, name): by name while a
    namespace has at most PER_POD_READS of them, else the namespace's list."""
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
    the identity inputs every diagnosis reads anyway: syncz names proxies' clusters by it.
    Learnt once per cluster, for the census and the skewed proxies alike."""
    from diagnostics.facts import Fact
    from diagnostics.identity import IDENTITY_INPUTS, discover

    async def learn() -> str | None:
        facts = {}
        for inp in IDENTITY_INPUTS:
            value = await fetch.optional(inp)
            if value is not None:
                facts[inp] = Fact(value)
        return discover(facts).id

    return await fetch.once("own-cluster-id", learn)


async def listed_proxies(fetch: ClusterFetcher) -> set[str] | None:
    """The proxies (`pod.namespace`) some istiod's syncz (this cluster's or a peer's) lists
    under this cluster's id with a version; under any id when this cluster's is unknown.
    None when no syncz could be read: no pod is judged then."""
    return await _mine(fetch, "listed", _versioned)


async def _mine(fetch: ClusterFetcher, what: str,
                group: Callable[[PerReplica, list[dict]], dict[str | None, set[str]]]
                ) -> set[str] | None:
    """The proxies `group` keeps of every cluster's syncz (by the cluster id they are listed
    under) that are this cluster's: listed under its id, or without an id by its own istiod;
    under any id when its id is unknown. None when no syncz could be read."""
    own = await own_cluster_id(fetch)
    out: set[str] | None = None
    for fetcher in (fetch, *fetch.peers):
        groups = await _grouped(fetcher, what, group)
        if groups is None:
            continue
        out = out or set()
        for cluster, proxies in groups.items():
            if own is None or (cluster == own if cluster else fetcher is fetch):
                out |= proxies
    return out


async def _grouped(fetcher: ClusterFetcher, what: str,
                   group: Callable[[PerReplica, list[dict]], dict[str | None, set[str]]]
                   ) -> dict[str | None, set[str]] | None:
    """One cluster's syncz grouped by `group`, made once per diagnosis and off the event
    loop: every cluster asks every peer's, which made per asker grew with the square of the
    clusters (ten clusters: a hundred walks of a syncz)."""
    async def make() -> dict[str | None, set[str]] | None:
        per_replica = await fetcher.optional(SYNCZ)
        if per_replica is None:
            return None
        istiods = await fetcher.optional(ISTIOD_PODS) or []
        return await asyncio.to_thread(group, per_replica, istiods)

    return await fetcher.once(f"syncz-grouped:{what}", make)


def _versioned(per_replica: PerReplica, istiods: list[dict]) -> dict[str | None, set[str]]:
    """The proxies each replica lists with a version, by the cluster id it lists them under."""
    out: dict[str | None, set[str]] = {}
    for body in per_replica.values.values():
        for proxy, cluster, versioned in syncz_census(body):
            if versioned:
                out.setdefault(cluster or None, set()).add(proxy)
    return out


async def proxy_pods(fetch: ClusterFetcher) -> ProxyCensus:
    """How many pods run a proxy in the command's namespace (or all), and, whole, those no
    istiod lists (listed_proxies), without reading every pod's metadata.

    Injected pods are known by name only (PROXY_POD_NAMES), gateways and waypoints by their
    metadata (PROXY_INFRA_META). Names of different namespaces can be equal (a StatefulSet's
    `web-0`), so a name is suspect when more injected pods carry it than listed proxies do;
    suspects are read whole by name, at most NAME_READS of them, else the injected pods'
    metadata says which are unlisted (istiod down: every one) and those are read whole."""
    namespace = fetch.scope.namespace
    names, *infra_lists = await asyncio.gather(
        fetch.need(PROXY_POD_NAMES), *(fetch.need(i) for i in PROXY_INFRA_META))
    listed = await listed_proxies(fetch)
    infra = {(namespace_of(p), name_of(p)) for pods in infra_lists for p in pods
             if is_mesh_infrastructure(p) and not is_ztunnel(p) and _in_scope(namespace, p)}
    total, suspects = await asyncio.to_thread(_suspects, names, infra, listed or set(), namespace)
    if listed is None:
        return ProxyCensus(total, [], judged=False)
    wanted = {key for key in infra if f"{key[1]}.{key[0]}" not in listed}
    if len(suspects) > NAME_READS:
        meta = await fetch.need(PROXY_POD_META)
        wanted |= await asyncio.to_thread(lambda: {
            (namespace_of(p), name_of(p)) for p in meta if _in_scope(namespace, p)
            and f"{name_of(p)}.{namespace_of(p)}" not in listed})
        suspects = []
    found = await asyncio.gather(read_whole(fetch, wanted), *(
        fetch.list("pods", namespace, None, field_selector=f"metadata.name={n}")
        for n in suspects))
    unlisted, no_proxy = {}, set()
    for pod in (p for pods in found for p in pods):
        key = (namespace_of(pod), name_of(pod))
        if not runs_proxy(pod):
            if TLS_MODE_LABEL in labels_of(pod):  # labelled by hand, never injected
                no_proxy.add(key)
        elif f"{key[1]}.{key[0]}" not in listed:
            unlisted[key] = pod
    return ProxyCensus(total - len(no_proxy), [unlisted[k] for k in sorted(unlisted)])


def _suspects(names: list[str], infra: set[tuple[str, str]], listed: set[str],
              namespace: str | None) -> tuple[int, list[str]]:
    """How many pods run a proxy (the injected by name, the gateways and waypoints not among
    them), and the names more injected pods carry than listed proxies do."""
    injected = Counter(names)
    listed_names = Counter(proxy.rsplit(".", 1)[0] for proxy in listed
                           if not namespace or proxy.rsplit(".", 1)[-1] == namespace)
    total = len(names) + sum(1 for _, name in infra if name not in injected)
    return total, sorted(n for n, count in injected.items() if count > listed_names[n])


async def skewed_proxies(fetch: ClusterFetcher) -> set[tuple[str, str]]:
    """The pods of the first FINDING_LIMIT proxies (by id) of this cluster that some istiod
    lists with a version more than one minor version from its own (proxy-versions' rule):
    their owners are the workloads its findings tell to restart."""
    from diagnostics.views.proxies import FINDING_LIMIT

    namespace = fetch.scope.namespace
    offenders = sorted(p for p in await _mine(fetch, "skewed", _skewed) or ()
                       if "." in p and (not namespace or p.rsplit(".", 1)[1] == namespace))
    return {(proxy.rsplit(".", 1)[1], proxy.rsplit(".", 1)[0])
            for proxy in offenders[:FINDING_LIMIT]}


def _skewed(per_replica: PerReplica, istiods: list[dict]) -> dict[str | None, set[str]]:
    """The proxies each replica lists more than one minor version from its own, by the cluster
    id it lists them under."""
    from diagnostics.views.proxies import istiod_versions, skewed

    versions = istiod_versions(istiods)
    only = next(iter(versions.values())) if len(set(versions.values())) == 1 else None
    out: dict[str | None, set[str]] = {}
    for replica, body in per_replica.values.items():
        istiod = versions.get(replica, only)
        for sync in parse_syncz(body) if istiod else ():
            if skewed(sync.istio_version, istiod):
                out.setdefault(sync.cluster_id or None, set()).add(sync.proxy)
    return out


async def ambient_enrolled(fetch: ClusterFetcher) -> list[dict]:
    """The metadata of the pods enrolled in ambient by a label (AMBIENT_ENROLLED_PODS): every
    pod of the namespaces labelled for it (the command's only, when it named one), and the
    pods labelled so themselves anywhere."""
    namespace = fetch.scope.namespace
    labelled = fetch.list("pods", namespace, f"{DATAPLANE_MODE}={AMBIENT}", metadata_only=True)
    ambient = ambient_namespaces(await fetch.optional(NAMESPACES) or [])
    found = await asyncio.gather(labelled, *(
        fetch.list("pods", ns, None, metadata_only=True) for ns in sorted(ambient)
        if not namespace or ns == namespace))
    pods = {(namespace_of(p), name_of(p)): p for some in found for p in some}
    return list(pods.values())


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
