"""Run a plan: fetch every declared input once per cluster, concurrently, then run the checks.

Fetching is a small dependency graph per cluster (istiod debug endpoints need the istiod pods;
a client's config_dump needs the pods of the namespace), so a diagnosis costs a fixed number of
rounds of API latency, whatever the number of pods. Each cluster has its own deadline: a slow or
unreachable cluster turns into errors in the report, never into a stalled answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, TypeVar

from diagnostics import identity, targets, ztunnel_fetch
from diagnostics.catalog import Catalog, default_catalog
from diagnostics.checking import CheckContext, CheckSpec
from diagnostics.facts import ClientFact, Fact, PerReplica, PodLogs, Unavailable
from diagnostics.gcpause import thaw
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, ClientConfigDumps, ClientProxyLogs,
                                ClientZtunnelDumps, ClientZtunnelLogs,
                                ISTIOD_PODS, Input, IstiodDebug, IstiodLogs, IstiodMetrics,
                                Resources, SERVICES, TARGET_DEPLOYMENTS, TARGET_PODS,
                                TARGET_REPLICASETS, TARGET_SERVICES, TargetPodLogs)
from diagnostics.model import ClusterInfo, ClusterStatus, Report, SourceError, Step
from diagnostics.sources.base import (DebugRefused, METRICS_PATH, NotCaptured, Source,
                                      SourceFailure, Withheld)
from diagnostics.sources.metering import counting
from diagnostics.verdict import conclude
from diagnostics.workloads import Candidate, client_candidates, name_of

DEFAULT_CLUSTER_TIMEOUT = 10.0
# Where a client's config came from when it is the proxy's own, not istiod's (ClientFact.replica).
OWN_CONFIG_DUMP = "the proxy's own Envoy admin config_dump"


class UnknownCluster(Exception):
    """`--cluster` named a cluster that is none of those read (by id, source name or context)."""


@dataclass
class Plan:
    """What to run: a command's checks in step order, for some clusters, with its arguments."""

    command: str
    args: dict[str, Any]
    checks: list[CheckSpec]
    clusters: list[str] | None = None  # clusters to read; None: every cluster of the source
    focus: list[str] | None = None  # clusters whose view is examined; None: all that are read

    def inputs(self) -> list[Input]:
        seen: dict[Input, None] = {}
        for spec in self.checks:
            for inp in spec.inputs:
                seen.setdefault(inp)
        return list(seen)


class _ClusterFetch:
    """Fetches the inputs of one cluster, each at most once, following their dependencies."""

    def __init__(self, source: Source, info: ClusterInfo, args: dict[str, Any], examined: bool):
        self.source, self.info, self.args, self.examined = source, info, args, examined
        self.tasks: dict[Input, asyncio.Task] = {}
        self.peers: list[_ClusterFetch] = []  # the other clusters' fetchers

    def need(self, inp: Input) -> asyncio.Task:
        if inp not in self.tasks:
            self.tasks[inp] = asyncio.ensure_future(self._fetch(inp))
        return self.tasks[inp]

    async def _fetch(self, inp: Input) -> Any:
        if isinstance(inp, Resources):
            ns = inp.resolve_namespace(self.info.istio_namespace, self.args.get("namespace"))
            if inp.metadata_only:
                return await self.source.list(self.info.key, inp.resource, ns,
                                              inp.label_selector, metadata_only=True)
            return await self.source.list(self.info.key, inp.resource, ns, inp.label_selector)
        if isinstance(inp, IstiodDebug):
            return await self._per_replica(lambda t: self.source.istiod_get(
                self.info.key, t, f"/debug/{inp.endpoint}"))
        if isinstance(inp, IstiodMetrics):
            return await self._per_replica(lambda t: self.source.istiod_get(
                self.info.key, t, METRICS_PATH))
        if isinstance(inp, IstiodLogs):
            return await self._per_replica(lambda t: self.source.pod_log(
                self.info.key, self.info.istio_namespace, t, "discovery", inp.tail_lines))
        if isinstance(inp, ClientConfigDumps):
            return await self._client_config_dumps()
        if isinstance(inp, ClientProxyLogs):
            return await self._client_logs(inp.tail_lines)
        if isinstance(inp, TargetPodLogs):
            return await self._target_logs(inp.tail_lines)
        if isinstance(inp, (ClientZtunnelDumps, ClientZtunnelLogs)):
            return await ztunnel_fetch.client_ztunnel(self, inp)
        raise TypeError(f"no fetcher for input {inp!r}")

    async def _replicas(self) -> list[str]:
        pods = await self.need(ISTIOD_PODS)
        return self.source.istiod_targets(self.info.key, pods)

    async def _per_replica(self, get) -> PerReplica:
        targets = await self._replicas()
        results = await asyncio.gather(*(get(t) for t in targets), return_exceptions=True)
        out = PerReplica()
        for target, result in zip(targets, results):
            if isinstance(result, BaseException):
                _reraise_unexpected(result)
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

    async def _clients(self) -> tuple[list[Candidate], str]:
        """The client pods to examine here, best first, or why there is none."""
        if not self.examined:
            return [], "not examined"
        pods = await self.need(TARGET_PODS)
        try:
            services = await self.need(SERVICES)
        except SourceFailure:
            services = []
        return client_candidates(pods, services, service=self.args.get("service"),
                                 namespace=self.args.get("namespace") or "default",
                                 from_pod=self.args.get("from"))

    async def _client_config_dumps(self) -> dict[str, ClientFact]:
        """istiod's view of one client: the first candidate's, or, when istiod cannot give it,
        the next candidates' (asked together, so a fallback costs one round, not several)."""
        candidates, why_none = await self._clients()
        if not candidates:
            return {}
        targets = await self._config_targets()
        first = await self._config_dump(candidates[0], targets)
        facts = [first]
        if first.missing and len(candidates) > 1:
            facts += await asyncio.gather(*(self._config_dump(c, targets)
                                            for c in candidates[1:]))
        chosen = next((f for f in facts if not f.missing), first)
        chosen.tried = [f"{name_of(f.pod)}: {f.missing}" for f in facts
                        if f is not chosen and f.missing]
        return {name_of(chosen.pod): chosen}

    async def _config_targets(self) -> list[tuple[str, str]]:
        """The istiod replicas that may configure this cluster's proxies: its own, or, for a
        remote cluster without istiod (primary-remote), every other cluster's."""
        own = await self._replicas()
        if own:
            return [(self.info.key, r) for r in own]
        found = await asyncio.gather(*(p._replicas() for p in self.peers), return_exceptions=True)
        targets = []
        for peer, replicas in zip(self.peers, found):
            if isinstance(replicas, BaseException):
                _reraise_unexpected(replicas)
                continue
            targets += [(peer.info.key, r) for r in replicas]
        return targets

    async def _config_dump(self, client: Candidate, targets: list[tuple[str, str]]
                           ) -> ClientFact:
        pod = client.pod
        proxy_id = f"{name_of(pod)}.{pod['metadata'].get('namespace', '')}"
        path = f"/debug/config_dump?proxyID={proxy_id}&include_eds"
        results = await asyncio.gather(
            *(self.source.istiod_get(cluster, replica, path) for cluster, replica in targets),
            return_exceptions=True)
        reasons = []
        for (cluster, replica), result in zip(targets, results):
            label = replica if cluster == self.info.key else f"{replica} in {cluster}"
            if not isinstance(result, BaseException):
                return ClientFact(pod, result, label, why=client.why)
            _reraise_unexpected(result)
            # a 404 (or a file a snapshot lacks) means the same thing whatever the source
            reasons.append(f"{label}: no config for this proxy" if isinstance(result, NotCaptured)
                           else f"{label}: {result}")
        if all(isinstance(r, NotCaptured) for r in results):
            own = await self._own_config_dump(pod)
            if own is not None:
                return ClientFact(pod, own, OWN_CONFIG_DUMP, why=client.why)
        why = "; ".join(reasons) or "no running istiod replica configures this cluster"
        return ClientFact(pod, missing=why, why=client.why)

    async def _own_config_dump(self, pod: dict) -> Any:
        """The proxy's own Envoy config dump, where a source has it and istiod's view of the
        proxy was not captured (an istioctl bug-report holds each proxy's own dump only)."""
        read = getattr(self.source, "proxy_config_dump", None)
        if read is None:
            return None
        try:
            return await read(self.info.key, pod["metadata"].get("namespace", ""), name_of(pod))
        except NotCaptured:
            return None

    async def _client_logs(self, tail: int) -> dict[str, ClientFact]:
        """The access log of the client whose config is examined. The first candidate's log is
        read alongside its config; only when istiod's view came from another client is that
        client's log read after it."""
        candidates, _ = await self._clients()
        if not candidates:
            return {}

        async def log_of(pod: dict) -> ClientFact:
            try:
                text = await self.source.pod_log(self.info.key, pod["metadata"]["namespace"],
                                                 name_of(pod), "istio-proxy", tail)
                return ClientFact(pod, text)
            except SourceFailure as exc:
                return ClientFact(pod, missing=str(exc))

        first = asyncio.ensure_future(log_of(candidates[0].pod))
        try:
            dumps = await self.need(CLIENT_CONFIG_DUMPS)
        except SourceFailure:
            dumps = {}
        chosen = next(iter(dumps.values())).pod if dumps else candidates[0].pod
        if name_of(chosen) == name_of(candidates[0].pod):
            fact = await first
        else:
            first.cancel()
            fact = await log_of(chosen)
        return {name_of(fact.pod): fact}

    async def _target_logs(self, tail: int) -> dict[str, PodLogs]:
        """Logs of the pods `check <kind>/<name>` targets, as diagnostics/targets.py picks them."""
        kind, name = self.args.get("kind"), self.args.get("name")
        if not self.examined or not kind or not name:
            return {}

        async def optional(inp: Input) -> list[dict] | None:
            try:
                return await self.need(inp)
            except SourceFailure:
                return None

        pods = await self.need(TARGET_PODS)
        services, replicasets, deployments = await asyncio.gather(
            optional(TARGET_SERVICES), optional(TARGET_REPLICASETS),
            optional(TARGET_DEPLOYMENTS))
        target = targets.resolve(kind, name, self.args.get("namespace") or "default", pods=pods,
                                 services=services or [], replicasets=replicasets or [],
                                 deployments=deployments)
        chosen = targets.log_pods(target)
        wanted = targets.log_reads(chosen)

        async def one(pod: dict, container: str, previous: bool) -> str | SourceFailure:
            try:
                return await self.source.pod_log(self.info.key, pod["metadata"]["namespace"],
                                                 name_of(pod), container, tail, previous)
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


def _reraise_unexpected(exc: BaseException) -> None:
    """Only source failures become 'missing'; a bug must surface as a bug."""
    if not isinstance(exc, SourceFailure):
        raise exc


async def fetch_cluster(fetch: _ClusterFetch, inputs: list[Input], timeout: float,
                        counted: set[Input] | None = None
                        ) -> tuple[dict[Input, Fact], list[SourceError]]:
    """Fetch a cluster's inputs under one deadline; every input ends as a value or a reason.
    Only failures of `counted` inputs (default: all) are reported as errors."""
    tasks = {inp: fetch.need(inp) for inp in inputs}
    try:
        if tasks:
            await asyncio.wait(list(tasks.values()), timeout=timeout)
        return _collect(fetch.info, tasks, timeout, counted, fetch.args.get("namespace"))
    finally:
        for task in fetch.tasks.values():
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: a bug is raised once, not also logged by asyncio


def _collect(info: ClusterInfo, tasks: dict[Input, asyncio.Task], timeout: float,
             counted: set[Input] | None = None, namespace: str | None = None
             ) -> tuple[dict[Input, Fact], list[SourceError]]:
    facts: dict[Input, Fact] = {}
    errors: dict[str, SourceError] = {}  # one line per distinct reason
    for inp, task in tasks.items():
        refused = None
        if not task.done():
            reason, src, captured = f"timed out after {timeout:g}s", _side(inp), True
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
        what = inp.describe_in(info.istio_namespace, namespace)
        facts[inp] = Fact(missing=Unavailable(info.name, what, reason, captured,
                                              withheld=withheld, refused=refused))
        if captured and (counted is None or inp in counted):
            errors.setdefault(reason, SourceError(info.name, src, reason))
    return facts, list(errors.values())


def _side(inp: Input) -> str:
    return "istiod" if isinstance(inp, (IstiodDebug, IstiodMetrics, ClientConfigDumps)) \
        else "kubernetes"


def _reachable(facts: dict[Input, Fact]) -> bool:
    """A cluster is reachable when at least one Kubernetes read succeeded or was merely absent."""
    k8s = [f for inp, f in facts.items() if isinstance(inp, Resources)]
    if not k8s:
        return True
    return any(f.missing is None or not f.missing.captured for f in k8s)


def run_checks(plan: Plan, facts: dict[tuple[str, Input], Fact], clusters: list[ClusterInfo],
               catalog: Catalog, now: datetime, focus: list[str] | None = None
               ) -> tuple[list[Step], dict[str, set[Input]]]:
    """Run the plan's checks in order; returns their steps and what each one read."""
    steps: list[Step] = []
    reads: dict[str, set[Input]] = {}
    if focus is None:
        focus = [c.name for c in clusters if not plan.focus or c.name in plan.focus]
    shared: dict = {}
    for spec in plan.checks:
        ctx = CheckContext(spec, facts, plan.args, clusters, now, catalog, focus, shared=shared)
        steps.extend(ctx.settle(spec.func(ctx)))
        reads[spec.name] = ctx.reads
    return steps, reads


ReadsObserver = Callable[[dict[str, set[Input]]], None]
T = TypeVar("T")


async def _timed(coro: Awaitable[T]) -> tuple[T, float]:
    """The result and how long it took (per-cluster read time, a metric of the bot)."""
    started = time.perf_counter()
    result = await coro
    return result, time.perf_counter() - started


def _matches(info: ClusterInfo, name: str) -> bool:
    """`--cluster` may name a cluster by its Istio id, the source's name or its context."""
    return name in (info.name, info.key, info.context)


def _preselect(infos: list[ClusterInfo], names: list[str] | None) -> list[ClusterInfo]:
    """The clusters to read: those `names` pick before their ids are known, or every cluster
    when a name may be an id that only discovery reveals."""
    if not names:
        return infos
    picked = [i for i in infos if any(_matches(i, n) for n in names)]
    if all(any(_matches(i, n) for i in picked) for n in names):
        return picked
    return infos


def _select(infos: list[ClusterInfo], names: list[str] | None) -> list[ClusterInfo]:
    """The resolved clusters `names` pick; a name that picks none is the asker's mistake."""
    if not names:
        return infos
    unknown = [n for n in names if not any(_matches(i, n) for i in infos)]
    if unknown:
        known = ", ".join(i.label for i in infos) or "none"
        raise UnknownCluster(f"unknown cluster {', '.join(unknown)}; the clusters read are: "
                             f"{known}")
    return [i for i in infos if any(_matches(i, n) for n in names)]


def _rename_facts(cluster_facts: dict[Input, Fact], name: str) -> dict[Input, Fact]:
    out = {}
    for inp, fact in cluster_facts.items():
        if fact.missing is not None and fact.missing.cluster != name:
            m = fact.missing
            fact = Fact(missing=Unavailable(name, m.what, m.reason, m.captured,
                                            withheld=m.withheld, refused=m.refused))
        out[inp] = fact
    return out


async def diagnose(plan: Plan, source: Source, *, catalog: Catalog | None = None,
                   timeout: float = DEFAULT_CLUSTER_TIMEOUT, now: datetime | None = None,
                   observe_reads: ReadsObserver | None = None) -> Report:
    """Answer one command: fetch, learn each cluster's id, check, conclude. Never raises for a
    cluster's failure; raises UnknownCluster when `--cluster` names none of the clusters read.

    `observe_reads` receives what each check read (the meta-tests keep declarations honest).
    """
    try:
        return await _diagnose(plan, source, catalog=catalog, timeout=timeout, now=now,
                               observe_reads=observe_reads)
    finally:
        thaw()  # the facts are released: what decoding froze is the collector's again


async def _diagnose(plan: Plan, source: Source, *, catalog: Catalog | None,
                    timeout: float, now: datetime | None,
                    observe_reads: ReadsObserver | None) -> Report:
    catalog = catalog or default_catalog()
    started = time.perf_counter()
    infos = _preselect(source.cluster_infos(), plan.clusters)
    wanted = plan.inputs()
    inputs = list(dict.fromkeys([*identity.IDENTITY_INPUTS, *wanted]))
    # Whose view is examined decides which clients are fetched; an id not yet known examines all.
    examined = _preselect(infos, plan.focus)
    fetchers = [_ClusterFetch(source, info, plan.args, info in examined) for info in infos]
    for fetch in fetchers:
        fetch.peers = [p for p in fetchers if p is not fetch]
    with counting() as counter:
        timed = await asyncio.gather(*(_timed(fetch_cluster(f, inputs, timeout, set(wanted)))
                                       for f in fetchers))
    fetched = [result for result, _ in timed]
    seconds = {info.key: spent for info, (_, spent) in zip(infos, timed)}
    found = {info.key: identity.discover(cf) for info, (cf, _) in zip(infos, fetched)}
    resolved = identity.resolve(infos, found)
    read = _select(resolved, plan.clusters)
    focus = [c.name for c in _select(read, plan.focus)]
    facts: dict[tuple[str, Input], Fact] = {}
    errors: list[SourceError] = []
    statuses = []
    by_key = {info.key: (cf, ce) for info, (cf, ce) in zip(infos, fetched)}
    for info in read:
        cluster_facts, cluster_errors = by_key[info.key]
        facts.update({(info.name, inp): f for inp, f in
                      _rename_facts(cluster_facts, info.name).items()})
        errors.extend(SourceError(info.name, e.source, e.message) for e in cluster_errors)
        statuses.append(ClusterStatus(info.name, _reachable(cluster_facts), info.context,
                                      info.id_origin, info.carried_id))
    now = now or datetime.now(timezone.utc)
    # Checks are pure CPU over the facts: on a large mesh they take a second. Off the event
    # loop, the bot keeps acknowledging Slack meanwhile (the GIL switches every few ms).
    steps, reads = await asyncio.to_thread(run_checks, plan, facts, read, catalog, now, focus)
    if observe_reads:
        observe_reads(reads)
    conclusion = conclude(steps, statuses, errors, catalog)
    names = {i.key: i.name for i in resolved}
    return Report(
        command=plan.command, args=plan.args, verdict=conclusion.verdict,
        summary=conclusion.summary, clusters=statuses, steps=steps,
        findings=conclusion.findings, errors=errors,
        duration_ms=(time.perf_counter() - started) * 1000,
        api_calls=counter.calls, cached=False,
        calls_by_cluster={names.get(k, k): n for k, n in counter.by_cluster.items()},
        read_seconds_by_cluster={i.name: seconds[i.key] for i in read},
        generated_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), step_refs=conclusion.step_refs,
    )
