"""Run a plan: fetch every declared input once per cluster, concurrently, then run the checks.

Fetching (diagnostics/fetching.py) is a small dependency graph per cluster (istiod debug
endpoints need the istiod pods; a client's config_dump needs the pods of the namespace), so a
diagnosis costs a fixed number of rounds of API latency, whatever the number of pods. Each
cluster has its own deadline: a slow or unreachable cluster turns into errors in the report,
never into a stalled answer. Then each cluster's id is learnt from what was read
(diagnostics/identity.py), the checks run over the facts, and the verdict is concluded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, TypeVar

from diagnostics import identity
from diagnostics.catalog import Catalog, default_catalog
from diagnostics.checking import CheckContext, CheckSpec
from diagnostics.facts import Fact, Unavailable
from diagnostics.fetching import ClusterFetcher, fetch_cluster
from diagnostics.gcpause import thaw
from diagnostics.inputs import Input, Resources, Scope
from diagnostics.model import ClusterInfo, ClusterStatus, Report, SourceError, Step
from diagnostics.sources.base import Source
from diagnostics.sources.metering import counting
from diagnostics.verdict import conclude

DEFAULT_CLUSTER_TIMEOUT = 10.0


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
    fetchers = [ClusterFetcher(source, info, Scope.of(info.istio_namespace, plan.args),
                               info in examined) for info in infos]
    for fetch in fetchers:
        fetch.peers = [p for p in fetchers if p is not fetch]
    with counting() as counter:
        timed = await asyncio.gather(*(_timed(fetch_cluster(f, inputs, timeout, set(wanted)))
                                       for f in fetchers))
    fetched = [result for result, _ in timed]
    seconds = {info.key: spent for info, (_, spent) in zip(infos, timed)}
    # Off the event loop too: a cluster's id is also read from every sidecar's environment
    # (20,000 pods on a big namespace's check: a fifth of a second a cluster).
    found = await asyncio.to_thread(
        lambda: {info.key: identity.discover(cf) for info, (cf, _) in zip(infos, fetched)})
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
