"""Answering a parsed request from a source: the step shared by the bot and the terminal."""

from __future__ import annotations

from diagnostics.engine import DEFAULT_CLUSTER_TIMEOUT, diagnose
from diagnostics.model import Report
from diagnostics.sources.base import Source
from handlers.base import Request
from handlers.grammar import UsageError


def check_clusters(request: Request, source: Source) -> None:
    """`--cluster` names must be clusters of the mesh: a usage error before anything is fetched."""
    known = [c.name for c in source.cluster_infos()]
    unknown = [c for c in request.clusters if c not in known]
    if unknown:
        raise UsageError(f"unknown cluster {', '.join(unknown)}; the mesh has: {', '.join(known)}",
                         request.command)


async def answer(request: Request, source: Source, *,
                 timeout: float = DEFAULT_CLUSTER_TIMEOUT) -> Report:
    check_clusters(request, source)
    return await diagnose(request.plan(), source, timeout=timeout)
