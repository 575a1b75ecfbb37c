"""Each diagnosis in a child process of its own, so that the bot's process stays flat.

A diagnosis of a big mesh makes hundreds of megabytes of small objects (10,000 pods a cluster,
decoded), nearly all gone when it ends. What lives on from it (a pooled connection's last
response, a cache entry, a new pool thread) is spread over Python's one-megabyte arenas, and
an arena goes back to the system only when nothing in it lives: the bot grew by about a
megabyte a diagnosis, however little it kept (bench/soak.py). A child that ends returns
everything at once.

Children are forked from a server that imported the diagnosing modules first
(multiprocessing's forkserver: no Slack connection, thread or lock of the bot's is copied),
one child per diagnosis (`max_tasks_per_child=1`), at most `workers` at once. A child builds
its source as the bot does, from the config, its facts cache in the same store when that is
Redis (an in-process store is the child's own: facts are then not shared between
diagnoses); the report comes back pickled, the bot keeps caching and posting it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from diagnostics import checks, gcpause
from handlers.run import IsolationLost

if TYPE_CHECKING:
    from diagnostics.config import Config
    from diagnostics.model import Report
    from handlers.base import Request

log = structlog.get_logger()

#: What a child imports before it is asked anything: the server forks each child from there.
#: Every check module too (a diagnosis would import those it runs; diagnostics.checking).
PRELOAD = ["bot.isolated", "bot.logs", "handlers.run", "diagnostics.engine",
           "diagnostics.sources.factory", "diagnostics.sources.live",
           "diagnostics.sources.caching", "diagnostics.store.resilient",
           *checks.module_names()]


@dataclass(frozen=True)
class SourceSpec:
    """How a child builds the bot's source (live clusters only; a snapshot needs no child)."""

    config: Config
    redis_url: str | None
    timeout: float
    log_format: str = "json"
    log_level: str = "INFO"
    kubeconfig: str | None = None  # every context of this file (the terminal's --kubeconfig)


#: Children a diagnosis may lose before the bot's process diagnoses it.
ATTEMPTS = 2


class IsolatedDiagnoses:
    """Diagnoses run by children; a pool that breaks (a child killed) is replaced."""

    def __init__(self, spec: SourceSpec, workers: int):
        self.spec, self.workers = spec, workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                             max_tasks_per_child=1)
        return self._pool

    def warm(self) -> None:
        """Start the children's server now, its imports (about half a second) done before the
        first ask instead of during it: one child is started, that returns at once."""
        self._executor().submit(_ready)

    async def diagnose(self, request: Request, fresh: bool) -> Report:
        """`request` diagnosed in a child; raises what the diagnosis raised (UsageError), and
        IsolationLost when a child was lost (killed) ATTEMPTS times.

        A pool whose child dies is broken for every diagnosis it runs, not only the dead
        child's: each is tried again in a new pool before the bot's process takes it on. A
        child killed for memory (the pod's limit reached by several big diagnoses at once)
        would otherwise hand all of them to the bot's process at once, the likeliest to be
        killed next."""
        loop = asyncio.get_running_loop()
        bound = structlog.contextvars.get_contextvars()  # the ask's request id, for its logs
        for attempt in range(1, ATTEMPTS + 1):
            pool = self._executor()
            try:
                return await loop.run_in_executor(pool, run_in_child, self.spec, request, fresh,
                                                  bound)
            except BrokenProcessPool:
                log.error("diagnosis_child_lost", command=request.command, attempt=attempt)
                if self._pool is pool:  # not one a diagnosis lost with it started since
                    self._pool = None
        raise IsolationLost(request.command)

    def close(self) -> None:
        """Shut the pool down without waiting for it here. Python 3.11's shutdown(wait=False)
        clears the pool's processes while its manager thread may still replace a child that
        just ended (max_tasks_per_child), which then fails on them (a TypeError in that
        thread): the waiting shutdown, on a thread of its own, ends the manager first."""
        if self._pool is not None:
            threading.Thread(target=self._pool.shutdown, name="meshbot-children-shutdown",
                             kwargs={"wait": True, "cancel_futures": True}, daemon=True).start()
            self._pool = None


def _ready() -> bool:
    return True


def run_in_child(spec: SourceSpec, request: Request, fresh: bool,
                 bound: dict | None = None) -> Report:
    """In the child: logging as the bot's (its redaction, the ask's request id), the source
    built, the request diagnosed, the source closed. The child ends with its diagnosis
    (`max_tasks_per_child=1`), so it runs no cyclic collection (gcpause)."""
    gcpause.exiting_after_one_diagnosis()
    from bot.logs import configure

    configure(spec.log_format, spec.log_level)
    structlog.contextvars.bind_contextvars(**(bound or {}))
    return asyncio.run(_diagnose(spec, request, fresh))


async def _diagnose(spec: SourceSpec, request: Request, fresh: bool) -> Report:
    from diagnostics.sources.caching import fresh_reads, with_facts_cache
    from diagnostics.sources.factory import live_source
    from diagnostics.store.resilient import open_store
    from handlers.run import diagnose_request

    store = open_store(spec.redis_url)
    source = with_facts_cache(
        live_source(spec.config, kubeconfig=spec.kubeconfig, timeout=spec.timeout), store,
        spec.config.cache.facts_ttl_seconds)
    try:
        with fresh_reads() if fresh else nullcontext():
            return await diagnose_request(request, request.plan(), source, spec.timeout)
    finally:
        await source.close()
        await store.close()
