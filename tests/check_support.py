"""Running one registered check on facts held in memory, as the engine would hand them over.

The unit tests of checks (control plane, networks, proxies, workloads) build per-cluster facts
by hand; this is the one place that turns them into a CheckContext and runs the check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import diagnostics.checks  # noqa: F401 - registers the checks
from diagnostics.catalog import default_catalog
from diagnostics.checking import CheckContext, REGISTRY
from diagnostics.facts import Fact, PerReplica, PodNetworks
from diagnostics.inputs import (NAMESPACES, TARGET, TARGET_DEPLOYMENTS, TARGET_ENDPOINTSLICES,
                                TARGET_INJECTED_NAMES, TARGET_POD_NETWORKS, TARGET_PODS,
                                TARGET_REPLICASETS, TARGET_ROLE_PODS, TARGET_SERVICES,
                                TLS_MODE_LABEL, Input, IstiodDebug)
from diagnostics.model import ClusterInfo, Step
from diagnostics.targets import TargetQuery

#: A test's key for the pods of the command's namespace as the API server holds them
#: (metadata): the inputs why-local-only reads of them through label selectors and Tables
#: are what diagnostics/pods_fetch.py would find there (namespace_pod_inputs).
NAMESPACE_PODS = "namespace pods"


def run_check(check: str, mesh: Mapping[str, Mapping[Input, Any]], *, now: datetime,
              empty: Callable[[Input], Any] = lambda _inp: [], args: dict | None = None,
              focus: list[str] | None = None, render: bool = True,
              infos: Mapping[str, ClusterInfo] | None = None) -> list[Step]:
    """Run `check` over `mesh` ({cluster: {input: value or Fact}}); a declared input a cluster
    lacks is `empty(input)`. With `render`, every finding renders its catalog entry strictly,
    so a missing template parameter fails the test. `infos` replaces the default ClusterInfo
    (an id asserted by the test) of some clusters, e.g. with an id that was only named."""
    spec = REGISTRY[check]
    facts = {}
    for cluster, objs in mesh.items():
        if NAMESPACE_PODS in objs:
            objs = {**namespace_pod_inputs(objs[NAMESPACE_PODS], objs, args or {}), **objs}
        for inp in spec.inputs:
            value = objs[inp] if inp in objs else \
                _target(objs, args or {}, empty) if inp is TARGET else _compacted(inp, objs, empty)
            facts[(cluster, inp)] = value if isinstance(value, Fact) else Fact(value)
    clusters = [(infos or {}).get(c) or ClusterInfo(c) for c in mesh]
    ctx = CheckContext(spec, facts, args or {}, clusters, now,
                       default_catalog(), focus or list(mesh))
    steps = spec.func(ctx)
    if render:
        for step in steps:
            for finding in step.findings:
                default_catalog().render(finding)
    return steps


def namespace_pod_inputs(pods: list[dict], objs: Mapping[Any, Any], args: dict
                         ) -> dict[Input, Any]:
    """What diagnostics/pods_fetch.py reads of a namespace holding `pods`: the role pods
    (every pod where ambient is used), the injected pods' names (by the injector's label) and
    the pods' networks, with the first unlabelled endpoint pod of each workload read."""
    from diagnostics import pods_fetch
    from diagnostics.views.ambient import AMBIENT, DATAPLANE_MODE, ambient_namespaces
    from diagnostics.views.mesh import NETWORK_LABEL
    from diagnostics.workloads import is_mesh_infrastructure, is_ztunnel, labels_of, name_of

    namespace = args.get("namespace") or "default"
    namespaces = objs.get(NAMESPACES)
    enrolled = any(labels_of(p).get(DATAPLANE_MODE) == AMBIENT for p in pods) or \
        namespace in ambient_namespaces(namespaces if isinstance(namespaces, list) else [])
    roles = list(pods) if enrolled else [p for p in pods if is_mesh_infrastructure(p)
                                         and not is_ztunnel(p)]
    injected = [name_of(p) for p in pods if TLS_MODE_LABEL in labels_of(p)]
    networks = {name_of(p): labels_of(p)[NETWORK_LABEL] for p in pods
                if NETWORK_LABEL in labels_of(p)}
    slices = objs.get(TARGET_ENDPOINTSLICES)
    behind = pods_fetch._service_pod_names(slices if isinstance(slices, list) else [],
                                           args.get("service"))
    read = set(pods_fetch._first_of_each(sorted(behind - set(networks) - {None})))
    return {TARGET_ROLE_PODS: roles, TARGET_INJECTED_NAMES: injected,
            TARGET_POD_NETWORKS: PodNetworks(
                networks, frozenset(injected) | {name_of(p) for p in roles
                                                 if is_mesh_infrastructure(p)
                                                 and not is_ztunnel(p)},
                {name_of(p): p for p in pods if name_of(p) in read})}


def _target(objs: Mapping[Input, Any], args: dict, empty: Callable[[Input], Any]) -> Any:
    """The TARGET a test's pods, Services, ReplicaSets and Deployments resolve to, as
    diagnostics/target_fetch.py target_query asks it (missing when the pods are)."""
    def value(inp: Input) -> Any:
        got = objs[inp] if inp in objs else empty(inp)
        if isinstance(got, Fact):
            return got if got.missing is not None else got.value
        return got

    pods = value(TARGET_PODS)
    if isinstance(pods, Fact):
        return pods
    rest = [value(i) for i in (TARGET_SERVICES, TARGET_REPLICASETS, TARGET_DEPLOYMENTS)]
    services, replicasets, deployments = (None if isinstance(v, Fact) else v for v in rest)
    return TargetQuery(args.get("kind", ""), args.get("name", ""),
                       args.get("namespace") or "default", pods, services or [],
                       replicasets or [], deployments)


def _compacted(inp: Input, objs: Mapping[Input, Any], empty: Callable[[Input], Any]) -> Any:
    """What a compacting istiod input (SYNCZ_CENSUS) holds when a test gives the input it
    derives from (SYNCZ), as IstiodDebug.fetch derives it; else `empty(inp)`."""
    if not isinstance(inp, IstiodDebug) or inp.derive_from is None:
        return empty(inp)
    whole = inp.derive_from
    value = objs[whole] if whole in objs else empty(whole)
    if isinstance(value, Fact):
        if value.missing is not None:
            return value
        value = value.value
    if not isinstance(value, PerReplica):
        return empty(inp)
    return inp.compacted(value)


def ids(steps: list[Step]) -> list[tuple[str, str | None]]:
    """(finding id, cluster) of every finding, sorted."""
    return sorted((f.id, f.cluster) for s in steps for f in s.findings)
