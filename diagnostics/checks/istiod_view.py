"""Step 5b: istiod's view of each remote cluster, replica by replica, and why it does not read one.

A remote secret only tells istiod where a peer cluster is. Whether istiod actually reads it is
in `/debug/clusterz` (synced, syncing, timeout, closed, or absent when the kubeconfig never
became a client), on every replica, since each replica syncs on its own; `/debug/endpointShardz`
shows the consequence (no `Kubernetes/<peer>` shard). Why is in istiod's log (docs/
istio-surface.md §3.4), in the secret's kubeconfig (refused auth, loopback server) and in the
NetworkPolicies that select istiod. The check is command-agnostic: `why-local-only` runs it
for the clusters it examines, `remote-clusters` for the whole mesh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diagnostics.checks.base import CheckContext, check, per_cluster
from diagnostics.checks.istiod_evidence import (CONTRADICTED, DEBUG_REFUSED, contradiction,
                                                metrics_note, metrics_status, refused_finding,
                                                sole_unread)
from diagnostics.checks.remote_reach import (EgressDecision, KubeconfigView, describe_egress,
                                             egress_decision, insecure_options, inspect_kubeconfig,
                                             secret_kubeconfig_text)
from diagnostics.checks.remote_secrets import is_config_secret, is_remote_secret, secret_keys
from diagnostics.facts import PerReplica, Unavailable
from diagnostics.inputs import (CLUSTERZ, ENDPOINT_SHARDZ, ISTIO_NS, ISTIO_SECRETS, ISTIOD_LOGS,
                                ISTIOD_METRICS, ISTIOD_PODS, Input, Resources)
from diagnostics.model import Finding, Step
from diagnostics.parse.istiod_debug import (ClusterSync, Shard, parse_clusterz,
                                            parse_endpoint_shardz, service_shards)
from diagnostics.parse.istiod_logs import (Cause, ClusterEvent, cluster_events, current, decisive,
                                           events_for, parse_log, shorten, sync_status_from_log)
from diagnostics.parse.istiod_metrics import MetricsError, remote_sync_status
from diagnostics.workloads import istiod_version, name_of, namespace_of

NETWORK_POLICIES = Resources("networkpolicies.networking.k8s.io", ISTIO_NS)
TITLE = "istiod's view of remote clusters"

NOT_SYNCED = "remote-cluster-not-synced"
KUBECONFIG_INVALID = "remote-kubeconfig-invalid"
UNREACHABLE = "remote-api-unreachable"
EGRESS_BLOCKED = "istiod-egress-blocked-by-networkpolicy"
CAUSE_IDS: dict[Cause, str] = {"kubeconfig": KUBECONFIG_INVALID, "dns": "remote-api-dns",
                               "tls": "remote-api-tls", "unauthorized": "remote-api-unauthorized",
                               "unreachable": UNREACHABLE}
# The further a status is from synced, the better it names the finding.
_STATUS_ORDER = ("absent", "closed", "timeout", "syncing", CONTRADICTED, "unknown")
# The most restrictive NetworkPolicy outcome among istiod's pods is the one that matters.
_VERDICT_ORDER = ("blocked", "unknown", "allowed", "unrestricted")

Egress = tuple[dict, EgressDecision]  # an istiod pod and what its policies decide
LoggedCause = tuple[str, ClusterEvent, int]  # replica, its decisive event, how often it repeated


# ---------------------------------------------------------------------------------- facts


@dataclass
class Replica:
    """What one istiod replica answered: clusterz, endpointShardz and its log's cluster events."""

    pod: str
    clusterz: list[ClusterSync] | None = None
    shards: list[Shard] | None = None
    events: list[ClusterEvent] | None = None
    missing: dict[str, str] = field(default_factory=dict)  # input -> why it was not read
    metrics: dict[str, str] | None = None  # istiod_remote_cluster_sync_status: cluster -> status
    refused: dict[str, int] = field(default_factory=dict)  # input -> HTTP 401/403
    version: tuple[int, int, int] | None = None

    @property
    def own(self) -> ClusterSync | None:
        """clusterz lists istiod's own (config) cluster first, without a secret."""
        return self.clusterz[0] if self.clusterz and not self.clusterz[0].secret else None

    @property
    def remotes(self) -> list[ClusterSync]:
        """The clusters istiod reads through secrets (never its own, whatever their id)."""
        own = self.own
        return [c for c in self.clusterz or [] if c is not own]


@dataclass
class PeerView:
    """One peer cluster as a primary's replicas see it."""

    peer: str  # the peer's cluster id: what clusterz, shards and logs call it
    secret: dict
    kubeconfig: KubeconfigView
    statuses: dict[str, str]  # replica -> synced | syncing | timeout | closed | absent
    events: dict[str, list[ClusterEvent]]  # replica -> current log events about the peer
    shards: dict[str, list[Shard]] = field(default_factory=dict)  # replica -> the peer's shards
    name: str = ""  # the peer as the report names it (its id, unless the id is shared)
    notes: dict[str, str] = field(default_factory=dict)  # replica -> where its status came from

    def __post_init__(self) -> None:
        self.name = self.name or self.peer

    @property
    def secret_ref(self) -> str:
        return f"{namespace_of(self.secret)}/{name_of(self.secret)}"

    @property
    def failing(self) -> dict[str, str]:
        return {r: s for r, s in self.statuses.items() if s != "synced"}

    @property
    def worst(self) -> tuple[str, str]:
        """(replica, status) of the replica furthest from synced."""
        return min(self.failing.items(), key=lambda rs: _STATUS_ORDER.index(rs[1])
                   if rs[1] in _STATUS_ORDER else len(_STATUS_ORDER))


def _read_replicas(ctx: CheckContext, inp: Input, cluster: str) -> PerReplica:
    """The input per replica; a wholly missing input becomes one `*` entry saying why."""
    try:
        return ctx.get(inp, cluster)
    except Unavailable as exc:
        verb = "could not read" if exc.captured else "not captured"
        return PerReplica(missing={"*": f"{verb} ({exc.reason})"},
                          refused={"*": exc.refused} if exc.refused else {})


def _replicas(ctx: CheckContext, cluster: str) -> list[Replica]:
    """Every replica any endpoint or log answered for, with what each one said."""
    clusterz = _read_replicas(ctx, CLUSTERZ, cluster)
    shardz = _read_replicas(ctx, ENDPOINT_SHARDZ, cluster)
    logs = _read_replicas(ctx, ISTIOD_LOGS, cluster)
    metrics = _read_replicas(ctx, ISTIOD_METRICS, cluster)
    versions = {name_of(p): istiod_version(p) for p in ctx.get(ISTIOD_PODS, cluster)}
    names: dict[str, None] = {}
    for per in (clusterz, shardz, logs):
        names.update(dict.fromkeys(p for p in [*per.values, *per.missing] if p != "*"))
    replicas = []
    for pod in names:
        rep = Replica(pod, version=versions.get(pod))
        _add_metrics(rep, metrics)
        if pod in clusterz.values:
            rep.clusterz = parse_clusterz(clusterz.values[pod])
        if pod in shardz.values:
            rep.shards = parse_endpoint_shardz(shardz.values[pod])
        if pod in logs.values:
            rep.events = cluster_events(parse_log(logs.values[pod] or ""))
        for label, per in (("clusterz", clusterz), ("endpointShardz", shardz), ("log", logs)):
            if pod not in per.values:
                rep.missing[label] = per.missing.get(pod) or per.missing.get("*") or "no answer"
            if per.refused.get(pod) or per.refused.get("*"):
                rep.refused[label] = per.refused.get(pod) or per.refused["*"]
        replicas.append(rep)
    return replicas


def _add_metrics(rep: Replica, metrics: PerReplica) -> None:
    """The replica's remote-cluster states from /metrics (1.29+), where it answered."""
    if rep.pod not in metrics.values:
        return
    try:
        rep.metrics = remote_sync_status(metrics.values[rep.pod])
    except MetricsError as exc:
        rep.missing["metrics"] = f"could not read ({exc})"


def _peer_view(peer: str, secret: dict, kubeconfig: KubeconfigView,
               replicas: list[Replica], name: str = "",
               sole: dict[str, str | None] | None = None) -> PeerView:
    """Each replica's status for the peer: clusterz when it answered (unless its log and shards
    contradict a `synced`), else /metrics, else what its log says."""
    view = PeerView(peer, secret, kubeconfig, {}, {}, name=name)
    sole = sole or {}
    for rep in replicas:
        own = rep.own
        if rep.shards is not None:  # shards under istiod's own id are its own cluster's
            view.shards[rep.pod] = [s for s in rep.shards if s.cluster == peer
                                    and not (own and own.id == peer)]
        about = (events_for(rep.events, peer, view.secret_ref, kubeconfig.endpoint,
                            anonymous=sole.get(rep.pod) == peer)
                 if rep.events is not None else None)
        if about is not None:
            view.events[rep.pod] = current(about)
        status = _replica_status(rep, peer, about, view)
        if status:
            view.statuses[rep.pod] = status
    return view


def _replica_status(rep: Replica, peer: str, about: list[ClusterEvent] | None,
                    view: PeerView) -> str | None:
    if rep.clusterz is not None:
        status = next((c.status for c in rep.remotes if c.id == peer), "absent")
        why = contradiction(about or [], view.shards.get(rep.pod)) if status == "synced" else None
        if why:
            view.notes[rep.pod] = f"clusterz lists {peer} as synced, but {why}"
            return CONTRADICTED
        return status
    note = metrics_note(rep.metrics, peer, rep.version)
    if note:
        view.notes[rep.pod] = note
    from_metrics = metrics_status(rep.metrics, peer, rep.version)
    if from_metrics:
        return from_metrics
    return sync_status_from_log(about) if about is not None else None


def _sole_unread(rep: Replica, peers: list[str]) -> str | None:
    """The one peer a log line naming only the remote reader identity can be about."""
    def status_of(peer: str) -> str | None:
        if rep.clusterz is not None:
            return next((c.status for c in rep.remotes if c.id == peer), "absent")
        return (rep.metrics or {}).get(peer)

    def has_endpoints(peer: str) -> bool | None:
        if rep.shards is None:
            return None
        return any(s.endpoints for s in rep.shards if s.cluster == peer)

    return sole_unread(peers, status_of, has_endpoints)


# ------------------------------------------------------------------------------- the check


@check("istiod-remote-view", title=TITLE,
       inputs=(ISTIOD_PODS, ISTIO_SECRETS, CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS,
               ISTIOD_METRICS, NETWORK_POLICIES),
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
    secrets = [s for s in ctx.get(ISTIO_SECRETS, cluster) if is_remote_secret(s)]
    by_key = {k: s for s in secrets for k in secret_keys(s)}
    ids, _unsure = ctx.peers_by_id(cluster)  # an unknown id is the Remote secrets step's to say
    peers = [(i, p) for i, p in ids.items() if i in by_key]
    own_id = ctx.info(cluster).cluster_id
    if own_id in by_key:  # a peer carrying istiod's own id: its secret is ignored (Cluster ids)
        peers += [(own_id, c) for c in ctx.cluster_names
                  if c != cluster and ctx.info(c).cluster_id == own_id]
    replicas = _replicas(ctx, cluster)
    evidence = _table(ctx, cluster, replicas, by_key, any(map(is_config_secret, secrets)))
    refused = {rep.pod: rep.refused for rep in replicas if rep.refused}
    findings: list[Finding] = [refused_finding(ctx, cluster, refused, pods)] if refused else []
    if not peers:
        evidence.append("no remote secret keyed by a peer's cluster id (see Remote secrets)")
        return ctx.step(TITLE, cluster, evidence, findings, status="skip")
    allowed = insecure_options(pods)
    policies = _policies(ctx, cluster, evidence)
    unknown = []
    sole = {rep.pod: _sole_unread(rep, [p for p, _ in peers]) for rep in replicas}
    for peer, name in peers:
        kubeconfig = inspect_kubeconfig(secret_kubeconfig_text(by_key[peer], peer), allowed)
        view = _peer_view(peer, by_key[peer], kubeconfig, replicas, name, sole)
        evidence += _peer_lines(view)
        if not view.statuses:
            unknown.append(peer)
            evidence.append(f"{name}: neither clusterz nor the log of any replica tells its state")
        elif view.failing:
            egress = _egress(policies, pods, view)
            evidence += _egress_lines(egress, view)
            findings += _findings(ctx, cluster, view, _blocked(egress), policies)
    step = ctx.step(TITLE, cluster, evidence, findings)
    step.incomplete = (bool(unknown) and not findings) or bool(refused)
    return step


def _policies(ctx: CheckContext, cluster: str, evidence: list[str]) -> list[dict] | None:
    """NetworkPolicies of the Istio namespace, or None (noted) when they could not be read."""
    try:
        return ctx.get(NETWORK_POLICIES, cluster)
    except Unavailable as exc:
        evidence.append(f"NetworkPolicies in {ctx.info(cluster).istio_namespace}: not read "
                        f"({exc.reason})")
        return None


def _egress(policies: list[dict] | None, pods: list[dict], view: PeerView) -> Egress | None:
    """The istiod pod whose policies are most restrictive towards the peer's API server."""
    if policies is None or view.kubeconfig.endpoint is None or not pods:
        return None
    host, port = view.kubeconfig.endpoint
    decisions = [(pod, egress_decision(policies, pod, host, port)) for pod in pods]
    return min(decisions, key=lambda pd: _VERDICT_ORDER.index(pd[1].verdict))


def _blocked(egress: Egress | None) -> Egress | None:
    return egress if egress and egress[1].verdict == "blocked" else None


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
        out[event.cause] = (replica, event, _repeats(view.events[replica], event))
    return out


def _repeats(events: list[ClusterEvent], event: ClusterEvent) -> int:
    """How many lines of the same kind named the same cause (istiod retries every few seconds)."""
    return sum(1 for e in events if e.kind == event.kind and e.cause == event.cause
               and (e.cluster is None) == (event.cluster is None))


def _log_line(replica: str, event: ClusterEvent, count: int) -> str:
    when = event.record.time[:19] + "Z" if len(event.record.time) >= 19 else event.record.time
    times = f", {count} such lines" if count > 1 else ""
    return f"{replica} log ({when}{times}): {shorten(event.record.msg)}"


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
        elif not service and not any(s.endpoints for s in shards):
            lines.append(f"{replica}: endpointShardz has no endpoint from {view.peer}")
    return lines


def _resource(view: PeerView) -> str:
    return f"Secret {view.secret_ref}"


def _not_synced_finding(ctx: CheckContext, cluster: str, view: PeerView) -> Finding:
    replica, status = view.worst
    return ctx.finding(NOT_SYNCED, cluster=cluster, resource=_resource(view),
                       evidence=_status_lines(ctx, view), istiod_pod=replica,
                       peer_cluster=view.name, sync_status=status, secret=name_of(view.secret))


def _cause_finding(ctx: CheckContext, cluster: str, view: PeerView, cause: Cause, replica: str,
                   event: ClusterEvent, count: int) -> Finding:
    evidence = [_log_line(replica, event, count), f"server in {view.secret_ref}: "
                f"{view.kubeconfig.server or 'unknown'}"]
    params: dict[str, Any] = {"peer_cluster": view.name, "error": event.essential,
                              "secret": name_of(view.secret), "istiod_pod": replica,
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
    if not id_line or view.name != view.peer:
        return []
    evidence.append(id_line)
    return list(evidence)


def _kubeconfig_finding(ctx: CheckContext, cluster: str, view: PeerView,
                        causes: dict[Cause, LoggedCause]) -> Finding:
    """Refused auth, invalid structure or a loopback server, seen in the kubeconfig itself."""
    k = view.kubeconfig
    logged = (causes.get("kubeconfig") or causes.get("unreachable")
              or next(iter(causes.values()), None))
    evidence = [f"kubeconfig for {view.name} in {view.secret_ref}: {k.problem}"
                + (f" (server {k.server}, auth {', '.join(k.auth)})" if k.server else "")]
    if logged:
        evidence.append(_log_line(*logged))
    error = logged[1].essential if logged else _no_log_error(view)
    if error == k.problem:
        error = "istiod logs the same refusal"
    return ctx.finding(KUBECONFIG_INVALID, cluster=cluster, resource=_resource(view),
                       evidence=evidence, basis=_secret_basis(ctx, view, evidence),
                       peer_cluster=view.name, secret=name_of(view.secret),
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
    evidence.append(f"no egress rule admits TCP {host}:{port} ({view.kubeconfig.server} in "
                    f"{view.secret_ref})")
    if logged:
        evidence.append(_log_line(*logged))
    return ctx.finding(EGRESS_BLOCKED, cluster=cluster, resource=f"NetworkPolicy {first}",
                       evidence=evidence, policy=first.split("/", 1)[-1], peer_cluster=view.name,
                       server_host=host, server_port=port)


def _by_ref(policies: list[dict], ref: str) -> dict:
    return next(p for p in policies if f"{namespace_of(p)}/{name_of(p)}" == ref)


# --------------------------------------------------------------------------------- evidence


def _table(ctx: CheckContext, cluster: str, replicas: list[Replica],
           by_key: dict[str, dict], external: bool = False) -> list[str]:
    """`replica | cluster | clusterz status | endpointShardz`, one line per replica and cluster.

    Rows are matched to clusterz entries and shards by the cluster id each cluster carries,
    never by its name. istiod's own cluster is clusterz's first entry; an external istiod's
    own (config) cluster is the one its config-type secret names, and it does not read the
    cluster it runs in."""
    service, ns = ctx.args.get("service"), ctx.args.get("namespace")
    what = f"{service}.{ns}" if service else "all services"
    lines = [f"istiod replica | cluster | clusterz | endpointShardz ({what})"]
    carried = {c.cluster_id for c in ctx.clusters if c.cluster_id}
    known = ctx.known_ids()
    for rep in replicas:
        listed = {c.id: c for c in rep.remotes}
        own = rep.own
        own_id = own.id if own else ctx.info(cluster).cluster_id
        if external:
            lines.append(f"{rep.pod} | {cluster} | not read (external control plane: it reads "
                         "the clusters it serves) | -")
            if own:
                status = _status_cell(rep, own, own=True, has_secret=False, in_mesh=True)
                status = status.replace("(own cluster)", "(config cluster, config-type secret)")
                lines.append(f"{rep.pod} | {known.get(own.id, own.id)} | {status} | "
                             f"{_shard_cell(rep, own.id, service, ns)}")
        else:
            status = _status_cell(rep, own, own=True, has_secret=False, in_mesh=True)
            if own and (own.id != cluster or ctx.info(cluster).carried_id):
                status += f" as cluster id {own.id}"
            lines.append(f"{rep.pod} | {cluster} | {status} | "
                         f"{_shard_cell(rep, own.id if own else cluster, service, ns)}")
        for other in ctx.cluster_names:
            cid = ctx.info(other).cluster_id
            if other == cluster or (external and own and cid == own.id):
                continue
            if cid is None:
                lines.append(f"{rep.pod} | {ctx.label(other)} | cluster id unknown: no clusterz "
                             "entry can be matched to it | -")
                continue
            status = _status_cell(rep, listed.get(cid), own=False, has_secret=cid in by_key,
                                  in_mesh=True)
            shard = _shard_cell(rep, cid, service, ns)
            if own_id == cid:
                shard = f"(shards of {cid} would be istiod's own: same cluster id)"
            shared = ctx.info(other).carried_id
            name = other if cid == other and not shared else f"{other} (cluster id {cid})"
            lines.append(f"{rep.pod} | {name} | {status} | {shard}")
        for cid in (i for i in listed if i not in carried):
            status = _status_cell(rep, listed[cid], own=False, has_secret=True, in_mesh=False)
            lines.append(f"{rep.pod} | {cid} | {status} | {_shard_cell(rep, cid, service, ns)}")
        lines += [f"{rep.pod}: {label} {why}" for label, why in rep.missing.items()]
    return lines


def _status_cell(rep: Replica, entry: ClusterSync | None, *, own: bool, has_secret: bool,
                 in_mesh: bool) -> str:
    if rep.clusterz is None:
        return "not read"
    if entry is None and own and rep.clusterz and all(c.secret for c in rep.clusterz):
        return "not listed (before 1.22 clusterz lists remote clusters only)"
    if entry is None:
        return "absent" if has_secret or own else "absent (no remote secret)"
    if own or not entry.secret:
        return f"{entry.status} (own cluster)"
    stranger = "" if in_mesh else ", an id no cluster read carries"
    return f"{entry.status} (secret {entry.secret}{stranger})"


def _shard_cell(rep: Replica, name: str, service: str | None, ns: str | None) -> str:
    if rep.shards is None:
        return "not read"
    if service:
        shards = [s for s in service_shards(rep.shards, service, ns or "default")
                  if s.cluster == name]
        count = sum(len(s.endpoints) for s in shards)
        return f"{count} endpoint{'s' if count != 1 else ''}" if shards else \
            f"no Kubernetes/{name} shard"
    services = {s.hostname for s in rep.shards if s.cluster == name and s.endpoints}
    return f"{len(services)} service{'s' if len(services) != 1 else ''}"


def _peer_lines(view: PeerView) -> list[str]:
    k = view.kubeconfig
    where = (f"server {k.server}, auth {', '.join(k.auth)}" if k.server
             else "kubeconfig unusable")
    lines = [f"{view.name}: secret {view.secret_ref}, {where}"]
    if k.problem:
        lines.append(f"{view.name}: {k.problem}")
    lines += [f"{view.name}: {replica}: {note}" for replica, note in view.notes.items()]
    if not view.failing and view.statuses:
        lines.append(f"{view.name}: synced on {len(view.statuses)} of {len(view.statuses)} "
                     f"replica{'s' if len(view.statuses) != 1 else ''}")
    for replica, events in view.events.items():
        event = decisive(events)
        if event is not None:
            lines.append(f"{view.name}: {_log_line(replica, event, _repeats(events, event))}")
        timeouts = [e for e in events if e.kind == "sync_timeout"]
        if timeouts:
            lines.append(f"{view.name}: {replica} log: {shorten(timeouts[-1].record.msg)}")
    return lines


def _egress_lines(egress: Egress | None, view: PeerView) -> list[str]:
    """What the NetworkPolicies selecting istiod make of a connection to the peer's server."""
    if egress is None:
        return []
    host, port = view.kubeconfig.endpoint or ("unknown", "<port>")
    pod, decision = egress
    target = f"TCP {host}:{port} from {name_of(pod)}"
    if decision.verdict == "unrestricted":
        return [f"{view.name}: no NetworkPolicy restricts {target}"]
    policies = ", ".join(decision.restricting)
    if decision.verdict == "allowed":
        return [f"{view.name}: NetworkPolicy {', '.join(decision.admitting)} admits {target}"]
    if decision.verdict == "unknown":
        return [f"{view.name}: NetworkPolicy {policies} restricts egress; whether it admits "
                f"{target} depends on what the name or named port resolves to"]
    return [f"{view.name}: NetworkPolicy {policies} restricts egress and admits no {target}"]
