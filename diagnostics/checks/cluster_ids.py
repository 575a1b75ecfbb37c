"""`remote-clusters`: every cluster of the mesh needs its own Istio cluster id.

istiod knows each cluster by its id: its own is `CLUSTER_ID` (the install's
`global.multiCluster.clusterName`, default `Kubernetes`), its proxies claim theirs in
`ISTIO_META_CLUSTER_ID`, and a remote secret's data key names the cluster it describes.
Two clusters on one id collide: istiod ignores a secret key equal to its own id ("ignoring
cluster as it would overwrite the config cluster") and a key another secret already registered
("cluster has already been registered"), and attributes proxies to the wrong cluster. An
external istiod's `CLUSTER_ID` is its config cluster's id, so it names that cluster, not its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.facts import PerReplica
from diagnostics.inputs import (ISTIOD_LOGS, ISTIOD_PODS, ISTIO_CONFIGMAPS, ISTIO_PODS,
                                ISTIO_SECRETS)
from diagnostics.model import Finding, Step
from diagnostics.parse.istiod_logs import parse_log, shorten
from diagnostics.views.control_plane import (cluster_id_of, control_plane_of, peer_secrets,
                                             values_cluster_name)
from diagnostics.views.istiod_secretless import withheld_secrets
from diagnostics.views.mesh import injector_values, proxy_env
from diagnostics.views.secrets import made_for, secret_keys
from diagnostics.workloads import has_sidecar, name_of, namespace_of

TITLE = "Cluster ids"
OWN_ID_LOG = re.compile(r"ignoring cluster as it would overwrite the config cluster")
DUPLICATE_LOG = re.compile(r"cluster has already been registered")


@dataclass
class Identity:
    """The ids a cluster's install, istiod and proxies use for it."""

    cluster: str
    istiod: list[str] = field(default_factory=list)  # CLUSTER_ID of its (non-external) istiod
    values: str | None = None  # global.multiCluster.clusterName
    proxies: list[str] = field(default_factory=list)  # ISTIO_META_CLUSTER_ID of its gateways
    serves: str | None = None  # CLUSTER_ID of an external istiod running here (another's id)

    @property
    def id(self) -> str | None:
        """The id istiod and its proxies use: istiod's, else the install's, else the proxies'."""
        for found in (self.istiod, [self.values] if self.values else [], self.proxies):
            if found:
                return found[0]
        return None

    def line(self) -> str:
        if self.serves:
            return (f"{self.cluster}: runs an external istiod with CLUSTER_ID {self.serves}, the "
                    "id of the config cluster it serves")
        parts = [f"istiod CLUSTER_ID {', '.join(self.istiod)}" if self.istiod else "no istiod",
                 f"install clusterName {self.values or '(unset)'}"]
        if self.proxies:
            parts.append(f"gateway proxies ISTIO_META_CLUSTER_ID {', '.join(self.proxies)}")
        return f"{self.cluster}: " + "; ".join(parts)


def _identity(ctx: CheckContext, cluster: str) -> Identity:
    ident = Identity(cluster)
    pods = ctx.available(ISTIOD_PODS).get(cluster, [])
    secrets = ctx.available(ISTIO_SECRETS).get(cluster, [])
    cp = control_plane_of(cluster, pods, secrets)
    if cp is not None and cp.config_elsewhere:
        ident.serves = cp.cluster_id  # its ids (and install values) are its config cluster's
        return ident
    ident.istiod = sorted({cluster_id_of(p) for p in pods})
    ident.values = values_cluster_name(injector_values(
        ctx.available(ISTIO_CONFIGMAPS).get(cluster, [])))
    ident.proxies = sorted({v for p in ctx.available(ISTIO_PODS).get(cluster, [])
                            if has_sidecar(p) and (v := proxy_env(p, "ISTIO_META_CLUSTER_ID"))})
    return ident


def _log_lines(ctx: CheckContext, cluster: str, pattern: re.Pattern, key: str) -> list[str]:
    """istiod log lines matching `pattern` whose `cluster=` label is `key` (latest per replica)."""
    try:
        logs: PerReplica = ctx.get(ISTIOD_LOGS, cluster)
    except Unavailable as exc:
        return [f"istiod log not read ({exc.reason})"]
    out = []
    for replica, text in logs.values.items():
        hits = [r for r in parse_log(text or "") if pattern.search(r.msg)
                and r.labels.get("cluster", key) == key]
        if hits:
            out.append(f"{replica} log ({hits[-1].time[:19]}Z, {len(hits)} such line"
                       f"{'s' if len(hits) != 1 else ''}): {shorten(hits[-1].msg)} "
                       f"cluster={key}")
    return out


@check("cluster-ids", title="Cluster ids", inputs=(ISTIOD_PODS, ISTIO_SECRETS, ISTIO_CONFIGMAPS,
                                                    ISTIO_PODS, ISTIOD_LOGS),
       emits=("cluster-id-collision",))
def cluster_ids(ctx: CheckContext) -> list[Step]:
    """Find clusters sharing an id, and remote secrets keyed by istiod's own id or a taken one."""
    idents = {c: _identity(ctx, c) for c in ctx.cluster_names}
    evidence = [i.line() for i in idents.values()]
    findings: list[Finding] = []
    for cluster in ctx.focus:
        if withheld_secrets(ctx, cluster):
            evidence.append(f"{cluster}: not checked (this install reads no Secrets): whether a "
                            "remote secret is keyed by istiod's own id or by an id another "
                            "secret already took")
        findings += _secret_collisions(ctx, cluster, idents, evidence)
    findings += _shared_ids(ctx, idents, findings, evidence)
    return [ctx.step(TITLE, None, evidence, findings)]


def _secret_collisions(ctx: CheckContext, cluster: str, idents: dict[str, Identity],
                       evidence: list[str]) -> list[Finding]:
    """Secrets in `cluster` keyed by its istiod's own id, or by an id another secret took."""
    own = idents[cluster].istiod
    seen: dict[str, dict] = {}
    out = []
    for secret in sorted(peer_secrets(ctx.available(ISTIO_SECRETS).get(cluster, [])),
                         key=name_of):
        for key in secret_keys(secret):
            ref = f"{namespace_of(secret)}/{name_of(secret)}"
            if key in own:
                line = (f"{cluster}: Secret {ref} has data key {key}, istiod's own CLUSTER_ID: "
                        "istiod ignores it, so the cluster it was made for is never read")
                logs = _log_lines(ctx, cluster, OWN_ID_LOG, key)
            elif key in seen:
                line = (f"{cluster}: Secret {ref} has data key {key}, already registered from "
                        f"Secret {namespace_of(seen[key])}/{name_of(seen[key])}: istiod skips it")
                logs = _log_lines(ctx, cluster, DUPLICATE_LOG, key)
            else:
                seen[key] = secret
                continue
            peer = _peer_for(secret, key, cluster, idents)
            evidence.append(line)
            out.append(ctx.finding("cluster-id-collision", cluster=cluster,
                                   resource=f"Secret {ref}", evidence=[line, *logs],
                                   basis=[idents[cluster].line(), line],
                                   peer_cluster=peer, cluster_id=key, secret=name_of(secret),
                                   **_peer_defaults(ctx, peer, cluster)))
    return out


def _peer_for(secret: dict, key: str, cluster: str, idents: dict[str, Identity]) -> str:
    meant = made_for(secret)
    if meant and meant in idents and meant != cluster:
        return meant
    same = [c for c, i in idents.items() if i.id == key and c != cluster]
    return same[0] if same else (meant or key)


def _peer_defaults(ctx: CheckContext, peer: str, cluster: str) -> dict[str, str]:
    """Placeholders for a peer that is not a cluster of the mesh."""
    if peer in ctx.cluster_names:
        return {}
    return {"peer_context": f"<context of {peer}>",
            "peer_istio_namespace": ctx.info(cluster).istio_namespace}


def _shared_ids(ctx: CheckContext, idents: dict[str, Identity], found: list[Finding],
                evidence: list[str]) -> list[Finding]:
    """Clusters of the mesh whose istiod (or install) uses the same id."""
    groups: dict[str, list[str]] = {}
    for cluster, ident in idents.items():
        if ident.id:
            groups.setdefault(ident.id, []).append(cluster)
    out = []
    for cid, members in groups.items():
        if len(members) < 2:
            continue
        evidence.append(f"clusters {', '.join(members)} all use cluster id {cid}")
        if any(f.params.get("cluster_id") == cid and f.cluster in members for f in found):
            continue
        renamed = [c for c in members if c != cid]
        cluster = renamed[-1] if renamed else members[-1]
        if cluster not in ctx.focus:
            continue
        peer = next(c for c in members if c != cluster)
        line = (f"{cluster} and {peer} both use cluster id {cid}: "
                + "; ".join(idents[c].line() for c in (cluster, peer)))
        found = next((name_of(s) for s in peer_secrets(
            ctx.available(ISTIO_SECRETS).get(cluster, [])) if made_for(s) == peer), None)
        # No basis: with both clusters on one id, which secret is whose can only be guessed
        # from names, so the fix says how to confirm and deletes nothing.
        out.append(ctx.finding("cluster-id-collision", cluster=cluster,
                               resource=f"cluster {cluster}", evidence=[line], peer_cluster=peer,
                               cluster_id=cid, secret=found or f"istio-remote-secret-{peer}"))
    return out
