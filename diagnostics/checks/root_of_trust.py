"""Root of trust across clusters: cross-cluster mTLS needs one root (trust domains are
trust_domain.py's).

Roots are compared by SHA-256 fingerprint, read from public certificates only: the
`istio-ca-root-cert` ConfigMap that istiod writes into its namespace (the roots its workloads
trust; during a rotation it holds old and new), else the caBundle istiod patched into its
sidecar-injection webhook. The plug-in CA's `cacerts` Secret holds the same root next to the CA's
private key and is never read, so an install that grants no Secret read loses nothing here.
Clusters trust each other when their root sets share a certificate.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field


from diagnostics.certs import CertInfo, parse_pem_bundle
from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.inputs import ISTIO_CONFIGMAPS, MUTATING_WEBHOOKS
from diagnostics.model import Finding, Step
from diagnostics.views.control_plane import injector_hooks
from diagnostics.views.trust import across_clusters_step, unread_lines
from diagnostics.workloads import name_of

ROOT_CONFIGMAP = "istio-ca-root-cert"
EXPIRY_WARNING_DAYS = 30
EXPIRY_ERROR_DAYS = 7


@dataclass
class Roots:
    origin: str  # where the roots were read
    certs: list[CertInfo] = field(default_factory=list)

    @property
    def fingerprints(self) -> set[str]:
        return {c.fingerprint for c in self.certs}


def configmap_roots(configmaps: list[dict], namespace: str) -> Roots | None:
    """The roots in the `istio-ca-root-cert` ConfigMap of the Istio namespace."""
    for cm in configmaps:
        if name_of(cm) == ROOT_CONFIGMAP:
            certs = parse_pem_bundle((cm.get("data") or {}).get("root-cert.pem"))
            if certs:
                return Roots(f"ConfigMap {namespace}/{ROOT_CONFIGMAP}", certs)
    return None


def webhook_roots(webhooks: list[dict], namespace: str) -> Roots | None:
    """The caBundle istiod patched into the injection webhook that calls its own Service (the
    root it signs with), for a cluster whose ConfigMap is missing."""
    for cfg, hook in injector_hooks(webhooks):
        client = hook.get("clientConfig") or {}
        if (client.get("service") or {}).get("namespace") not in (None, namespace) \
                and not client.get("url"):
            continue
        try:
            pem = base64.b64decode(str(client.get("caBundle") or ""), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
        certs = parse_pem_bundle(pem)
        if certs:
            return Roots(f"MutatingWebhookConfiguration {name_of(cfg)} caBundle", certs)
    return None


def _describe(roots: Roots) -> str:
    certs = "; ".join(f"{c.subject} {c.short} until {c.not_after:%Y-%m-%d}" for c in roots.certs)
    return f"{certs} (from {roots.origin})"


def _read_roots(ctx: CheckContext) -> tuple[dict[str, Roots], list[str], list[Unavailable]]:
    roots, evidence, unread = {}, [], []
    for cluster in ctx.cluster_names:
        ns = ctx.info(cluster).istio_namespace
        try:
            found = configmap_roots(ctx.get(ISTIO_CONFIGMAPS, cluster), ns) \
                or webhook_roots(ctx.get(MUTATING_WEBHOOKS, cluster), ns)
        except Unavailable as exc:
            evidence.append(unread_lines(cluster, exc))
            unread.append(exc)
            continue
        if found is None:
            evidence.append(f"{cluster}: no root certificate ({ROOT_CONFIGMAP} in {ns}, or the "
                            "caBundle of istiod's injection webhook)")
            continue
        roots[cluster] = found
        evidence.append(f"{cluster}: {_describe(found)}")
    return roots, evidence, unread


@check("root-of-trust", title="Root of trust across clusters",
       inputs=(ISTIO_CONFIGMAPS, MUTATING_WEBHOOKS),
       emits=("root-cert-mismatch", "root-cert-expiring"))
def root_of_trust(ctx: CheckContext) -> list[Step]:
    """Compare root certificates across clusters by fingerprint, and watch their expiry."""
    roots, evidence, unread = _read_roots(ctx)
    findings: list[Finding] = []
    names = list(roots)
    for peer in names[1:]:
        ref = names[0]
        if not roots[ref].fingerprints & roots[peer].fingerprints:
            both = [f"{ref}: {_describe(roots[ref])}", f"{peer}: {_describe(roots[peer])}"]
            findings.append(ctx.finding(
                "root-cert-mismatch", cluster=ref, resource=roots[peer].origin,
                evidence=both, basis=both,
                peer_cluster=peer, fingerprint=roots[ref].certs[0].fingerprint,
                peer_fingerprint=roots[peer].certs[0].fingerprint))
    findings += _expiry(ctx, roots)
    step = across_clusters_step(ctx, "Root of trust across clusters", evidence, findings, unread)
    step.data = {"root_days_left": {c: min(cert.days_left(ctx.now) for cert in r.certs)
                                    for c, r in roots.items()},
                 "shared_root": len({frozenset(r.fingerprints) for r in roots.values()}) <= 1,
                 "root_groups": _groups(roots, findings)}
    return [step]


def _groups(roots: dict[str, Roots], findings: list[Finding]) -> list[dict]:
    """Clusters that trust each other (their root sets share a certificate, transitively), as
    the topology picture draws them: one trust root per group, with the findings about it (a
    mismatch belongs to the peer's group, an expiring root to the group holding it)."""
    groups: list[tuple[list[str], dict[str, CertInfo]]] = []
    for cluster, found in roots.items():
        certs = {c.fingerprint: c for c in found.certs}
        joined = [g for g in groups if g[1].keys() & certs.keys()]
        for g in joined:
            groups.remove(g)
            certs.update(g[1])
        groups.append(([c for g in joined for c in g[0]] + [cluster], certs))
    out = []
    for clusters, certs in groups:
        about = [f.id for f in findings if f.params.get("peer_cluster") in clusters
                 or f.params.get("fingerprint") in certs and f.id != "root-cert-mismatch"]
        out.append({"clusters": clusters, "fingerprints": list(certs),
                    "subjects": sorted({c.subject for c in certs.values()}), "findings": about})
    return out


def _expiry(ctx: CheckContext, roots: dict[str, Roots]) -> list[Finding]:
    """One finding per expiring root certificate, however many clusters share it."""
    users: dict[str, list[str]] = {}
    certs: dict[str, tuple[CertInfo, str]] = {}
    for cluster, found in roots.items():
        for cert in found.certs:
            if cert.days_left(ctx.now) < EXPIRY_WARNING_DAYS:
                users.setdefault(cert.fingerprint, []).append(cluster)
                certs.setdefault(cert.fingerprint, (cert, found.origin))
    out = []
    for fingerprint, clusters in users.items():
        cert, origin = certs[fingerprint]
        days = cert.days_left(ctx.now)
        left = "expired" if days < 0 else f"{days} days left"
        line = (f"{cert.subject} {cert.short} expires {cert.not_after:%Y-%m-%d %H:%M} UTC "
                f"({left}); used in {', '.join(clusters)}")
        out.append(ctx.finding(
            "root-cert-expiring", cluster=clusters[0], resource=origin, evidence=[line],
            severity="error" if days < EXPIRY_ERROR_DAYS else "warning",
            expires=f"{cert.not_after:%Y-%m-%d}", days_left=max(days, 0),
            fingerprint=fingerprint))
    return out


