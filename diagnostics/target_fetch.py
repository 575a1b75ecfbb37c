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
from diagnostics.inputs import TARGET_DEPLOYMENTS, TARGET_PODS, TARGET_REPLICASETS, TARGET_SERVICES
from diagnostics.sources.base import SourceFailure
from diagnostics.workloads import name_of, namespace_of

if TYPE_CHECKING:
    from diagnostics.fetching import ClusterFetcher


async def target_logs(fetch: ClusterFetcher, tail: int) -> dict[str, PodLogs]:
    """Logs of the target's chosen pods, keyed by pod; a log that could not be read is said to
    be missing, a previous container's log gone with a second restart is simply absent."""
    scope = fetch.scope
    if not fetch.examined or not scope.kind or not scope.name:
        return {}
    pods = await fetch.need(TARGET_PODS)
    services, replicasets, deployments = await asyncio.gather(
        fetch.optional(TARGET_SERVICES), fetch.optional(TARGET_REPLICASETS),
        fetch.optional(TARGET_DEPLOYMENTS))

    def choose() -> tuple[list[dict], list[tuple[dict, str, bool]]]:
        target = targets.resolve(scope.kind, scope.name, scope.target_namespace, pods=pods,
                                 services=services or [], replicasets=replicasets or [],
                                 deployments=deployments)
        chosen = targets.log_pods(target)
        return chosen, targets.log_reads(chosen)

    # off the event loop: every pod of a namespace is ranked (10,000: half a second)
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
