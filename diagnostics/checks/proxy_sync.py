"""proxy-status: every proxy's sync state (disconnected sidecars and version skew are the next
steps, judged on the same view: diagnostics/views/proxies.py).

Each istiod replica's `/debug/syncz` lists the proxies connected to *it*, with, per xDS type
the proxy subscribed to, the nonce last sent and the nonce last acknowledged
(docs/istio-surface.md §1.3, §2.2). The state per type is derived as istioctl derives it:
SYNCED when sent == acked, STALE when they differ, NOT SENT when nothing was sent yet, ERROR
when the proxy rejected the push. A type the proxy never subscribed to is absent from syncz
and counts as nothing (istioctl prints IGNORED), never as NOT SENT.

A proxy's cluster is the `cluster_id` it reports (a primary-remote mesh's remote proxies appear
in the primary's syncz), so the union of every replica of every cluster is the set of
connected proxies; a running sidecar in none of them is disconnected.

Evidence is a compact table that fits a Slack thread at any mesh size: counts per state per
istiod, then the offenders, capped.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.inputs import ISTIOD_PODS, SYNCZ
from diagnostics.model import Finding, Step
from diagnostics.parse.syncz import ERROR, NOT_SENT, STALE, SYNCED
from diagnostics.sources.base import running_istiod_pods
from diagnostics.views.debug_refusal import DEBUG_REFUSED, read_per_replica, refused_finding
from diagnostics.views.proxies import (FINDING_LIMIT, NO_TYPES, STATE_ORDER, SeenProxy,
                                       TABLE_LIMIT, capped, in_scope, proxy_table, proxy_view)

#: Every pod of the cluster: sidecars to match against syncz, and proxy versions to fall back on.

#: A push younger than this may simply not be acknowledged *yet*; older means stuck.
STALE_GRACE_SECONDS = 60


# ------------------------------------------------------------------------------------ the view


def _ago(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def _oldest_unacked(p: SeenProxy) -> datetime | None:
    times = [t.sent_at for t in p.sync.types.values()
             if t.status in (STALE, ERROR) and t.sent_at is not None]
    return min(times) if times else None


def _counts(items: list[SeenProxy]) -> str:
    counts = Counter(p.state for p in items)
    return ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: STATE_ORDER[s]))


# ------------------------------------------------------------------------------------ sync state


@check("proxy-sync", title="Proxy sync status", inputs=(SYNCZ, ISTIOD_PODS),
       emits=("proxy-stale", DEBUG_REFUSED))
def proxy_sync(ctx: CheckContext) -> list[Step]:
    """Per proxy and xDS type, SYNCED / STALE / NOT SENT / ERROR from every istiod replica's
    syncz; a push left unacknowledged past a grace period, or rejected, is stale."""
    view = proxy_view(ctx)
    title = "Proxy sync status"
    steps = []
    for cluster in ctx.focus:
        mine = sorted((p for p in view.proxies if p.cluster == cluster
                       and in_scope(ctx, p.sync.namespace)),
                      key=lambda p: (STATE_ORDER[p.state], p.sync.proxy))
        gaps = view.serving_incomplete(cluster)
        refused = _refused(ctx, cluster)
        if not mine and not view.any_replica_read():
            why = "; ".join(gaps) or "no istiod replica found in any cluster"
            steps.append(ctx.step(title, cluster, [f"no syncz could be read ({why})"],
                                  refused, status=None if refused else
                                  "error" if gaps else "skip"))
            steps[-1].incomplete = True
            continue
        if not mine and not view.has_istiod.get(cluster) and not gaps:
            continue  # no istiod here and no proxy of it anywhere: proxy-connected says why
        steps.append(_sync_step(ctx, title, cluster, mine, gaps, refused))
    return steps


def _refused(ctx: CheckContext, cluster: str) -> list[Finding]:
    """istiod refusing meshbot's syncz (401/403, Istio's debug endpoint authorization): the
    finding that says how to let meshbot in, as remote-clusters gives it, where the step alone
    said "not read" and the answer stayed inconclusive without a way out."""
    per = read_per_replica(ctx, SYNCZ, cluster)
    if not per.refused:
        return []
    try:
        pods = ctx.get(ISTIOD_PODS, cluster)
    except Unavailable:
        pods = []
    names = [r for r in per.refused if r != "*"] or running_istiod_pods(pods) or ["istiod"]
    refused = {r: {"syncz": per.refused.get(r) or per.refused["*"]} for r in names}
    return [refused_finding(ctx, cluster, refused, pods)]


def _sync_step(ctx: CheckContext, title: str, cluster: str, mine: list[SeenProxy],
               gaps: list[str], refused: list[Finding]) -> Step:
    scope = f" in namespace {ctx.args['namespace']}" if ctx.args.get("namespace") else ""
    evidence = [f"{len(mine)} proxies of {cluster}{scope}: {_counts(mine) or 'none'}"]
    by_replica: dict[tuple[str, str], list[SeenProxy]] = {}
    for p in mine:
        by_replica.setdefault((p.istiod_cluster, p.replica), []).append(p)
    for (home, replica), items in sorted(by_replica.items()):
        version = f", {items[0].istiod_version}" if items[0].istiod_version else ""
        evidence.append(f"  istiod {replica} ({home}{version}): {_counts(items)}")
    evidence += [f"not read: {g}" for g in gaps]
    stale, rows = [], []
    for p in mine:
        if p.state == SYNCED or p.state == NO_TYPES:
            continue
        sent = _oldest_unacked(p)
        age = (ctx.now - sent).total_seconds() if sent else None
        bad_types = p.types_in(STALE, ERROR)
        in_flight = p.state == STALE and age is not None and age < STALE_GRACE_SECONDS
        label = p.state if p.state in (STALE, ERROR) else "NOT SENT"
        detail = ",".join(bad_types or p.types_in(NOT_SENT))
        when = f" ({_ago(age)}{', in flight' if in_flight else ''})" if age is not None else ""
        rows.append((p.cluster, p.replica, p.sync.proxy, p.sync.istio_version or "?",
                     f"{label} {detail}{when}"))
        if p.state in (STALE, ERROR) and not in_flight:
            stale.append((p, bad_types, sent, age))
    if rows:
        evidence.append("not in sync (cluster, istiod, proxy, version, state):")
        evidence += proxy_table(rows[:TABLE_LIMIT], len(rows) - TABLE_LIMIT,
                           f"istioctl proxy-status --context={ctx.info(cluster).context_name}")
    findings = [_stale_finding(ctx, cluster, *s) for s in stale[:FINDING_LIMIT]]
    step = ctx.step(title, cluster, evidence,
                    capped(findings, len(stale), "stale proxies") + refused)
    step.incomplete = bool(gaps)
    step.data = {"proxies": len(mine), "by_state": _state_counts(mine),
                 "versions": _version_counts(mine)}
    return step


def _state_counts(proxies: list[SeenProxy]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in proxies:
        state = "NOT SENT" if p.state not in (SYNCED, STALE, ERROR) else p.state
        out[state] = out.get(state, 0) + 1
    return out


def _version_counts(proxies: list[SeenProxy]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in proxies:
        version = p.sync.istio_version or "unknown"
        out[version] = out.get(version, 0) + 1
    return out


def _stale_finding(ctx: CheckContext, cluster: str, p: SeenProxy, types: list[str],
                   sent: datetime | None, age: float | None) -> Finding:
    errors = sorted({t.error for t in p.sync.types.values() if t.error})
    since = (f"{_ago(age)} ago (at {sent:%Y-%m-%dT%H:%M:%SZ})" if sent is not None and
             age is not None else "at an unknown time (no push timestamp)")
    lines = [f"syncz of istiod {p.replica} ({p.istiod_cluster}): {p.sync.proxy} "
             + ", ".join(f"{t} {p.sync.types[t].status} (sent {p.sync.types[t].sent or '-'}, "
                         f"acked {p.sync.types[t].acked or '-'})" for t in types)]
    lines += [f"last error: {e}" for e in errors]
    return ctx.finding("proxy-stale", cluster=cluster,
                       resource=f"Pod {p.sync.namespace}/{p.sync.pod}", evidence=lines,
                       pod=p.sync.pod, namespace=p.sync.namespace, istiod_pod=p.replica,
                       types=", ".join(types), since=since, error="; ".join(errors) or "none")


# ------------------------------------------------------------------------------ disconnected


# ------------------------------------------------------------------------------ version skew


