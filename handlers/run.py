"""Answering a parsed request from a source: the step shared by the bot and the terminal."""

from __future__ import annotations

import asyncio
from typing import Callable, Protocol

from diagnostics.engine import DEFAULT_CLUSTER_TIMEOUT, UnknownCluster, diagnose
from diagnostics.model import Report
from diagnostics.reports import ReportCache, report_key
from diagnostics.sources.base import Source
from diagnostics.sources.caching import fresh_reads
from handlers.base import Request
from handlers.grammar import UsageError


class Isolation(Protocol):
    """Diagnoses run elsewhere than this process (bot/isolated.py)."""

    async def diagnose(self, request: Request, fresh: bool) -> Report:
        """Raises IsolationLost when the elsewhere was lost mid-diagnosis (a child killed)."""


class IsolationLost(Exception):
    """A diagnosis run elsewhere was lost before it answered."""


async def diagnose_request(request: Request, plan, source: Source, timeout: float) -> Report:
    """`--cluster` may name an Istio cluster id that only the clusters themselves reveal, so a
    name that picks no cluster read is a usage error once their ids are known."""
    try:
        return await diagnose(plan, source, timeout=timeout)
    except UnknownCluster as exc:
        raise UsageError(f"{exc}. A cluster that is not read can be added with --context, "
                         "--kubeconfig or the config file's clusters:", request.command) from None


class Answerer:
    """Runs requests against one source, through the report cache when there is one.

    `on_diagnosis` sees every report actually diagnosed (not cache hits), whoever asked: the
    one place to measure diagnoses.

    At most `max_concurrent` diagnoses run at once; more wait their turn. Checks are CPU work
    that shares one interpreter with the bot's Slack traffic: unbounded, forty asks on a
    large mesh delayed acks by a second (bench/ack_latency.py). With `isolated`, each runs in
    a child process of its own (bot/isolated.py); a diagnosis that lost its child twice
    (killed) degrades to a diagnosis in this process, never to no answer.
    """

    def __init__(self, source: Source, cache: ReportCache | None = None,
                 timeout: float = DEFAULT_CLUSTER_TIMEOUT,
                 on_diagnosis: Callable[[Report], None] | None = None,
                 max_concurrent: int | None = None, isolated: Isolation | None = None):
        self.source, self.cache, self.timeout = source, cache, timeout
        self.on_diagnosis = on_diagnosis
        self.isolated = isolated
        self._slots = asyncio.Semaphore(max_concurrent) if max_concurrent else None

    async def answer(self, request: Request, *, fresh: bool = False) -> Report:
        plan = request.plan()

        async def run() -> Report:
            if self._slots is None:
                report = await self._diagnose(request, plan, fresh)
            else:
                async with self._slots:
                    report = await self._diagnose(request, plan, fresh)
            if self.on_diagnosis:
                self.on_diagnosis(report)
            return report

        if self.cache is None:
            return await run()
        if fresh:
            with fresh_reads():  # the facts cache is bypassed too, not just the report cache
                return await self.cache.get_or_run(report_key(plan, self.source.identity), run,
                                                   fresh=True)
        return await self.cache.get_or_run(report_key(plan, self.source.identity), run)


    async def _diagnose(self, request: Request, plan, fresh: bool) -> Report:
        if self.isolated is not None:
            try:
                return await self.isolated.diagnose(request, fresh)
            except IsolationLost:  # logged there; answered here instead
                pass
        return await diagnose_request(request, plan, self.source, self.timeout)


async def answer(request: Request, source: Source, *,
                 timeout: float = DEFAULT_CLUSTER_TIMEOUT) -> Report:
    """One uncached answer (the terminal without a shared cache)."""
    return await Answerer(source, None, timeout).answer(request)
