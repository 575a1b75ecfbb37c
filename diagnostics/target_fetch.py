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
from diagnostics.inputs import (TARGET, TARGET_DEPLOYMENTS, TARGET_PODS, TARGET_REPLICASETS,
                                TARGET_SERVICES)
from diagnostics.sources.base import SourceFailure
from diagnostics.workloads import name_of, namespace_of

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher


async def target_query(fetch: ClusterFetcher) -> targets.TargetQuery:
    """The target's question in this cluster: its pods are required, the rest refines."""
    scope = fetch.scope
    pods = await fetch.need(TARGET_PODS)
    services, replicasets, deployments = await asyncio.gather(
        fetch.optional(TARGET_SERVICES), fetch.optional(TARGET_REPLICASETS),
        fetch.optional(TARGET_DEPLOYMENTS))
    return targets.TargetQuery(scope.kind or "", scope.name or "", scope.target_namespace,
                               pods, services or [], replicasets or [], deployments)


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
