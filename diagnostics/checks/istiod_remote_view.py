"""Step 5b: istiod's view of each remote cluster, replica by replica, and why it does not read one.

A remote secret only tells istiod where a peer cluster is. Whether istiod actually reads it is
in `/debug/clusterz` (synced, syncing, timeout, closed, or absent when the kubeconfig never
became a client), on every replica, since each replica syncs on its own; `/debug/endpointShardz`
shows the consequence (no `Kubernetes/<peer>` shard). Why is in istiod's log (docs/
istio-surface.md §3.4), in the secret's kubeconfig (refused auth, loopback server) and in the
NetworkPolicies that select istiod. The check is command-agnostic: `why-local-only` runs it
for the clusters it examines, `remote-clusters` for the whole mesh. In an install that reads no
Secrets, istiod's own view names the peers, secrets and servers instead
(views/istiod_secretless.py), and what only a secret could tell is said to be not checked.
"""

from __future__ import annotations

from typing import Any

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import (CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS, ISTIOD_METRICS,
                                ISTIOD_PODS, ISTIO_SECRETS, NETWORK_POLICIES)
from diagnostics.model import Finding, Step
from diagnostics.parse.istiod_debug import service_shards
from diagnostics.parse.istiod_logs import Cause, ClusterEvent, decisive
from diagnostics.views.debug_refusal import DEBUG_REFUSED, refused_finding
from diagnostics.views.istiod_remote import (Egress, LoggedCause, PeerView, blocked, egress_lines,
                                             egress_of, log_line, peer_lines, peer_view,
                                             policies_of, repeats, replica_sole_unread,
                                             replica_table, replicas_of)
from diagnostics.views.istiod_secretless import (heard_peers, not_checked_line,
                                                 unexplained, withheld_secrets)
from diagnostics.views.remote_access import (describe_egress, insecure_options, inspect_kubeconfig,
                                             secret_kubeconfig_text)
from diagnostics.views.secrets import is_config_secret, is_remote_secret, secret_keys
from diagnostics.workloads import name_of, namespace_of

TITLE = "istiod's view of remote clusters"

NOT_SYNCED = "remote-cluster-not-synced"
KUBECONFIG_INVALID = "remote-kubeconfig-invalid"
UNREACHABLE = "remote-api-unreachable"
EGRESS_BLOCKED = "istiod-egress-blocked-by-networkpolicy"
CAUSE_IDS: dict[Cause, str] = {"kubeconfig": KUBECONFIG_INVALID, "dns": "remote-api-dns",
                               "tls": "remote-api-tls", "unauthorized": "remote-api-unauthorized",
                               "unreachable": UNREACHABLE}


# ---------------------------------------------------------------------------------- facts


# ------------------------------------------------------------------------------- the check


@check("istiod-remote-view", title=TITLE,
       inputs=(ISTIOD_PODS, ISTIO_SECRETS, CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS,
               ISTIOD_METRICS, NETWORK_POLICIES),  # HEARD_INPUTS among them
       emits=(NOT_SYNCED, *CAUSE_IDS.values(), EGRESS_BLOCKED, DEBUG_REFUSED))
def istiod_remote_view(ctx: CheckContext) -> list[Step]:
    """Ask every istiod replica whether it reads each peer it has a secret for, and if not, why."""
    return per_cluster(ctx, TITLE, ctx.focus, lambda cluster: _primary_step(ctx, cluster))


def _primary_step(ctx: CheckContext, cluster: str) -> Step:
    """One primary: the replica table, then each peer it holds a secret for."""
    pods = ctx.get(ISTIOD_PODS, cluster)
    ns = ctx.info(cluster).istio_namespace
    if not pods:
        return ctx.step(TITLE, cluster, [f"no istiod pod in {ns}: not a primary, nothing to ask"],
                        status="skip")
    withheld = withheld_secrets(ctx, cluster)
    if withheld is not None:
        return _secretless_step(ctx, cluster, pods, withheld.reason)
    secrets = [s for s in ctx.get(ISTIO_SECRETS, cluster) if is_remote_secret(s)]
    by_key = {k: s for s in secrets for k in secret_keys(s)}
    ids, _unsure = ctx.peers_by_id(cluster)  # an unknown id is the Remote secrets step's to say
    peers = [(i, p) for i, p in ids.items() if i in by_key]
    own_id = ctx.info(cluster).cluster_id
    if own_id in by_key:  # a peer carrying istiod's own id: its secret is ignored (Cluster ids)
        peers += [(own_id, c) for c in ctx.cluster_names
                  if c != cluster and ctx.info(c).cluster_id == own_id]
    replicas = replicas_of(ctx, cluster)
    evidence = replica_table(ctx, cluster, replicas, by_key, any(map(is_config_secret, secrets)))
    refused = {rep.pod: rep.refused for rep in replicas if rep.refused}
    findings: list[Finding] = [refused_finding(ctx, cluster, refused, pods)] if refused else []
    # For the topology picture: the replicas, and each peer's state on each of them.
    data: dict[str, Any] = {"replicas": sorted({name_of(p) for p in pods}
                                               | {rep.pod for rep in replicas}), "peers": []}
    if not peers:
        evidence.append("no remote secret keyed by a peer's cluster id (see Remote secrets)")
        step = ctx.step(TITLE, cluster, evidence, findings, status="skip")
        step.data = data
        return step
    allowed = insecure_options(pods)
    policies = policies_of(ctx, cluster, evidence)
    unknown = []
    sole = {rep.pod: replica_sole_unread(rep, [p for p, _ in peers]) for rep in replicas}
    for peer, name in peers:
        kubeconfig = inspect_kubeconfig(secret_kubeconfig_text(by_key[peer], peer), allowed)
        view = peer_view(peer, by_key[peer], kubeconfig, replicas, name, sole)
        evidence += peer_lines(view)
        about: list[Finding] = []
        if not view.statuses:
            unknown.append(peer)
            evidence.append(f"{name}: neither clusterz nor the log of any replica tells its state")
        elif view.failing:
            egress = egress_of(policies, pods, view)
            evidence += egress_lines(egress, view)
            about = _findings(ctx, cluster, view, blocked(egress), policies)
            findings += about
        data["peers"].append({"peer": view.name, "peer_id": peer, "status": dict(view.statuses),
                              "findings": [f.id for f in about]})
    step = ctx.step(TITLE, cluster, evidence, findings)
    step.incomplete = (bool(unknown) and not findings) or bool(refused)
    step.data = data
    return step


def _secretless_step(ctx: CheckContext, cluster: str, pods: list[dict], reason: str) -> Step:
    """This install reads no Secrets: every peer istiod's own view names, with the findings
    that view supports; a peer no replica reads and nothing explains stays unexplained."""
    replicas, views = heard_peers(ctx, cluster)
    evidence = [f"{reason.split(' (', 1)[0]}: istiod's own view stands in for the remote "
                "secrets; the peers are the clusters read and those istiod names", *replica_table(
                    ctx, cluster, replicas, {v.peer: v.secret for v in views})]
    refused = {rep.pod: rep.refused for rep in replicas if rep.refused}
    findings: list[Finding] = [refused_finding(ctx, cluster, refused, pods)] if refused else []
    if not views:
        evidence.append("istiod names no remote cluster and no other cluster was read")
        return ctx.step(TITLE, cluster, evidence, findings, status="skip")
    policies = policies_of(ctx, cluster, evidence)
    unknown, blind = [], []
    for view in views:
        evidence += [*peer_lines(view), not_checked_line(view)]
        if not view.statuses:
            unknown.append(view.name)
            evidence.append(f"{view.name}: neither clusterz nor the log of any replica tells its "
                            "state")
        elif unexplained(view):
            blind.append(view.name)
            evidence.append(f"{view.name}: no replica reads it, and neither clusterz nor the log "
                            "names a secret or a cause for it")
        elif view.failing:
            egress = egress_of(policies, pods, view)
            evidence += egress_lines(egress, view)
            findings += _findings(ctx, cluster, view, blocked(egress), policies)
    step = ctx.step(TITLE, cluster, evidence, findings,
                    status="warn" if blind and not findings else None)
    step.incomplete = (bool(unknown) and not findings) or bool(refused) or bool(blind)
    if blind:
        step.data["inconclusive"] = _blind_summary(ctx, cluster, blind)
    return step


def _blind_summary(ctx: CheckContext, cluster: str, peers: list[str]) -> str:
    ns = ctx.info(cluster).istio_namespace
    names = ", ".join(peers)
    return (f"istiod in {cluster} does not read {names}: no replica's clusterz lists "
            f"{'it' if len(peers) == 1 else 'them'} and istiod names no remote secret for "
            f"{'it' if len(peers) == 1 else 'them'}. This install reads no Secrets, so whether "
            f"a secret exists, is keyed by another cluster id, or holds a kubeconfig istiod "
            f"refuses was not checked: `kubectl get secret -n {ns} -l istio/multiCluster=true "
            f"--context={ctx.info(cluster).context_name}` shows the secrets.")


# --------------------------------------------------------------------------------- findings


def _findings(ctx: CheckContext, cluster: str, view: PeerView,
              egress: Egress | None, policies: list[dict] | None) -> list[Finding]:
    """The specific causes first (the catalog ranks them above), then the general symptom."""
    causes = _log_causes(view)
    findings = []
    kubeconfig = view.kubeconfig
    if kubeconfig.problem:
        findings.append(_kubeconfig_finding(ctx, cluster, view, causes))
    for cause, (replica, event, count) in causes.items():
        if cause == "kubeconfig" and kubeconfig.problem:
            continue  # already explained from the secret itself
        if cause == "unreachable" and (kubeconfig.loopback or egress):
            continue  # the loopback address or the policy is the specific cause of the timeouts
        findings.append(_cause_finding(ctx, cluster, view, cause, replica, event, count))
    if egress and not causes.keys() & {"dns", "tls", "unauthorized"}:
        findings.append(_egress_finding(ctx, cluster, view, egress, policies or [],
                                        causes.get("unreachable")))
    findings.append(_not_synced_finding(ctx, cluster, view))
    return findings


def _log_causes(view: PeerView) -> dict[Cause, LoggedCause]:
    """Per cause, the failing replica whose latest log line names it, and how often it did."""
    out: dict[Cause, LoggedCause] = {}
    for replica in view.failing:
        event = decisive(view.events.get(replica) or [])
        if event is None or event.cause is None or event.cause in out:
            continue
        out[event.cause] = (replica, event, repeats(view.events[replica], event))
    return out


def _server_params(view: PeerView) -> dict[str, Any]:
    k = view.kubeconfig
    return {"server": k.server or "unknown", "server_host": k.host or "unknown",
            "server_port": k.port or "<port>"}


def _status_lines(ctx: CheckContext, view: PeerView) -> list[str]:
    """Per failing replica: its clusterz status and what its endpointShardz lacks."""
    service, ns = ctx.args.get("service"), ctx.args.get("namespace") or "default"
    lines = []
    for replica, status in view.failing.items():
        if replica in view.notes:
            lines.append(f"{replica}: {view.notes[replica]}")
        elif status != "absent":
            lines.append(f"{replica}: clusterz lists {view.peer} as {status}")
        else:
            lines.append(f"{replica}: clusterz does not list {view.peer}")
        shards = view.shards.get(replica)
        if shards is None:
            continue
        if service and not service_shards(shards, service, ns):
            lines.append(f"{replica}: endpointShardz has no Kubernetes/{view.peer} shard for "
                         f"{service}.{ns}")
        elif not service and not any(s.count for s in shards):
            lines.append(f"{replica}: endpointShardz has no endpoint from {view.peer}")
    return lines


def _resource(view: PeerView) -> str:
    return f"Secret {view.secret_ref}"


def _not_synced_finding(ctx: CheckContext, cluster: str, view: PeerView) -> Finding:
    replica, status = view.worst
    return ctx.finding(NOT_SYNCED, cluster=cluster, resource=_resource(view),
                       evidence=_status_lines(ctx, view), istiod_pod=replica,
                       peer_cluster=view.name, sync_status=status, secret=view.secret_name)


def _cause_finding(ctx: CheckContext, cluster: str, view: PeerView, cause: Cause, replica: str,
                   event: ClusterEvent, count: int) -> Finding:
    evidence = [log_line(replica, event, count), f"server {view.server_origin}: "
                f"{view.kubeconfig.server or 'unknown'}"]
    params: dict[str, Any] = {"peer_cluster": view.name, "error": event.essential,
                              "secret": view.secret_name, "istiod_pod": replica,
                              **_server_params(view)}
    if cause == "kubeconfig":
        params["reason"] = event.essential
    if cause == "unauthorized":
        params["rejection"] = event.rejection or "credentials"
    return ctx.finding(CAUSE_IDS[cause], cluster=cluster, resource=_resource(view),
                       evidence=evidence, basis=_secret_basis(ctx, view, evidence), **params)


def _secret_basis(ctx: CheckContext, view: PeerView, evidence: list[str]) -> list[str]:
    """A fix that regenerates the peer's secret (`--name=<peer>`) rests on the failure read and
    on the peer stating that id itself (added to `evidence`, so the finding shows it)."""
    id_line = ctx.id_basis(view.name)
    if not id_line or view.name != view.peer or not view.secret_read:  # the guard's secret
        return []
    evidence.append(id_line)
    return list(evidence)


def _kubeconfig_finding(ctx: CheckContext, cluster: str, view: PeerView,
                        causes: dict[Cause, LoggedCause]) -> Finding:
    """Refused auth, invalid structure or a loopback server, seen in the kubeconfig itself."""
    k = view.kubeconfig
    logged = (causes.get("kubeconfig") or causes.get("unreachable")
              or next(iter(causes.values()), None))
    evidence = [f"kubeconfig for {view.name} {view.server_origin}: {k.problem}"
                + (f" (server {k.server}, auth {', '.join(k.auth)})" if k.server else "")]
    if logged:
        evidence.append(log_line(*logged))
    error = logged[1].essential if logged else _no_log_error(view)
    if error == k.problem:
        error = "istiod logs the same refusal"
    return ctx.finding(KUBECONFIG_INVALID, cluster=cluster, resource=_resource(view),
                       evidence=evidence, basis=_secret_basis(ctx, view, evidence),
                       peer_cluster=view.name, secret=view.secret_name,
                       server=k.server or "unknown", server_port=k.port or "<port>",
                       reason=k.problem, error=error)


def _no_log_error(view: PeerView) -> str:
    if not view.events:
        return "istiod's log was not read"
    return "no matching line in istiod's log"


def _egress_finding(ctx: CheckContext, cluster: str, view: PeerView,
                    egress: Egress, policies: list[dict],
                    logged: LoggedCause | None) -> Finding:
    pod, decision = egress
    host, port = view.kubeconfig.endpoint or ("unknown", "<port>")
    first = decision.restricting[0]
    evidence = [f"NetworkPolicy {name} selects {name_of(pod)} and restricts egress: "
                f"{describe_egress(_by_ref(policies, name))}" for name in decision.restricting]
    evidence.append(f"no egress rule admits TCP {host}:{port} ({view.kubeconfig.server} "
                    f"{view.server_origin})")
    if logged:
        evidence.append(log_line(*logged))
    return ctx.finding(EGRESS_BLOCKED, cluster=cluster, resource=f"NetworkPolicy {first}",
                       evidence=evidence, policy=first.split("/", 1)[-1], peer_cluster=view.name,
                       server_host=host, server_port=port)


def _by_ref(policies: list[dict], ref: str) -> dict:
    return next(p for p in policies if f"{namespace_of(p)}/{name_of(p)}" == ref)


# --------------------------------------------------------------------------------- evidence


