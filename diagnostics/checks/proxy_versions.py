"""proxy-status: a proxy more than one minor version away from the istiod it is connected to is
outside Istio's supported skew.
"""

from __future__ import annotations

from collections import Counter

from diagnostics.checking import CheckContext, check
from diagnostics.inputs import ISTIOD_PODS, PROXY_PODS, SKEWED_PROXY_PODS, SYNCZ
from diagnostics.model import Step
from diagnostics.views.mesh import workload_ref
from diagnostics.views.proxies import (FINDING_LIMIT, TABLE_LIMIT, SeenProxy, capped, in_scope,
                                       proxy_image_version, proxy_table, proxy_view, skewed)
from diagnostics.workloads import name_of, namespace_of


def _pods_by_proxy(ctx: CheckContext) -> dict[tuple[str, str], dict]:
    """The pods read whole, by proxy id: those no istiod lists with a version (their proxy
    image stands in for it) and those of skewed proxies (their owners, for the fix)."""
    out = {}
    for cluster, census in ctx.available(PROXY_PODS).items():
        for pod in census.unlisted:
            out[(cluster, f"{name_of(pod)}.{namespace_of(pod)}")] = pod
    for cluster, pods in ctx.available(SKEWED_PROXY_PODS).items():
        for pod in pods:
            out[(cluster, f"{name_of(pod)}.{namespace_of(pod)}")] = pod
    return out


@check("proxy-versions", title="Proxy and istiod versions",
       inputs=(SYNCZ, ISTIOD_PODS, PROXY_PODS, SKEWED_PROXY_PODS), emits=("proxy-version-skew",))
def proxy_versions(ctx: CheckContext) -> list[Step]:
    """Each proxy's Istio version against the istiod it is connected to: more than one minor
    version apart is outside the supported skew."""
    view = proxy_view(ctx)
    pods = _pods_by_proxy(ctx)
    title = "Proxy and istiod versions"
    steps = []
    by_cluster: dict[str, list[SeenProxy]] = {}
    for p in view.proxies:
        by_cluster.setdefault(p.cluster, []).append(p)
    for cluster in ctx.focus:
        mine = [p for p in by_cluster.get(cluster, ()) if in_scope(ctx, p.sync.namespace)]
        if not mine:
            continue
        versions: Counter = Counter()
        rows, offenders, unknown = [], [], 0
        for p in sorted(mine, key=lambda p: p.sync.proxy):
            version = p.sync.istio_version or proxy_image_version(pods.get((cluster, p.sync.proxy)))
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
            evidence += proxy_table(rows[:TABLE_LIMIT], len(rows) - TABLE_LIMIT,
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
                              capped(findings, len(offenders), "skewed proxies")))
    return steps
