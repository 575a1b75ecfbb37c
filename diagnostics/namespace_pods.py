"""`check ns/<namespace>`: every pod's metadata and its `kubectl get pods` row, and whole only
the pods examined.

A namespace of 10,000 injected pods is 159 MB of JSON a cluster read whole: 85 MB of it the
managedFields no check reads, most of the rest the same spec and status ten thousand times, as
a workload's replicas run one template and a healthy replica's status says what its siblings'
say. The API server prints each pod's row as kubectl shows it (a Table; kubernetes
pkg/printers/internalversion/printers.go printPod: READY, STATUS, RESTARTS, READINESS GATES), a
hundred bytes a pod; with the pods' metadata (a metadata-only list) that tells which are alike:

- a pod is *settled* when its row says Running, every container ready, no restart and every
  readiness gate passed (or none), and its metadata no deletion: its status then says nothing
  a settled sibling's does not (no container waits or failed, every init container exited 0);
- settled pods with the same labels, annotations and owners (a workload's replicas of one
  template, injected alike) and the same row are a *class*; its oldest and its newest pod are
  read whole and stand for the rest. An injection template changed between them shows as
  containers that differ, and so does a status the row does not tell: then the namespace is
  read whole;
- every other pod is read whole.

Where that is more than WHOLE_READS pods, where the namespace or any pod of it is enrolled in
ambient (each pod's node decides its capture), or where the rows cannot be read as printPod
prints them, the namespace is read whole, as it always was. The checks count a pod that stands
for others as that many (targets.Workload.count).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable

import msgspec

from diagnostics.inputs import NAMESPACE_POD_META, NAMESPACE_PODS, NAMESPACES
from diagnostics.sources.base import SourceFailure
from diagnostics.targets import pod_state
from diagnostics.views.ambient import ambient_namespaces, captured, enrolled_in
from diagnostics.workloads import name_of

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher

#: More pods than this to read whole (not settled, or a class's two), and the namespace is
#: read whole: one request instead of that many.
WHOLE_READS = 24
#: The columns of printPod's Table a pod is judged settled by.
COLUMNS = ("Name", "Ready", "Status", "Restarts", "Readiness Gates")


@dataclass
class NamespacePods:
    """The pods of the namespace read whole, and how many pods each stands for where that is
    more than itself (by name)."""

    pods: list[dict]
    stands_for: dict[str, int] = field(default_factory=dict)


@dataclass
class Plan:
    """Which pods to read whole: `single` for themselves, and of each class its oldest and its
    newest (`classes`: the pair, and how many pods the class holds)."""

    single: list[str]
    classes: list[tuple[str, str, int]]

    @property
    def names(self) -> list[str]:
        pairs = [n for first, last, _ in self.classes for n in {first: 0, last: 0}]
        return self.single + pairs


async def namespace_pods(fetch: ClusterFetcher) -> NamespacePods:
    """The namespace's pods as `check ns/<namespace>` examines them (module docstring)."""
    namespace = fetch.scope.target_namespace
    namespaces, meta, rows = await asyncio.gather(
        fetch.optional(NAMESPACES), fetch.need(NAMESPACE_POD_META), _rows(fetch, namespace))
    ambient = ambient_namespaces(namespaces or [])
    plan = plan_reads(meta, rows, ambient) if rows is not None and namespace not in ambient \
        else None
    read = await _by_name(fetch, namespace, plan.names) if plan else {}
    stands_for = _stands_for(plan, read) if plan else None
    if plan is None or stands_for is None:  # the namespace whole, as it always was read
        return NamespacePods(await fetch.need(NAMESPACE_PODS))
    return NamespacePods([read[n] for n in plan.names if n in read], stands_for)


async def _rows(fetch: ClusterFetcher, namespace: str) -> list[dict] | None:
    try:
        return await fetch.rows("pods", namespace)
    except SourceFailure:  # a server that prints no Table of pods: the namespace, whole
        return None


async def _by_name(fetch: ClusterFetcher, namespace: str, names: list[str]) -> dict[str, dict]:
    found = await asyncio.gather(*(fetch.list("pods", namespace, None,
                                              field_selector=f"metadata.name={n}")
                                   for n in names))
    return {name_of(p): p for pods in found for p in pods}


def plan_reads(meta: list[dict], rows: list[dict], ambient: set[str]) -> Plan | None:
    """Which pods to read whole, from each pod's metadata and row; None: read the namespace
    whole (a pod enrolled in ambient, rows without printPod's columns, too many to read)."""
    if rows and not all(c in rows[0] for c in COLUMNS):
        return None
    by_name = {row.get("Name"): row for row in rows}
    frozen: dict[int, Hashable] = {}
    classes: dict[tuple, list[dict]] = {}
    single = []
    for pod in meta:
        if captured(pod) or enrolled_in(pod, ambient):
            return None
        row = by_name.get(name_of(pod))
        if row is None or not _settled(pod, row):
            single.append(name_of(pod))
            continue
        metadata = pod.get("metadata") or {}
        key = (*(_frozen(metadata.get(k), frozen) for k in ("labels", "annotations",
                                                            "ownerReferences")),
               str(row.get("Ready")), str(row.get("Readiness Gates")))
        classes.setdefault(key, []).append(pod)
    plan = Plan(single, [_ends(pods) for pods in classes.values()])
    return plan if len(plan.names) <= WHOLE_READS else None


def _settled(pod: dict, row: dict) -> bool:
    """A pod whose row says Running, all containers ready, no restart, its readiness gates
    passed (printPod: `<none>` without gates), and that is not being deleted."""
    ready, _, total = str(row.get("Ready")).partition("/")
    gates, _, of = str(row.get("Readiness Gates")).partition("/")
    return (row.get("Status") == "Running" and ready == total and ready not in ("", "0")
            and str(row.get("Restarts")) == "0"
            and (row.get("Readiness Gates") == "<none>" or (bool(of) and gates == of))
            and not (pod.get("metadata") or {}).get("deletionTimestamp"))


def _frozen(value: Any, seen: dict[int, Hashable]) -> Hashable:
    """A value's canonical JSON, made once per object: a workload's replicas share theirs when
    decoded from one list (parse/k8s_lists.py ALIKE)."""
    key = seen.get(id(value))
    if key is None:
        key = seen[id(value)] = msgspec.json.encode(value, order="sorted")
    return key


def _ends(pods: list[dict]) -> tuple[str, str, int]:
    """A class's oldest and newest pod (by creation, then name), and its size."""
    def created(pod: dict) -> tuple[str, str]:
        return str((pod.get("metadata") or {}).get("creationTimestamp") or ""), name_of(pod)

    return name_of(min(pods, key=created)), name_of(max(pods, key=created)), len(pods)


def _stands_for(plan: Plan, read: dict[str, dict]) -> dict[str, int] | None:
    """How many pods each class's oldest stands for, its newest counting for itself; None where
    a class's two were not both read, or differ in their containers or in what the checks ask
    of their status (targets.PodState)."""
    out = {}
    for first, last, size in plan.classes:
        a, b = read.get(first), read.get(last)
        if a is None or b is None or not _alike(a, b):
            return None
        out[first] = size - (first != last)
    return out


def _alike(a: dict, b: dict) -> bool:
    spec_a, spec_b = a.get("spec") or {}, b.get("spec") or {}
    return all(spec_a.get(k) == spec_b.get(k) for k in ("containers", "initContainers")) \
        and pod_state(a) == pod_state(b)
