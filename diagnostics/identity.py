"""Which Istio cluster id each cluster carries, read from the cluster itself.

istiod knows clusters only by id: its own `CLUSTER_ID`, the data keys of remote secrets, the
`cluster=` of its log lines, clusterz entries, `Kubernetes/<id>` endpoint shards, the
`ISTIO_META_CLUSTER_ID` its proxies claim. A kubeconfig context name (`kind-east`,
`gke_acme_us-east1_prod-b`, `arn:aws:eks:...:cluster/prod-c`) is none of these: comparing it
with remote-secret keys reports a healthy secret as mismatched and suggests deleting it. So
before any check runs, every cluster read is asked which id it carries, and the report names
each cluster by that id (with its context beside it where they differ).

What counts, strongest first (each is what Istio itself uses):
- `CLUSTER_ID` of the cluster's own istiod (unset means istiod's default, `Kubernetes`); an
  external istiod running here names the cluster it serves, not this one, so it does not count;
- `global.multiCluster.clusterName` of the install's injector values, which the injector
  writes into every proxy (a remote cluster without istiod still carries them);
- `ISTIO_META_CLUSTER_ID` of the sidecars and gateways running in the cluster;
- `ISTIO_META_CLUSTER_ID` of its ztunnels (the ztunnel chart sets it from
  `multiCluster.clusterName`, default `Kubernetes`).

The config file's `name:` is an explicit override; a snapshot's folder name is the id its
writer recorded. When the cluster says something else, that is reported, never hidden. A
cluster that says nothing keeps the source's name and is marked as having no known id.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from diagnostics.facts import Fact
from diagnostics.fetching import ClusterFetcher, fetch_cluster
from diagnostics.inputs import (CLIENT_POOL, ISTIOD_PODS, ISTIO_CONFIGMAPS, ISTIO_PODS,
                                ISTIO_SECRETS, Input, Scope, TARGET_PODS)
from diagnostics.model import ClusterInfo, OVERRIDES
from diagnostics.views.control_plane import cluster_id_of, control_plane_of, values_cluster_name
from diagnostics.views.mesh import injector_values, proxy_env
from diagnostics.workloads import has_sidecar, is_ztunnel, name_of, namespace_of

# What the engine reads from every cluster, whatever the command, to learn its id.
IDENTITY_INPUTS: tuple[Input, ...] = (ISTIOD_PODS, ISTIO_CONFIGMAPS, ISTIO_PODS, ISTIO_SECRETS)

ISTIOD = "istiod CLUSTER_ID"
VALUES = "install values global.multiCluster.clusterName"
PROXIES = "proxies' ISTIO_META_CLUSTER_ID"
ZTUNNELS = "ztunnel's ISTIO_META_CLUSTER_ID"


@dataclass(frozen=True)
class Claim:
    """One thing in a cluster that states its id."""

    origin: str  # ISTIOD | VALUES | PROXIES | ZTUNNELS
    value: str
    where: str  # the object it was read from

    def line(self) -> str:
        return f"{self.origin} {self.value} ({self.where})"


@dataclass
class Discovery:
    """What one cluster says about its own id."""

    claims: list[Claim] = field(default_factory=list)
    serves: str | None = None  # CLUSTER_ID of an external istiod running here (another's id)
    unread: list[str] = field(default_factory=list)  # inputs that could not be read

    @property
    def id(self) -> str | None:
        return self.claims[0].value if self.claims else None

    @property
    def origin(self) -> str | None:
        return f"{self.claims[0].origin} ({self.claims[0].where})" if self.claims else None

    def disagreements(self) -> list[Claim]:
        """Claims naming another id than the strongest one (istiod vs its own proxies)."""
        return [c for c in self.claims if c.value != self.id]


def _value(facts: dict[Input, Fact], inp: Input, unread: list[str]) -> Any:
    fact = facts.get(inp)
    if fact is None:
        return None
    if fact.missing is not None:
        unread.append(f"{fact.missing.what}: {fact.missing.reason}")
        return None
    return fact.value


def discover(facts: dict[Input, Fact]) -> Discovery:
    """What a cluster's own objects say its Istio cluster id is (one cluster's facts)."""
    found = Discovery()
    istiod = _value(facts, ISTIOD_PODS, found.unread) or []
    secrets = _value(facts, ISTIO_SECRETS, found.unread) or []
    cp = control_plane_of("", istiod, secrets)
    secrets_unread = facts.get(ISTIO_SECRETS) is None or facts[ISTIO_SECRETS].missing is not None
    if cp is not None and (cp.config_elsewhere or (cp.external and secrets_unread)):
        # Its CLUSTER_ID, injector values and gateways belong to the cluster it serves.
        found.serves = cp.cluster_id
        return found
    for pod in sorted(istiod, key=name_of):
        found.claims.append(Claim(ISTIOD, cluster_id_of(pod),
                                  f"pod {namespace_of(pod)}/{name_of(pod)}"))
    for cm in sorted(_value(facts, ISTIO_CONFIGMAPS, found.unread) or [], key=name_of):
        name = values_cluster_name(injector_values([cm]))
        if name:
            found.claims.append(Claim(VALUES, name, f"ConfigMap {namespace_of(cm)}/{name_of(cm)}"))
    ztunnels, stated = [], set()
    for inp in (ISTIO_PODS, TARGET_PODS, CLIENT_POOL):
        pods = _value(facts, inp, found.unread if inp is ISTIO_PODS else []) or []
        for pod, value in _stated_cluster_ids(pods):
            origin = ZTUNNELS if is_ztunnel(pod) else PROXIES
            if (origin, value) in stated:  # the first pod stands for the rest (_dedupe)
                continue
            stated.add((origin, value))
            claim = Claim(origin, value, f"pod {namespace_of(pod)}/{name_of(pod)}")
            (ztunnels if origin is ZTUNNELS else found.claims).append(claim)
    found.claims += ztunnels
    found.claims = _dedupe(found.claims)
    return found


def _stated_cluster_ids(pods: list[dict]) -> Iterator[tuple[dict, str]]:
    """(pod, ISTIO_META_CLUSTER_ID) of the pods with a sidecar that states one, by pod name:
    of pods alike (below), only the first by name, which stands for the rest (_dedupe).

    A workload's replicas share their lists of containers and their annotations (diagnostics/
    parse/k8s_lists.py), all the answer depends on: it is read once per distinct three, not
    on each of a namespace's 10,000 pods, and those pods are not sorted. The pods are alive
    throughout, so the ids of what they hold name it."""
    memo: dict[tuple[int, int, int], str | None] = {}
    first: dict[tuple[int, int, int], tuple[str, dict]] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        key = (id(spec.get("containers")), id(spec.get("initContainers")),
               id((pod.get("metadata") or {}).get("annotations")))
        if key not in memo:
            memo[key] = proxy_env(pod, "ISTIO_META_CLUSTER_ID") if has_sidecar(pod) else None
        if memo[key]:
            name, held = name_of(pod), first.get(key)
            if held is None or name < held[0]:
                first[key] = (name, pod)
    for key, (_, pod) in sorted(first.items(), key=lambda kv: kv[1][0]):
        yield pod, memo[key]  # type: ignore[misc]


def _dedupe(claims: list[Claim]) -> list[Claim]:
    """One claim per (origin, value): the first object that made it stands for the rest."""
    seen: dict[tuple[str, str], Claim] = {}
    for c in claims:
        seen.setdefault((c.origin, c.value), c)
    return list(seen.values())


def resolve(infos: list[ClusterInfo], found: dict[str, Discovery]) -> list[ClusterInfo]:
    """Each cluster renamed to the id it carries, where that id is known and its own.

    An id two clusters share (both installed with the default `Kubernetes`) cannot name either:
    both keep their source names, and the collision is the cluster-ids check's finding. The
    config file's name stands as given; a cluster that disagrees gets a note.
    """
    counts = Counter(d.id for d in found.values() if d.id)
    out = []
    for info in infos:
        d = found.get(info.key) or Discovery()
        out.append(_resolved(info, d, counts))
    names = Counter(i.name for i in out)
    # A discovered id equal to another cluster's source name would merge two clusters.
    return [i if names[i.name] == 1 else replace(i, name=i.key, source_key=None,
                                                 id_origin=_declared(infos, i.key))
            for i in out]


def _declared(infos: list[ClusterInfo], key: str) -> str | None:
    return next(i.id_origin for i in infos if i.key == key)


def _resolved(info: ClusterInfo, d: Discovery, counts: Counter) -> ClusterInfo:
    notes = [f"{c.line()} disagrees" for c in d.disagreements()]
    if d.serves:
        notes.append(f"runs an external istiod serving cluster id {d.serves}")
    if info.id_origin in OVERRIDES:
        if d.id and d.id != info.name:
            # The override names the cluster; istiod compares what the cluster carries.
            return replace(info, notes=tuple(notes), discovered_id=d.id, carried_id=d.id,
                           id_origin=d.origin, named_by=info.id_origin)
        origin = d.origin if d.id == info.name else info.id_origin
        return replace(info, id_origin=origin, notes=tuple(notes))
    if d.id and counts[d.id] == 1:
        return replace(info, name=d.id, id_origin=d.origin, notes=tuple(notes),
                       source_key=info.key if d.id != info.key else None)
    if d.id:
        notes.insert(0, f"carries cluster id {d.id}, as another cluster read does")
        return replace(info, notes=tuple(notes), carried_id=d.id, id_origin=d.origin)
    return replace(info, notes=tuple(notes))


async def discover_source(source: Any, timeout: float = 60.0) -> list[ClusterInfo]:
    """Every cluster of a source, named by the id it carries: the identity inputs are read
    once per cluster (what `meshbot snapshot` needs before it names a folder), under one
    deadline per cluster. A failed read only leaves that source of evidence out."""
    infos = source.cluster_infos()

    async def facts_of(info: ClusterInfo) -> dict[Input, Fact]:
        fetcher = ClusterFetcher(source, info, Scope(info.istio_namespace), examined=False)
        facts, _ = await fetch_cluster(fetcher, list(IDENTITY_INPUTS), timeout)
        return facts

    found = await asyncio.gather(*(facts_of(i) for i in infos))
    return resolve(infos, {i.key: discover(f) for i, f in zip(infos, found)})
