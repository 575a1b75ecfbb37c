"""Step 0 of every multicluster question: which clusters were read, and which the mesh names.

One cluster is not the mesh. A kubeconfig's current context reaches one cluster, while the
mesh names its others in many places: the keys of remote secrets, istiod's clusterz, the
`fromRegistry` entries of meshNetworks, a remote's `controlPlaneClusters` annotation. A
question about traffic across clusters, about istiod reading its peers or about a shared root
of trust cannot be answered `healthy` from a view that lacks the peers: the step lists what was
not read and how to add it, and the answer is inconclusive unless a problem was found anyway.
It is also where each cluster read is introduced: its id, what stated it, and its context; its
data also carries each cluster's data plane (how many namespaces use sidecars, how many use
ambient), which the topology picture shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diagnostics.checking import CheckContext, check
from diagnostics.facts import PerReplica
from diagnostics.inputs import CLUSTERZ, ISTIO_CONFIGMAPS, ISTIO_SECRETS, NAMESPACES
from diagnostics.model import Finding, OVERRIDES, Step
from diagnostics.parse.istiod_debug import parse_clusterz
from diagnostics.views.ambient import enrolled_counts
from diagnostics.views.workload import SYSTEM_NAMESPACES
from diagnostics.views.mesh import annotated_control_planes, mesh_networks, registry_networks
from diagnostics.views.secrets import (CLUSTER_ANNOTATION, is_config_secret, is_remote_secret,
                                       made_for, secret_keys)
from diagnostics.workloads import name_of, namespace_of

TITLE = "Clusters of the mesh"
HOW_TO_ADD = ("add the clusters not read: their kubeconfig contexts with --context (repeatable), "
              "a --kubeconfig whose every context is a cluster of the mesh, or the config "
              "file's clusters: list (name: <cluster id>, context: <context>)")


@dataclass
class Named:
    """Cluster ids the clusters read name, with where each was named."""

    by: dict[str, list[str]] = field(default_factory=dict)  # id -> "Secret ns/x in cluster1"
    # id -> (the secret keyed by it, the id that secret was created for): a key that is not
    # the id of the cluster its secret was made for (istioctl's name, the annotation)
    misnamed: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, cid: str, where: str) -> None:
        places = self.by.setdefault(cid, [])
        if where not in places:
            places.append(where)


def _named(ctx: CheckContext) -> Named:
    named = Named()
    for cluster, secrets in ctx.available(ISTIO_SECRETS).items():
        for s in secrets:
            ref = f"Secret {namespace_of(s)}/{name_of(s)} in {cluster}"
            if is_config_secret(s):
                meant = ((s.get("metadata") or {}).get("annotations") or {}).get(CLUSTER_ANNOTATION)
                if meant:
                    named.add(str(meant), ref)
            elif is_remote_secret(s):
                for key in secret_keys(s):
                    named.add(key, ref)
                    meant = made_for(s)
                    if meant and meant != key:
                        named.misnamed.setdefault(key, (ref, meant))
    for cluster, per in ctx.available(CLUSTERZ).items():
        for replica, body in sorted((per or PerReplica()).values.items()):
            for entry in parse_clusterz(body):
                named.add(entry.id, f"clusterz of {replica} ({cluster})")
    for cluster, cms in ctx.available(ISTIO_CONFIGMAPS).items():
        for cid in registry_networks(mesh_networks(cms)):
            named.add(cid, f"meshNetworks in {cluster}")
    for cluster, namespaces in ctx.available(NAMESPACES).items():
        istio_ns = ctx.info(cluster).istio_namespace
        ns = next((n for n in namespaces if name_of(n) == istio_ns), None)
        for cid in annotated_control_planes(ns) or []:
            if cid != "*":
                named.add(cid, f"namespace {istio_ns} annotation in {cluster}")
    return named


def _read_line(ctx: CheckContext, cluster: str) -> str:
    info = ctx.info(cluster)
    if info.cluster_id is None:
        said = ("its cluster id could not be learnt (no istiod, install values or sidecar "
                "states it)")
    else:
        said = f"cluster id {info.cluster_id} from {info.id_origin}"
    if info.named_by:
        said = f"named by meshbot's {info.named_by}; {said}"
    notes = f"; {'; '.join(info.notes)}" if info.notes else ""
    return f"read: {info.label}: {said}{notes}"


def _unread_lines(ctx: CheckContext, named: Named
                  ) -> tuple[list[str], list[str], list[str]]:
    """(evidence lines, unread ids, misnamed ids): ids named that no cluster read carries. A
    cluster read whose id is unknown, or shared with another, may be one of them: then they
    are said to be possibly that cluster, and count as unread only when there are more of
    them. A secret's key naming no cluster read, on a secret made for one that was read, is
    misnamed: that cluster under another id, never unread."""
    carried = {c.cluster_id for c in ctx.clusters if c.cluster_id}
    unmatched = [cid for cid in named.by if cid not in carried]
    aliases = [cid for cid in unmatched if named.misnamed.get(cid, ("", ""))[1] in carried]
    lines = [f"{cid}: the data key of {named.misnamed[cid][0]}, a secret made for "
             f"{named.misnamed[cid][1]}, which was read: that cluster under another id, not "
             "one left unread (`remote-clusters` checks the key)" for cid in aliases]
    unmatched = [cid for cid in unmatched if cid not in aliases]
    counts = [c.cluster_id for c in ctx.clusters]
    vague = [c.name for c in ctx.clusters if c.cluster_id is None or counts.count(c.cluster_id) > 1]
    if unmatched and len(unmatched) <= len(vague):
        return lines + [f"{cid}: named by {'; '.join(named.by[cid])}; no cluster read carries "
                        f"this id, but {' or '.join(vague)} may be it (cluster id unknown or "
                        "shared)" for cid in unmatched], [], aliases
    lines += [f"not read: {cid}, named by {'; '.join(named.by[cid])}" for cid in unmatched]
    if unmatched and vague:
        lines.append(f"{', '.join(vague)}: cluster id unknown or shared, so it may be one of "
                     f"{', '.join(unmatched)}")
    return lines, unmatched, aliases


def _override_findings(ctx: CheckContext) -> list[Finding]:
    """The config file names a cluster one way and the cluster itself says another."""
    out = []
    for info in ctx.clusters:
        if info.named_by in OVERRIDES and info.discovered_id:
            line = (f"{info.label}: meshbot's {info.named_by} names it {info.name}; the cluster "
                    f"says its id is {info.discovered_id} ({info.id_origin})")
            out.append(ctx.finding("cluster-name-mismatch", cluster=info.name,
                                   resource=f"cluster {info.name}", evidence=[line],
                                   configured=info.name, discovered=info.discovered_id,
                                   origin=info.named_by))
    return out


@check("mesh-membership", title=TITLE,
       inputs=(ISTIO_SECRETS, CLUSTERZ, ISTIO_CONFIGMAPS, NAMESPACES),
       emits=("cluster-name-mismatch",))
def mesh_membership(ctx: CheckContext) -> list[Step]:
    """List the clusters read with their ids, and the clusters the mesh names that were not
    read; a multicluster answer from such a partial view is never healthy."""
    named = _named(ctx)
    evidence = [_read_line(ctx, c) for c in ctx.cluster_names]
    lines, unread, misnamed = _unread_lines(ctx, named)
    evidence += lines
    why = ""
    if unread:
        why = (f"Only {', '.join(ctx.label(c) for c in ctx.cluster_names)} "
               f"{'was' if len(ctx.cluster_names) == 1 else 'were'} read; the mesh also names "
               f"{', '.join(unread)}, which could not be examined")
    elif len(ctx.cluster_names) == 1 and set(named.by) <= {ctx.info(ctx.cluster_names[0]).cluster_id}:
        why = (f"Only {ctx.label(ctx.cluster_names[0])} was read and nothing in it names "
               "another cluster, so nothing could be compared across clusters")
    if why:
        evidence.append(f"{HOW_TO_ADD[0].upper()}{HOW_TO_ADD[1:]}")
    findings = _override_findings(ctx)
    step = ctx.step(TITLE, None, evidence, findings, status="warn" if why or misnamed else None)
    step.data["unread"] = unread
    step.data["data_planes"] = {
        c: enrolled_counts(ns, (ctx.info(c).istio_namespace, *SYSTEM_NAMESPACES))
        for c, ns in ctx.available(NAMESPACES).items()}
    if why:
        step.incomplete = True
        step.data["inconclusive"] = f"{why}: {HOW_TO_ADD}."
    return [step]
