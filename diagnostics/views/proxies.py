"""Every proxy that any istiod replica of any cluster lists in its syncz, parsed once per
diagnosis, with the istiod it is connected to and the versions on both sides.

The proxy-status checks judge this view (proxy-sync, proxy-connected, proxy-versions), and the
primary-remote check reads which istiod a remote's proxies connect to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from diagnostics.checking import CheckContext, Unavailable
from diagnostics.inputs import ISTIOD_PODS, SYNCZ, SYNCZ_CENSUS, IstiodDebug
from diagnostics.model import Finding
from diagnostics.parse.syncz import ERROR, NOT_SENT, ProxySync, STALE, SYNCED, parse_syncz
from diagnostics.workloads import PROXY_CONTAINER, image_version, name_of, version_tuple


#: A sidecar started less than this long ago may still be connecting.
CONNECT_GRACE_SECONDS = 60
#: Offenders listed in a step; the rest are counted.
TABLE_LIMIT = 20
#: Findings per id and cluster; the last one says how many more there are.
FINDING_LIMIT = 10
NO_TYPES = "NO TYPES"  # connected, subscribed to nothing (istioctl: 0 subscribed types)
STATE_ORDER = {ERROR: 0, STALE: 1, NOT_SENT: 2, NO_TYPES: 3, SYNCED: 4}


@dataclass
class SeenProxy:
    """One proxy as one istiod replica lists it."""

    sync: ProxySync
    cluster: str  # the proxy's cluster (its cluster_id, else the istiod's)
    istiod_cluster: str
    replica: str
    istiod_version: str | None

    @cached_property  # asked several times a proxy by each step, for 20,000 proxies
    def state(self) -> str:
        """The worst of its types' states (the first of them when several are as bad)."""
        worst, rank = NO_TYPES, len(STATE_ORDER)
        for t in self.sync.types.values():
            status = t.status
            order = STATE_ORDER.get(status, 2)
            if order < rank:
                worst, rank = status, order
        return worst

    def types_in(self, *states: str) -> list[str]:
        return sorted(t for t, s in self.sync.types.items() if s.status in states)


@dataclass
class ProxyView:
    """What every replica of every cluster says, and what could not be read."""

    proxies: list[SeenProxy] = field(default_factory=list)
    replicas: dict[str, list[str]] = field(default_factory=dict)  # istiod cluster → replicas read
    missing: dict[str, list[str]] = field(default_factory=dict)  # istiod cluster → reasons
    has_istiod: dict[str, bool] = field(default_factory=dict)  # cluster → runs istiod pods

    def serving_incomplete(self, cluster: str) -> list[str]:
        """Why the control plane that serves `cluster` was not fully read (empty: it was)."""
        if self.has_istiod.get(cluster):
            return self.missing.get(cluster, [])
        return [r for c, reasons in self.missing.items() if c != cluster for r in reasons]

    def any_replica_read(self) -> bool:
        return any(self.replicas.values())


def minor_of(version: str | None) -> tuple[int, int] | None:
    parts = version_tuple(version)
    return parts[:2] if parts else None


@lru_cache(maxsize=1024)  # a few versions, asked for each of 20,000 proxies
def skewed(proxy_version: str | None, istiod_version: str | None) -> bool:
    """More than one minor version apart (or a different major): outside Istio's supported
    skew between a proxy and its istiod."""
    p, i = minor_of(proxy_version), minor_of(istiod_version)
    if p is None or i is None:
        return False
    return p[0] != i[0] or abs(p[1] - i[1]) > 1


def istiod_versions(pods: list[dict]) -> dict[str, str]:
    out = {}
    for pod in pods:
        containers = (pod.get("spec") or {}).get("containers") or []
        main = next((c for c in containers if c.get("name") == "discovery"),
                    containers[0] if containers else {})
        version = image_version(main.get("image"))
        if version:
            out[name_of(pod)] = version
    return out


def proxy_view(ctx: CheckContext) -> ProxyView:
    """Every replica's syncz in every cluster, parsed once per diagnosis (read-only to checks)."""
    return ctx.derived("proxy-view", (ISTIOD_PODS, SYNCZ), lambda: build_proxy_view(ctx))


def syncz_proxies(ctx: CheckContext, cluster: str, replica: str, body: object
                  ) -> list[ProxySync]:
    """One replica's syncz body (read by the caller as `ctx.get(SYNCZ, cluster)`), parsed once
    per diagnosis whichever check asks first."""
    return ctx.derived(("syncz", cluster, replica), (SYNCZ,), lambda: parse_syncz(body))


def census_view(ctx: CheckContext) -> ProxyView:
    """Who is connected where, as proxy_view says it but from SYNCZ_CENSUS: each proxy's id and
    cluster only (no sync state, no version), for checks that ask nothing more."""
    return ctx.derived("proxy-census-view", (ISTIOD_PODS, SYNCZ_CENSUS),
                       lambda: build_proxy_view(ctx, SYNCZ_CENSUS))


def build_proxy_view(ctx: CheckContext, inp: IstiodDebug = SYNCZ) -> ProxyView:
    view = ProxyView()
    for cluster in ctx.cluster_names:
        try:
            istiods = ctx.get(ISTIOD_PODS, cluster)
        except Unavailable:
            istiods = []
        versions = istiod_versions(istiods)
        view.has_istiod[cluster] = bool(istiods)
        try:
            per_replica = ctx.get(inp, cluster)
        except Unavailable as exc:
            if istiods:
                view.missing[cluster] = [f"syncz of {cluster}'s istiod: {exc.reason}"]
            continue
        view.replicas[cluster] = sorted(per_replica.values)
        view.missing[cluster] = [f"syncz of {r} ({cluster}): {why}"
                                 for r, why in sorted(per_replica.missing.items())]
        only = next(iter(versions.values())) if len(set(versions.values())) == 1 else None
        for replica, body in sorted(per_replica.values.items()):
            for sync in (syncz_proxies(ctx, cluster, replica, body) if inp == SYNCZ else
                         [ProxySync(proxy, cid, None, None, {}) for proxy, cid, _ in body]):
                view.proxies.append(SeenProxy(sync, sync.cluster_id or cluster, cluster, replica,
                                              versions.get(replica, only)))
    return view


def in_scope(ctx: CheckContext, namespace: str) -> bool:
    wanted = ctx.args.get("namespace")
    return not wanted or namespace == wanted


def proxy_table(rows: list[tuple[str, ...]], more: int, hint: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1]
           for r in rows]
    if more > 0:
        out.append(f"  … {more} more ({hint})")
    return out


def proxy_image_version(pod: dict | None) -> str | None:
    spec = (pod or {}).get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == PROXY_CONTAINER:
            return image_version(c.get("image"))
    return None


def capped(findings: list[Finding], total: int, what: str) -> list[Finding]:
    """At most FINDING_LIMIT findings; the last one names how many more there are."""
    if total > len(findings) and findings:
        findings[-1].evidence.append(f"{total - len(findings)} more {what} not listed as "
                                     "findings (see the step's table)")
    return findings
