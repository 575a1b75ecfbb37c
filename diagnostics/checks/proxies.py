"""proxy-status: every proxy's sync state, disconnected sidecars and version skew.

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

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from diagnostics.checks.base import CheckContext, Unavailable, check
from diagnostics.inputs import ISTIOD_PODS, SYNCZ, Resources
from diagnostics.mesh_view import workload_ref
from diagnostics.model import Finding, Step
from diagnostics.parse.syncz import ERROR, NOT_SENT, STALE, SYNCED, ProxySync, parse_syncz
from diagnostics.workloads import PROXY_CONTAINER, has_sidecar, name_of, namespace_of

#: Every pod of the cluster: sidecars to match against syncz, and proxy versions to fall back on.
ALL_PODS = Resources("pods")

#: A push younger than this may simply not be acknowledged *yet*; older means stuck.
STALE_GRACE_SECONDS = 60
#: A sidecar started less than this long ago may still be connecting.
CONNECT_GRACE_SECONDS = 60
#: Offenders listed in a step; the rest are counted.
TABLE_LIMIT = 20
#: Findings per id and cluster; the last one says how many more there are.
FINDING_LIMIT = 10

NO_TYPES = "NO TYPES"  # connected, subscribed to nothing (istioctl: 0 subscribed types)
_STATE_ORDER = {ERROR: 0, STALE: 1, NOT_SENT: 2, NO_TYPES: 3, SYNCED: 4}
_VERSION = re.compile(r"(\d+)\.(\d+)")


# ------------------------------------------------------------------------------------ the view


@dataclass
class SeenProxy:
    """One proxy as one istiod replica lists it."""

    sync: ProxySync
    cluster: str  # the proxy's cluster (its cluster_id, else the istiod's)
    istiod_cluster: str
    replica: str
    istiod_version: str | None

    @property
    def state(self) -> str:
        states = [t.status for t in self.sync.types.values()]
        if not states:
            return NO_TYPES
        return min(states, key=lambda s: _STATE_ORDER.get(s, 2))

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


def image_version(image: str | None) -> str | None:
    """`docker.io/istio/pilot:1.28.1` → `1.28.1`; None for a digest or an untagged image."""
    if not image or "@" in image:
        return None
    tail = image.rsplit("/", 1)[-1]
    if ":" not in tail:
        return None
    tag = tail.rsplit(":", 1)[1]
    return tag if _VERSION.match(tag) else None


def minor_of(version: str | None) -> tuple[int, int] | None:
    match = _VERSION.match(version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _istiod_versions(pods: list[dict]) -> dict[str, str]:
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
    return ctx.derived("proxy-view", (ISTIOD_PODS, SYNCZ), lambda: _build_proxy_view(ctx))


def syncz_proxies(ctx: CheckContext, cluster: str, replica: str, body: object
                  ) -> list[ProxySync]:
    """One replica's syncz body (read by the caller as `ctx.get(SYNCZ, cluster)`), parsed once
    per diagnosis whichever check asks first."""
    return ctx.derived(("syncz", cluster, replica), (SYNCZ,), lambda: parse_syncz(body))


def _build_proxy_view(ctx: CheckContext) -> ProxyView:
    view = ProxyView()
    for cluster in ctx.cluster_names:
        try:
            istiods = ctx.get(ISTIOD_PODS, cluster)
        except Unavailable:
            istiods = []
        versions = _istiod_versions(istiods)
        view.has_istiod[cluster] = bool(istiods)
        try:
            per_replica = ctx.get(SYNCZ, cluster)
        except Unavailable as exc:
            if istiods:
                view.missing[cluster] = [f"syncz of {cluster}'s istiod: {exc.reason}"]
            continue
        view.replicas[cluster] = sorted(per_replica.values)
        view.missing[cluster] = [f"syncz of {r} ({cluster}): {why}"
                                 for r, why in sorted(per_replica.missing.items())]
        only = next(iter(versions.values())) if len(set(versions.values())) == 1 else None
        for replica, body in sorted(per_replica.values.items()):
            for sync in syncz_proxies(ctx, cluster, replica, body):
                view.proxies.append(SeenProxy(sync, sync.cluster_id or cluster, cluster, replica,
                                              versions.get(replica, only)))
    return view


def _in_scope(ctx: CheckContext, namespace: str) -> bool:
    wanted = ctx.args.get("namespace")
    return not wanted or namespace == wanted


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
    return ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: _STATE_ORDER[s]))


def _table(rows: list[tuple[str, ...]], more: int, hint: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1]
           for r in rows]
    if more > 0:
        out.append(f"  … {more} more ({hint})")
    return out


def _pods_by_proxy(ctx: CheckContext) -> dict[tuple[str, str], dict]:
    out = {}
    for cluster, pods in ctx.available(ALL_PODS).items():
        for pod in pods:
            out[(cluster, f"{name_of(pod)}.{namespace_of(pod)}")] = pod
    return out


def _proxy_image_version(pod: dict | None) -> str | None:
    spec = (pod or {}).get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == PROXY_CONTAINER:
            return image_version(c.get("image"))
    return None


def _capped(findings: list[Finding], total: int, what: str) -> list[Finding]:
    """At most FINDING_LIMIT findings; the last one names how many more there are."""
    if total > len(findings) and findings:
        findings[-1].evidence.append(f"{total - len(findings)} more {what} not listed as "
                                     "findings (see the step's table)")
    return findings


# ------------------------------------------------------------------------------------ sync state


@check("proxy-sync", title="Proxy sync status", inputs=(SYNCZ, ISTIOD_PODS),
       emits=("proxy-stale",))
def proxy_sync(ctx: CheckContext) -> list[Step]:
    """Per proxy and xDS type, SYNCED / STALE / NOT SENT / ERROR from every istiod replica's
    syncz; a push left unacknowledged past a grace period, or rejected, is stale."""
    view = proxy_view(ctx)
    title = "Proxy sync status"
    steps = []
    for cluster in ctx.focus:
        mine = sorted((p for p in view.proxies if p.cluster == cluster
                       and _in_scope(ctx, p.sync.namespace)),
                      key=lambda p: (_STATE_ORDER[p.state], p.sync.proxy))
        gaps = view.serving_incomplete(cluster)
        if not mine and not view.any_replica_read():
            why = "; ".join(gaps) or "no istiod replica found in any cluster"
            steps.append(ctx.step(title, cluster, [f"no syncz could be read ({why})"],
                                  status="error" if gaps else "skip"))
            steps[-1].incomplete = True
            continue
        if not mine and not view.has_istiod.get(cluster) and not gaps:
            continue  # no istiod here and no proxy of it anywhere: proxy-connected says why
        steps.append(_sync_step(ctx, title, cluster, mine, gaps))
    return steps


def _sync_step(ctx: CheckContext, title: str, cluster: str, mine: list[SeenProxy],
               gaps: list[str]) -> Step:
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
        evidence += _table(rows[:TABLE_LIMIT], len(rows) - TABLE_LIMIT,
                           f"istioctl proxy-status --context={ctx.info(cluster).context_name}")
    findings = [_stale_finding(ctx, cluster, *s) for s in stale[:FINDING_LIMIT]]
    step = ctx.step(title, cluster, evidence, _capped(findings, len(stale), "stale proxies"))
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


def _proxy_running_since(pod: dict) -> datetime | str | None:
    """When the pod's istio-proxy started running; "" if running since an unknown time;
    None when it is not running (waiting, terminated, not started)."""
    status = pod.get("status") or {}
    for st in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if st.get("name") != PROXY_CONTAINER:
            continue
        running = (st.get("state") or {}).get("running")
        if running is None:
            return None
        started = running.get("startedAt")
        try:
            return datetime.fromisoformat(str(started).replace("Z", "+00:00")) if started else ""
        except ValueError:
            return ""
    return ""  # no status for it (yet): judge by the pod phase alone


def connectable(pod: dict, now: datetime) -> bool:
    """A sidecar that should be connected by now: Running, not terminating, proxy running
    for longer than the connect grace."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if not has_sidecar(pod) or status.get("phase") != "Running" or meta.get("deletionTimestamp"):
        return False
    since = _proxy_running_since(pod)
    if since is None:
        return False
    return since == "" or (now - since).total_seconds() >= CONNECT_GRACE_SECONDS


@check("proxy-connected", title="Sidecars connected to an istiod", inputs=(SYNCZ, ISTIOD_PODS,
                                                                           ALL_PODS),
       emits=("proxy-disconnected",))
def proxy_connected(ctx: CheckContext) -> list[Step]:
    """Running sidecars that no istiod replica of any cluster lists in its syncz."""
    view = proxy_view(ctx)
    connected = {(p.cluster, p.sync.proxy) for p in view.proxies}
    title = "Sidecars connected to an istiod"
    steps = []
    for cluster in ctx.focus:
        try:
            pods = ctx.get(ALL_PODS, cluster)
        except Unavailable as exc:
            steps.append(ctx.unavailable_step(title, cluster, exc))
            continue
        candidates = sorted((p for p in pods if _in_scope(ctx, namespace_of(p))
                             and connectable(p, ctx.now)),
                            key=lambda p: (namespace_of(p), name_of(p)))
        gaps = view.serving_incomplete(cluster)
        if not view.any_replica_read():
            why = "; ".join(gaps) or "no istiod replica found in any cluster"
            step = ctx.step(title, cluster, [f"{len(candidates)} running sidecars; no syncz "
                                             f"could be read ({why})"],
                            status="error" if gaps else "skip")
            step.incomplete = True
            steps.append(step)
            continue
        lost = [p for p in candidates if (cluster, f"{name_of(p)}.{namespace_of(p)}")
                not in connected]
        evidence = [f"{len(candidates)} running sidecars in {cluster}, "
                    f"{len(candidates) - len(lost)} listed by an istiod"]
        if gaps:
            evidence += [f"not read: {g}" for g in gaps]
            if lost:
                evidence.append(f"{len(lost)} not listed by the replicas that were read; they "
                                "may be connected to one that was not")
            step = ctx.step(title, cluster, evidence, status="error")
            step.incomplete = True
            steps.append(step)
            continue
        if lost:
            evidence.append("not connected to any istiod (cluster, pod, proxy image):")
            evidence += _table([(cluster, f"{name_of(p)}.{namespace_of(p)}",
                                 _proxy_image_version(p) or "?") for p in lost[:TABLE_LIMIT]],
                               len(lost) - TABLE_LIMIT, "kubectl logs <pod> -c istio-proxy")
        replicas = sum(len(r) for r in view.replicas.values())
        findings = []
        for p in lost[:FINDING_LIMIT]:
            line = (f"{name_of(p)}.{namespace_of(p)} runs a sidecar (phase Running) but none of "
                    f"the {replicas} istiod replicas read lists it in its syncz")
            findings.append(ctx.finding(
                "proxy-disconnected", cluster=cluster,
                resource=f"Pod {namespace_of(p)}/{name_of(p)}", evidence=[line], basis=[line],
                pod=name_of(p), namespace=namespace_of(p)))
        steps.append(ctx.step(title, cluster, evidence,
                              _capped(findings, len(lost), "disconnected sidecars")))
    return steps


# ------------------------------------------------------------------------------ version skew


def skewed(proxy_version: str | None, istiod_version: str | None) -> bool:
    """More than one minor version apart (or a different major)."""
    p, i = minor_of(proxy_version), minor_of(istiod_version)
    if p is None or i is None:
        return False
    return p[0] != i[0] or abs(p[1] - i[1]) > 1


@check("proxy-versions", title="Proxy and istiod versions", inputs=(SYNCZ, ISTIOD_PODS, ALL_PODS),
       emits=("proxy-version-skew",))
def proxy_versions(ctx: CheckContext) -> list[Step]:
    """Each proxy's Istio version against the istiod it is connected to: more than one minor
    version apart is outside the supported skew."""
    view = proxy_view(ctx)
    pods = _pods_by_proxy(ctx)
    title = "Proxy and istiod versions"
    steps = []
    for cluster in ctx.focus:
        mine = [p for p in view.proxies if p.cluster == cluster and _in_scope(ctx, p.sync.namespace)]
        if not mine:
            continue
        versions: Counter = Counter()
        rows, offenders, unknown = [], [], 0
        for p in sorted(mine, key=lambda p: p.sync.proxy):
            version = p.sync.istio_version or _proxy_image_version(pods.get((cluster, p.sync.proxy)))
            versions[version or "unknown"] += 1
            if not version or not p.istiod_version:
                unknown += 1
                continue
            if skewed(version, p.istiod_version):
                offenders.append((p, version))
                rows.append((cluster, p.replica, p.sync.proxy, version,
                             f"istiod {p.istiod_version}"))
        istiods = sorted({f"{p.replica} ({p.istiod_cluster}) {p.istiod_version or 'unknown'}"
                          for p in mine})
        evidence = ["proxy versions in " + cluster + ": "
                    + ", ".join(f"{v} ×{n}" for v, n in sorted(versions.items())),
                    "istiod: " + "; ".join(istiods)]
        if unknown:
            evidence.append(f"{unknown} proxies not compared (version of proxy or istiod unknown)")
        if rows:
            evidence.append("outside the supported skew (cluster, istiod, proxy, version, istiod "
                            "version):")
            evidence += _table(rows[:TABLE_LIMIT], len(rows) - TABLE_LIMIT,
                               f"istioctl proxy-status --context={ctx.info(cluster).context_name}")
        findings = []
        for p, version in offenders[:FINDING_LIMIT]:
            pod = pods.get((cluster, p.sync.proxy))
            findings.append(ctx.finding(
                "proxy-version-skew", cluster=cluster,
                resource=f"Pod {p.sync.namespace}/{p.sync.pod}",
                evidence=[f"{p.sync.proxy} runs {version}; istiod {p.replica} "
                          f"({p.istiod_cluster}) runs {p.istiod_version}"],
                pod=p.sync.pod, namespace=p.sync.namespace,
                workload=workload_ref(pod) if pod else f"pod/{p.sync.pod}",
                proxy_version=version, istiod_version=p.istiod_version))
        steps.append(ctx.step(title, cluster, evidence,
                              _capped(findings, len(offenders), "skewed proxies")))
    return steps
