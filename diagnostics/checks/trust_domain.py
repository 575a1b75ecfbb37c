"""trust: every cluster's mesh must use one trust domain (or list the others as aliases), or
workload identities from one cluster are not accepted in another.
"""

from __future__ import annotations

import yaml
from diagnostics import yaml_text
from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.inputs import ISTIO_CONFIGMAPS
from diagnostics.model import Step
from diagnostics.views.trust import across_clusters_step, unread_lines
from diagnostics.workloads import name_of


DEFAULT_TRUST_DOMAIN = "cluster.local"


def mesh_config(configmaps: list[dict]) -> dict | None:
    """The mesh config of the `istio` ConfigMap (or a revision's `istio-<rev>`)."""
    candidates = sorted((cm for cm in configmaps
                         if name_of(cm) == "istio" or name_of(cm).startswith("istio-")),
                        key=lambda cm: name_of(cm) != "istio")
    for cm in candidates:
        text = (cm.get("data") or {}).get("mesh")
        if text is None:
            continue
        try:
            doc = yaml_text.load(text)
        except yaml.YAMLError:
            continue
        return doc if isinstance(doc, dict) else {}
    return None


@check("trust-domain", title="Trust domain across clusters", inputs=(ISTIO_CONFIGMAPS,),
       emits=("trust-domain-mismatch",))
def trust_domain(ctx: CheckContext) -> list[Step]:
    """Compare meshConfig.trustDomain across clusters, honouring trustDomainAliases."""
    domains: dict[str, tuple[str, set[str]]] = {}
    evidence: list[str] = []
    unread: list[Unavailable] = []
    for cluster in ctx.cluster_names:
        try:
            mesh = mesh_config(ctx.get(ISTIO_CONFIGMAPS, cluster))
        except Unavailable as exc:
            evidence.append(unread_lines(cluster, exc))
            unread.append(exc)
            continue
        if mesh is None:
            evidence.append(f"{cluster}: no mesh config (ConfigMap istio) in "
                            f"{ctx.info(cluster).istio_namespace}")
            continue
        domain = str(mesh.get("trustDomain") or DEFAULT_TRUST_DOMAIN)
        aliases = {str(a) for a in mesh.get("trustDomainAliases") or []}
        domains[cluster] = (domain, aliases)
        alias_text = f" (aliases: {', '.join(sorted(aliases))})" if aliases else ""
        evidence.append(f"{cluster}: trustDomain {domain}{alias_text}")
    findings = []
    names = list(domains)
    for peer in names[1:]:
        (ref_domain, ref_aliases), (peer_domain, peer_aliases) = domains[names[0]], domains[peer]
        accepted = peer_domain in ref_aliases and ref_domain in peer_aliases
        if ref_domain != peer_domain and not accepted:
            findings.append(ctx.finding(
                "trust-domain-mismatch", cluster=names[0],
                resource=f"ConfigMap {ctx.info(peer).istio_namespace}/istio",
                evidence=[evidence[ctx.cluster_names.index(names[0])],
                          evidence[ctx.cluster_names.index(peer)]],
                peer_cluster=peer, trust_domain=ref_domain, peer_trust_domain=peer_domain))
    step = across_clusters_step(ctx, "Trust domain across clusters", evidence, findings, unread)
    # For the topology picture: each cluster's domain, a mismatch marked on the peer that differs.
    step.data["trust_domains"] = {c: {"domain": d, "findings": [
        f.id for f in findings if f.params.get("peer_cluster") == c]}
        for c, (d, _aliases) in domains.items()}
    return [step]
