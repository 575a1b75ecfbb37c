"""Fetching the logs of the pods `check <kind>/<name>` targets (input TargetPodLogs).

The target is resolved (diagnostics/targets.py) from the pods, ReplicaSets, Deployments and
Services fetched anyway, then a bounded number of container logs is read: a few pods per
workload, only the containers a pitfall needs, only in examined clusters.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from diagnostics import targets
from diagnostics.facts import PodLogs
from diagnostics.inputs import (NAMESPACE_PODS, TARGET, TARGET_DEPLOYMENTS, TARGET_NS,
                                TARGET_PODS, TARGET_REPLICASETS, TARGET_SERVICES, Input,
                                Resources)
from diagnostics.selectors import labels_query, selector_query
from diagnostics.sources.base import SourceFailure
from diagnostics.workloads import name_of, namespace_of

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher


#: What a target's selector is when it selects no pod: a Service without one, a Deployment or
#: Service that does not exist.
_NO_POD = ""


async def target_pods(fetch: ClusterFetcher) -> list[dict]:
    """The pods the target may be resolved from (TARGET_PODS): `pod/<name>` by name, a
    Deployment's and a Service's by their selector (they are read first: a round more, the
    answer still waits for at most three), a namespace's from every pod's metadata and row
    (diagnostics/namespace_pods.py). Whatever could not be told (the Deployments or Services
    unreadable, a selector no query says) reads the namespace whole, as every kind did;
    targets.resolve picks the target's pods from what is read either way."""
    scope = fetch.scope
    if scope.kind == "pod" and scope.name:
        return await fetch.list("pods", scope.target_namespace, None,
                                field_selector=f"metadata.name={scope.name}")
    if scope.kind == "ns":
        return (await _namespace_pods(fetch)).pods
    selector = None
    if scope.kind == "deploy" and scope.name:
        selector = await _deployment_selector(fetch, scope.name)
    elif scope.kind == "svc" and scope.name:
        selector = await _service_selector(fetch, scope.name)
    if selector is None:
        return await fetch.need(NAMESPACE_PODS)
    return [] if selector == _NO_POD else await fetch.need(Resources("pods", TARGET_NS, selector))


async def _named(fetch: ClusterFetcher, objects: Input, name: str) -> tuple[bool, dict | None]:
    """Whether `objects` could be read, and the one named `name` in the command's namespace."""
    read = await fetch.optional(objects)
    namespace = fetch.scope.target_namespace
    return read is not None, next((o for o in read or () if name_of(o) == name
                                   and namespace_of(o) == namespace), None)


async def _deployment_selector(fetch: ClusterFetcher, name: str) -> str | None:
    read, dep = await _named(fetch, TARGET_DEPLOYMENTS, name)
    if dep is not None:
        return selector_query((dep.get("spec") or {}).get("selector"))
    if not read:
        return None
    # No such Deployment: its ReplicaSets, left behind, may still own pods (resolve finds them)
    replicasets = await fetch.optional(TARGET_REPLICASETS)
    if replicasets is None or any(targets.owner_of(rs) == ("Deployment", name)
                                  for rs in replicasets):
        return None
    return _NO_POD


async def _service_selector(fetch: ClusterFetcher, name: str) -> str | None:
    read, svc = await _named(fetch, TARGET_SERVICES, name)
    if not read:
        return None
    selector = ((svc or {}).get("spec") or {}).get("selector")
    if not selector:  # no such Service, or one without selector: it selects no pod
        return _NO_POD
    return labels_query(selector)


def _namespace_pods(fetch: ClusterFetcher) -> asyncio.Future:
    """The namespace's pods as `check ns/<namespace>` reads them, once per cluster."""
    from diagnostics.namespace_pods import namespace_pods

    return fetch.once("namespace-pods", lambda: namespace_pods(fetch))


async def target_pod_names(fetch: ClusterFetcher) -> list[str]:
    """TARGET_POD_NAMES: where `pod/<name>` is found in no cluster, its namespace's pod
    names in this one."""
    scope = fetch.scope
    if scope.kind != "pod" or not scope.name:
        return []
    found = await asyncio.gather(*(f.optional(TARGET_PODS) for f in [fetch, *fetch.peers]))
    if any(found):
        return []
    return await fetch.names("pods", scope.target_namespace, None)


async def target_query(fetch: ClusterFetcher) -> targets.TargetQuery:
    """The target's question in this cluster: its pods are required, the rest refines."""
    scope = fetch.scope
    pods = await fetch.need(TARGET_PODS)
    services, replicasets, deployments = await asyncio.gather(
        fetch.optional(TARGET_SERVICES), fetch.optional(TARGET_REPLICASETS),
        fetch.optional(TARGET_DEPLOYMENTS))
    stands_for = (await _namespace_pods(fetch)).stands_for if scope.kind == "ns" else {}
    return targets.TargetQuery(scope.kind or "", scope.name or "", scope.target_namespace,
                               pods, services or [], replicasets or [], deployments, stands_for)


async def target_logs(fetch: ClusterFetcher, tail: int) -> dict[str, PodLogs]:
    """Logs of the target's chosen pods, keyed by pod; a log that could not be read is said to
    be missing, a previous container's log gone with a second restart is simply absent."""
    scope = fetch.scope
    if not fetch.examined or not scope.kind or not scope.name:
        return {}
    query = await fetch.need(TARGET)

    def choose() -> tuple[list[dict], list[tuple[dict, str, bool]]]:
        chosen = targets.log_pods(query.target)
        return chosen, targets.log_reads(chosen)

    # off the event loop: the target is resolved and every pod of a namespace ranked (10,000:
    # about 0.15 s)
    chosen, wanted = await asyncio.to_thread(choose)

    async def one(pod: dict, container: str, previous: bool) -> str | SourceFailure:
        try:
            return await fetch.source.pod_log(fetch.info.key, namespace_of(pod), name_of(pod),
                                              container, tail, previous)
        except SourceFailure as exc:
            return exc

    texts = await asyncio.gather(*(one(*w) for w in wanted))
    out: dict[str, PodLogs] = {name_of(pod): PodLogs(pod) for pod in chosen}
    for (pod, container, previous), text in zip(wanted, texts):
        logs = out[name_of(pod)]
        if previous:
            if not isinstance(text, SourceFailure):  # gone with a second restart: fine
                logs.previous[container] = text
        elif isinstance(text, SourceFailure):
            logs.missing[container] = str(text)
        else:
            logs.logs[container] = text
    return out
