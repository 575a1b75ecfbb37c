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
import heapq
import re
from collections import Counter
from typing import TYPE_CHECKING, Callable

from diagnostics.facts import PerReplica, PodNetworks, ProxyCensus
from diagnostics.inputs import (INFRA_SELECTORS, ISTIOD_PODS, ISTIO_CONFIGMAPS, NAMESPACES,
                                PROXY_INFRA_META, PROXY_POD_META, PROXY_POD_NAMES, SERVICES,
                                SYNCZ, TARGET_ENDPOINTSLICES, TARGET_INJECTED_NAMES,
                                NAMESPACE_PODS, TARGET_NS, TARGET_ROLE_PODS, TLS_MODE_LABEL, Input,
                                ResourceNames, Resources)
from diagnostics.parse.syncz import parse_syncz, syncz_census
from diagnostics.selectors import labels_query
from diagnostics.views.ambient import (AMBIENT, DATAPLANE_MODE, ambient_in, ambient_namespaces,
                                       captured, enrolled_in)
from diagnostics.views.mesh import (NETWORK_LABEL, injector_values, install_value,
                                    mesh_networks)
from diagnostics.views.networks import system_namespace
from diagnostics.workloads import (NOT_READY_SHOWN, SERVICE_NAME_LABEL, find_service,
                                   has_ready_endpoint, is_mesh_infrastructure, is_ztunnel,
                                   labels_of, name_of, namespace_of, runs_proxy, service_selects)

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher
    from diagnostics.inputs import PodPicker, Scope

#: Up to this many pods of a namespace are read one by one; more, and the namespace is read.
PER_POD_READS = 10
#: Up to this many names of injected pods that syncz may not list are read by name (each
#: across namespaces); more, and the injected pods' metadata is read to say which.
NAME_READS = 20


async def picked(fetch: ClusterFetcher, among: Input, picker: PodPicker
                 ) -> set[tuple[str, str]]:
    """(namespace, name) of the pods `picker` chooses from `among` (metadata only), chosen
    once per cluster."""
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
            reads.append(fetch.need(NAMESPACE_PODS))  # shared with `check ns/<namespace>`
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


async def client_pool(fetch: ClusterFetcher) -> set[tuple[str, str]]:
    """The pods that may be the examined client (client_pools), as (namespace, name)."""
    namespace = fetch.scope.target_namespace
    injected, ambient = await client_pools(fetch)
    return {(namespace, name) for name in injected + ambient}


async def client_pools(fetch: ClusterFetcher) -> tuple[list[str], list[str]]:
    """The names of the pods that may be the examined client, chosen once per cluster: the
    `--from` pod, else the first injected and the first captured pods by name that the
    service does not select, are no gateway, waypoint or ztunnel, and that no EndpointSlice
    marks not ready (what client_candidates and ambient_clients judge whole). Read in every
    cluster: their sidecars also say the cluster's id (identity).

    Injected pods are named by the API server's Table, the service's own left out by its
    selector (`security.istio.io/tlsMode,app!=helloworld`; a selector of several labels
    cannot be negated in one, so its pods are named apart and passed over); ambient ones
    are among the role pods' metadata (TARGET_ROLE_PODS)."""
    return await fetch.once("client-pools", lambda: _client_pools(fetch))


async def _client_pools(fetch: ClusterFetcher) -> tuple[list[str], list[str]]:
    scope = fetch.scope
    namespace = scope.target_namespace
    if scope.from_pod:
        return [scope.from_pod], []
    if scope.service:  # asked with the Services, not after: most select by `app` alone
        fetch.need(_names(_unselected("app", scope.service)))
    services, slices, roles = await asyncio.gather(
        fetch.optional(SERVICES), fetch.optional(TARGET_ENDPOINTSLICES),
        fetch.need(TARGET_ROLE_PODS))
    svc = find_service(services or [], scope.service, namespace) if scope.service else None
    selector = ((svc.get("spec") or {}).get("selector") or {}) if svc is not None else \
        ({"app": scope.service} if scope.service else {})
    if len(selector) == 1:
        [(key, value)] = selector.items()
        injected = await fetch.need(_names(_unselected(key, value)))
        selected: list[str] = []
    else:
        injected, selected = await asyncio.gather(
            fetch.need(TARGET_INJECTED_NAMES), fetch.need(_names(labels_query(selector)))
            if selector else _none())

    def pools() -> tuple[list[str], list[str]]:  # (a namespace of 10,000: off the event loop)
        passed = set(selected) | _not_ready_in_slices(slices or []) | \
            {name_of(p) for p in roles if is_mesh_infrastructure(p)}
        ambient = sorted(name_of(p) for p in roles if namespace_of(p) == namespace
                         and captured(p) and not is_mesh_infrastructure(p)
                         and not service_selects(svc, p, fallback_app=scope.service))
        return (heapq.nsmallest(CLIENT_POOL_SIZE, (n for n in injected if n not in passed)),
                [n for n in ambient if n not in passed][:CLIENT_POOL_SIZE])

    return await asyncio.to_thread(pools)


def _one_target(scope: Scope) -> bool:
    """`check` of one pod, Deployment or Service, that reads only its pods (TARGET_PODS)."""
    return scope.kind in ("pod", "deploy", "svc")


def _unselected(key: str, value: str) -> str:
    """The injected pods a selector of one label does not select."""
    return f"{TLS_MODE_LABEL},{key}!={value}"


async def _none() -> list:
    return []


def _meta(selector: str | None) -> Resources:
    """The metadata of the command's namespace's pods `selector` selects: an input, so that
    a list the command reads anyway answers it (Resources.held_by)."""
    return Resources("pods", TARGET_NS, selector, metadata_only=True)


def _names(selector: str) -> ResourceNames:
    """The names of the command's namespace's pods `selector` selects (an input, as _meta)."""
    return ResourceNames("pods", selector, TARGET_NS)


def _not_ready_in_slices(slices: list[dict]) -> set[str]:
    """Pods an EndpointSlice lists as not ready: the controller sets `ready` from the pod's
    Ready condition, so none of them can be a Ready client."""
    return {(ep.get("targetRef") or {}).get("name") for sl in slices
            for ep in sl.get("endpoints") or []
            if (ep.get("conditions") or {}).get("ready") is False
            and (ep.get("targetRef") or {}).get("kind", "Pod") == "Pod"}


def _service_pod_names(slices: list[dict], service: str | None) -> set[str]:
    """The pods the service's EndpointSlices list, ready or not (none without a service)."""
    if not service:
        return set()
    return {(ep.get("targetRef") or {}).get("name") for sl in slices
            if labels_of(sl).get(SERVICE_NAME_LABEL) == service
            for ep in sl.get("endpoints") or []
            if (ep.get("targetRef") or {}).get("kind", "Pod") == "Pod"}


async def unready_service_pods(fetch: ClusterFetcher, pods: list[dict]
                               ) -> set[tuple[str, str]]:
    """Where the service has no ready endpoint here, the first NOT_READY_SHOWN pods its
    selector picks (SERVICE_POD_META, in the list's order): service-endpoints says what keeps
    each from Ready."""
    return {(namespace_of(p), name_of(p)) for p in pods[:NOT_READY_SHOWN]}


async def service_pods(fetch: ClusterFetcher) -> list[dict]:
    """The metadata of the pods the service selects, where none of its endpoints is ready
    here (SERVICE_POD_META); [] where one is, or the command names no service."""
    scope = fetch.scope
    if not scope.service:
        return []
    slices = await fetch.optional(TARGET_ENDPOINTSLICES) or []
    if has_ready_endpoint(slices, scope.service):
        return []
    namespace = scope.target_namespace
    svc = find_service(await fetch.optional(SERVICES) or [], scope.service, namespace)
    if svc is None:
        return await fetch.need(_meta(f"app={scope.service}"))
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:  # a Service without selector selects no pod (its endpoints are manual)
        return []
    return await fetch.need(_meta(labels_query(selector)))


async def role_pods(fetch: ClusterFetcher) -> list[dict]:
    """The metadata of the namespace's gateways, waypoints and ambient-enrolled pods
    (TARGET_ROLE_PODS): every pod's where the namespace, or any pod of it, is enrolled in
    ambient. A pod captured by ztunnel is enrolled: istio-cni captures only those. ztunnel
    itself is neither injected, captured nor a service's endpoint: nothing here passes it
    over, so it is not asked for."""
    namespace = fetch.scope.target_namespace
    if fetch.scope.service or _one_target(fetch.scope):  # a service's or a workload's
        # namespace may be big: the few, by their labels
        reads = [_meta(f"{DATAPLANE_MODE}={AMBIENT}"), *map(_meta, INFRA_SELECTORS)]
    else:  # one request, as _whole_namespace
        reads = [_meta(None)]
    namespaces, *found = await asyncio.gather(fetch.optional(NAMESPACES),
                                              *map(fetch.need, reads))
    pods = found[0] if len(found) == 1 else \
        list({(namespace_of(p), name_of(p)): p for some in found for p in some}.values())
    if namespace in ambient_namespaces(namespaces or []):
        return await fetch.need(_meta(None))
    infrastructure = _infrastructure(pods)
    if infrastructure is None:  # a pod enrolled in ambient
        return await fetch.need(_meta(None))
    return infrastructure


def _infrastructure(pods: list[dict]) -> list[dict] | None:
    """The gateways and waypoints among `pods`, or None when one of them is enrolled in
    ambient. One pass, each labels object asked once: a workload's replicas share theirs
    (k8s_lists ALIKE), and two passes over a namespace of 10,000 pods (`check ns/<ns>`) were a
    tenth of a second."""
    seen: dict[int, bool] = {}
    out = []
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels")
        if not labels:
            continue  # neither enrolled nor infrastructure: both are told by labels
        infra = seen.get(id(labels))
        if infra is None:
            if labels.get(DATAPLANE_MODE) == AMBIENT:
                return None
            infra = seen[id(labels)] = is_mesh_infrastructure(pod)
        if infra:
            out.append(pod)
    return out


#: Of the service's endpoint pods without a network label, how many are read (metadata, by
#: name), the first of each workload by name: the owners pod-network-unset names.
MAX_UNLABELLED_READ = 5


async def pod_networks(fetch: ClusterFetcher) -> PodNetworks:
    """Each labelled pod's network in the namespace (TARGET_POD_NETWORKS), from the API
    server's Tables of names: one per network the cluster's own configuration names (its
    Istio namespace's label, the injector's global.network, meshNetworks), and the metadata of
    pods labelled with any other (none, usually); then the metadata of the first few of the
    service's endpoint pods labelled with none. A command that names no service reads the
    namespace's metadata instead (_whole_namespace)."""
    namespace = fetch.scope.target_namespace
    if not fetch.scope.service:
        return await _whole_namespace(fetch)
    injected, roles, namespaces, configmaps, slices = await asyncio.gather(
        fetch.need(TARGET_INJECTED_NAMES), fetch.need(TARGET_ROLE_PODS),
        fetch.optional(NAMESPACES), fetch.optional(ISTIO_CONFIGMAPS),
        fetch.optional(TARGET_ENDPOINTSLICES))
    stated = sorted(v for v in _stated_networks(fetch.scope, namespaces or [], configmaps or [])
                    if LABEL_VALUE.fullmatch(v))
    others = f"{NETWORK_LABEL},{NETWORK_LABEL} notin ({','.join(stated)})" if stated \
        else NETWORK_LABEL
    *by_value, unstated = await asyncio.gather(
        *(fetch.need(_names(f"{NETWORK_LABEL}={v}")) for v in stated),
        fetch.need(_meta(others)))
    networks = {name: value for value, names in zip(stated, by_value) for name in names}
    networks.update({name_of(p): str(labels_of(p)[NETWORK_LABEL]) for p in unstated})
    unlabelled = sorted(_service_pod_names(slices or [], fetch.scope.service) - set(networks)
                        - {None})
    owners = await asyncio.gather(*(
        fetch.list("pods", namespace, None, field_selector=f"metadata.name={name}",
                   metadata_only=True) for name in _first_of_each(unlabelled)))
    proxies = set(injected) | {name_of(p) for p in roles
                               if is_mesh_infrastructure(p) and not is_ztunnel(p)}
    return PodNetworks(networks, frozenset(proxies),
                       {name_of(p): p for some in owners for p in some})


async def _whole_namespace(fetch: ClusterFetcher) -> PodNetworks:
    """PodNetworks from the namespace's metadata, one request: what commands that name no
    service read (control-plane and the digest judge networks mesh-wide, and look at the
    `default` namespace's pods), where the Tables and label-selected lists above are eight
    requests a cluster for a namespace of a few pods."""
    pods = await fetch.need(_meta(None))
    return PodNetworks({name_of(p): str(labels_of(p)[NETWORK_LABEL]) for p in pods
                        if labels_of(p).get(NETWORK_LABEL)},
                       frozenset(name_of(p) for p in pods if runs_proxy(p)))


#: A label value as the API server accepts one (k8s.io/apimachinery validation): a value
#: that is not one can be no pod's label, and would make the selector invalid.
LABEL_VALUE = re.compile(r"(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def _stated_networks(scope: Scope, namespaces: list[dict], configmaps: list[dict]) -> set[str]:
    """The networks this cluster's own configuration names."""
    values = {labels_of(system_namespace(namespaces, scope.istio_namespace) or {})
              .get(NETWORK_LABEL), install_value(injector_values(configmaps), "global",
                                                 "network")}
    values |= set((mesh_networks(configmaps).get("networks") or {}))
    return {str(v) for v in values if v}


def _first_of_each(names: list[str]) -> list[str]:
    """The first of the sorted `names` of each workload, as pod names tell it (`web-0`,
    `helloworld-v1-6c4dp769z7-92vjf`: all but the last dash-separated part), at most
    MAX_UNLABELLED_READ: which pods to read, not whose they are (their owners say that)."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.rsplit("-", 1)[0], name)
    return list(seen.values())[:MAX_UNLABELLED_READ]


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
