"""Fetching one cluster's inputs: each at most once, concurrently, following their dependencies.

Inputs fetch themselves (`Input.fetch`) through the few reads a ClusterFetcher offers: a list
of objects, a GET on every istiod replica, a container log of every replica, and the views of
the client or target the command examines (diagnostics/sidecar_fetch.py, target_fetch.py,
ztunnel_fetch.py). An input that needs another asks `need`, which starts it once, so a
diagnosis costs a fixed number of rounds of API latency whatever the number of pods.

`fetch_cluster` runs them under one deadline and turns every failure into a reason: a slow or
unreachable cluster becomes errors in the report, never a stalled answer.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from diagnostics import sidecar_fetch, target_fetch, ztunnel_fetch
from diagnostics.facts import ClientFact, Fact, PerReplica, PodLogs, Unavailable, ZtunnelFact
from diagnostics.inputs import ISTIOD_PODS, Input, Scope
from diagnostics.model import ClusterInfo, SourceError
from diagnostics.sources.base import (DebugRefused, NotCaptured, Source, SourceFailure,
                                      Withheld, reraise_unexpected)
from diagnostics.targets import TargetQuery


class ClusterFetcher:
    """Fetches the inputs of one cluster for one command (its `scope`). `examined` says whether
    this cluster's view is examined, which decides whether its client and target are read;
    `peers` are the other clusters' fetchers (a remote cluster's proxies are configured by
    their istiod)."""

    def __init__(self, source: Source, info: ClusterInfo, scope: Scope, examined: bool):
        self.source, self.info, self.scope, self.examined = source, info, scope, examined
        self.tasks: dict[Input, asyncio.Task] = {}
        self.views: dict[str, asyncio.Future] = {}
        self.peers: list[ClusterFetcher] = []
        # What the command reads here (set by fetch_cluster): an input another one already
        # holds (a metadata list of a list read whole) is derived from it, not asked again.
        self.wanted: frozenset[Input] = frozenset()

    def need(self, inp: Input) -> asyncio.Task:
        """The input's fetch, started on first need and shared by every later one."""
        if inp not in self.tasks:
            self.tasks[inp] = asyncio.ensure_future(inp.fetch(self))
        return self.tasks[inp]

    def once(self, key: str, make: Callable[[], Awaitable[Any]]) -> asyncio.Future:
        """A view several inputs derive from what they fetched (the examined client), made on
        first ask and shared by every later one, as `need` shares inputs."""
        if key not in self.views:
            self.views[key] = asyncio.ensure_future(make())
        return self.views[key]

    async def optional(self, inp: Input) -> Any:
        """The input, or None when it could not be read: for what only refines a choice."""
        try:
            return await self.need(inp)
        except SourceFailure:
            return None

    async def list(self, resource: str, namespace: str | None, label_selector: str | None,
                   metadata_only: bool = False, field_selector: str | None = None
                   ) -> list[dict]:
        if metadata_only:
            return await self.source.list(self.info.key, resource, namespace, label_selector,
                                          metadata_only=True, field_selector=field_selector)
        if field_selector:
            return await self.source.list(self.info.key, resource, namespace, label_selector,
                                          field_selector=field_selector)
        return await self.source.list(self.info.key, resource, namespace, label_selector)

    async def rows(self, resource: str, namespace: str | None,
                   label_selector: str | None = None) -> list[dict]:
        return await self.source.rows(self.info.key, resource, namespace, label_selector)

    async def names(self, resource: str, namespace: str | None, label_selector: str | None
                    ) -> list[str]:
        return await self.source.names(self.info.key, resource, namespace, label_selector)

    async def replicas(self) -> list[str]:
        """This cluster's istiod replicas, as the source addresses them."""
        return self.source.istiod_targets(self.info.key, await self.need(ISTIOD_PODS))

    async def each_replica(self, path: str, compact: Callable[[Any], list] | None = None
                           ) -> PerReplica:
        """GET `path` on istiod's debug port of every replica (each knows its own proxies),
        each body compacted as it is decoded when `compact` is given."""
        return await self._per_replica(
            lambda target: self.source.istiod_get(self.info.key, target, path, compact))

    async def replica_logs(self, container: str, tail: int) -> PerReplica:
        """The last `tail` lines of `container` in every istiod replica."""
        return await self._per_replica(lambda target: self.source.pod_log(
            self.info.key, self.info.istio_namespace, target, container, tail))

    async def _per_replica(self, get: Callable[[str], Awaitable[Any]]) -> PerReplica:
        targets = await self.replicas()
        results = await asyncio.gather(*(get(t) for t in targets), return_exceptions=True)
        out = PerReplica()
        for target, result in zip(targets, results):
            if isinstance(result, BaseException):
                reraise_unexpected(result)
                out.missing[target] = str(result)
                if isinstance(result, DebugRefused):
                    out.refused[target] = result.status
            else:
                out.values[target] = result
        if targets and not out.values:
            # Every replica failed the same way: the input as a whole is missing.
            first = results[0]
            raise first if isinstance(first, BaseException) else SourceFailure("no replica")
        return out

    async def client_config_dumps(self) -> dict[str, ClientFact]:
        return await sidecar_fetch.client_config_dumps(self)

    async def client_logs(self, tail: int) -> dict[str, ClientFact]:
        return await sidecar_fetch.client_logs(self, tail)

    async def target_logs(self, tail: int) -> dict[str, PodLogs]:
        return await target_fetch.target_logs(self, tail)

    async def target_query(self) -> TargetQuery:
        return await target_fetch.target_query(self)

    async def client_ztunnel_dump(self) -> dict[str, ZtunnelFact]:
        return await ztunnel_fetch.client_ztunnel_dump(self)

    async def client_ztunnel_log(self, tail: int) -> dict[str, ZtunnelFact]:
        return await ztunnel_fetch.client_ztunnel_log(self, tail)


async def fetch_cluster(fetch: ClusterFetcher, inputs: list[Input], timeout: float,
                        counted: set[Input] | None = None
                        ) -> tuple[dict[Input, Fact], list[SourceError]]:
    """Fetch a cluster's inputs under one deadline; every input ends as a value or a reason.
    Only failures of `counted` inputs (default: all) are reported as errors."""
    fetch.wanted = frozenset(inputs).union(*(i.lists_read(fetch.scope) for i in inputs))
    tasks = {inp: fetch.need(inp) for inp in inputs}
    try:
        if tasks:
            await asyncio.wait(list(tasks.values()), timeout=timeout)
        return _collect(fetch.info, fetch.scope, tasks, timeout, counted)
    finally:
        for task in fetch.tasks.values():
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: a bug is raised once, not also logged by asyncio
        for view in fetch.views.values():
            if not view.done():
                view.cancel()
            elif not view.cancelled():
                view.exception()


def _collect(info: ClusterInfo, scope: Scope, tasks: dict[Input, asyncio.Task], timeout: float,
             counted: set[Input] | None = None
             ) -> tuple[dict[Input, Fact], list[SourceError]]:
    facts: dict[Input, Fact] = {}
    errors: dict[str, SourceError] = {}  # one line per distinct reason
    for inp, task in tasks.items():
        refused = None
        if not task.done():
            reason, src, captured = f"timed out after {timeout:g}s", inp.side, True
        elif isinstance(task.exception(), SourceFailure):
            exc = task.exception()
            reason, src = str(exc), exc.source
            captured = not isinstance(exc, NotCaptured)
            refused = exc.status if isinstance(exc, DebugRefused) else None
        elif task.exception() is not None:
            raise task.exception()  # a programming error, not a cluster problem
        else:
            facts[inp] = Fact(task.result())
            continue
        withheld = isinstance(task.exception(), Withheld) if task.done() else False
        facts[inp] = Fact(missing=Unavailable(info.name, inp.describe_in(scope), reason,
                                              captured, withheld=withheld, refused=refused))
        if captured and (counted is None or inp in counted):
            errors.setdefault(reason, SourceError(info.name, src, reason))
    return facts, list(errors.values())
