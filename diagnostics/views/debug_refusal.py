"""Debug requests istiod refused (401/403): one finding per cluster that says so, with what
the istiod release reads of debug endpoint authorization, and how to let meshbot in.

Asked by istiod-remote-view (clusterz, endpointShardz) and proxy-sync (syncz); a module of
its own, light to import, so that proxy-status does not load the remote-cluster views.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext
from diagnostics.debug_auth import (allowed_namespaces, authorization_enforced,
                                    reads_allowed_namespaces)
from diagnostics.facts import PerReplica, Unavailable
from diagnostics.inputs import Input
from diagnostics.model import Finding
from diagnostics.sources.base import DebugRefused
from diagnostics.workloads import istiod_version, name_of

DEBUG_REFUSED = "istiod-debug-refused"


def read_per_replica(ctx: CheckContext, inp: Input, cluster: str) -> PerReplica:
    """The input per replica; a wholly missing input becomes one `*` entry saying why."""
    try:
        return ctx.get(inp, cluster)
    except Unavailable as exc:
        verb = "could not read" if exc.captured else "not captured"
        return PerReplica(missing={"*": f"{verb} ({exc.reason})"},
                          refused={"*": exc.refused} if exc.refused else {})


def _allowed_text(pod: dict | None) -> str:
    if pod is None:
        return "its version is not known"
    if not authorization_enforced(pod):
        return "debug endpoint authorization does not apply (before 1.27.6/1.28.4/1.29, or " \
               "ENABLE_DEBUG_ENDPOINT_AUTH=false), so only authentication refuses"
    allowed = allowed_namespaces(pod)
    if not reads_allowed_namespaces(pod):
        return "authorization applies and this release does not read " \
               "DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES (upgrade, or turn authorization off)"
    return "authorization applies; DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES is " + \
        (", ".join(sorted(allowed)) if allowed else "not set")


def refused_finding(ctx: CheckContext, cluster: str, refused: dict[str, dict[str, int]],
                    pods: list[dict]) -> Finding:
    """One finding per cluster for the replicas whose debug endpoints refused meshbot."""
    replica, by_label = next(iter(refused.items()))
    status = max(by_label.values())
    pod = next((p for p in pods if name_of(p) == replica), pods[0] if pods else None)
    version = istiod_version(pod) if pod else None
    evidence = [f"{rep}: /debug/{label} answered HTTP {code}: "
                f"{DebugRefused.REASONS.get(code, 'refused')}"
                for rep, labels in refused.items() for label, code in labels.items()]
    return ctx.finding(
        DEBUG_REFUSED, cluster=cluster, resource=f"Pod {replica}", evidence=evidence,
        istiod_pod=replica, status=status,
        endpoints=", ".join(f"/debug/{label}" for label in by_label),
        refusal=DebugRefused.REASONS.get(status, "istiod refused the request") + ".",
        version=".".join(map(str, version)) if version else "of unknown version",
        allowed_namespaces=_allowed_text(pod))
