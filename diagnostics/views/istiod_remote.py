"""istiod's view of remote clusters, replica by replica: clusterz, endpointShardz, /metrics and
the log's cluster events per replica, each peer's status and shards as each replica sees it,
the NetworkPolicies that decide istiod's egress, and the evidence lines the table shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from diagnostics.checking import CheckContext
from diagnostics.facts import PerReplica, Unavailable
from diagnostics.inputs import (CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS, ISTIOD_METRICS,
                                ISTIOD_PODS, NETWORK_POLICIES)
from diagnostics.parse.istiod_debug import (ClusterSync, Shard, parse_clusterz,
                                            parse_endpoint_shardz, service_shards)
from diagnostics.parse.istiod_logs import (ClusterEvent, current, decisive, events_for,
                                           log_cluster_events, shorten, sync_status_from_log)
from diagnostics.parse.istiod_metrics import MetricsError, remote_sync_status
from diagnostics.views.debug_refusal import read_per_replica
from diagnostics.views.istiod_evidence import (CONTRADICTED, contradiction, metrics_note,
                                               metrics_status, sole_unread)
from diagnostics.views.remote_access import EgressDecision, KubeconfigView, egress_decision
from diagnostics.workloads import istiod_version, name_of, namespace_of


# The further a status is from synced, the better it names the finding.
STATUS_ORDER = ("absent", "closed", "timeout", "syncing", CONTRADICTED, "unknown")
# The most restrictive NetworkPolicy outcome among istiod's pods is the one that matters.
VERDICT_ORDER = ("blocked", "unknown", "allowed", "unrestricted")
Egress = tuple[dict, EgressDecision]  # an istiod pod and what its policies decide
LoggedCause = tuple[str, ClusterEvent, int]  # replica, its decisive event, how often it repeated


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
    secret: dict  # as read; without Secret reads, only the name istiod gives it ({}: none)
    kubeconfig: KubeconfigView
    statuses: dict[str, str]  # replica -> synced | syncing | timeout | closed | absent
    events: dict[str, list[ClusterEvent]]  # replica -> current log events about the peer
    shards: dict[str, list[Shard]] = field(default_factory=dict)  # replica -> the peer's shards
    name: str = ""  # the peer as the report names it (its id, unless the id is shared)
    notes: dict[str, str] = field(default_factory=dict)  # replica -> where its status came from
    secret_read: bool = True  # False: this install reads no Secrets; istiod's view stands in

    def __post_init__(self) -> None:
        self.name = self.name or self.peer

    @property
    def secret_ref(self) -> str:
        if not self.secret:
            return f"<remote secret for {self.peer}>"
        return f"{namespace_of(self.secret)}/{name_of(self.secret)}"

    @property
    def secret_name(self) -> str:
        return name_of(self.secret) or f"<remote secret for {self.peer}>"

    @property
    def server_origin(self) -> str:
        """Where the server address came from, as evidence says it."""
        return f"in {self.secret_ref}" if self.secret_read else "as istiod's log names it"

    @property
    def failing(self) -> dict[str, str]:
        return {r: s for r, s in self.statuses.items() if s != "synced"}

    @property
    def worst(self) -> tuple[str, str]:
        """(replica, status) of the replica furthest from synced."""
        return min(self.failing.items(), key=lambda rs: STATUS_ORDER.index(rs[1])
                   if rs[1] in STATUS_ORDER else len(STATUS_ORDER))


def replicas_of(ctx: CheckContext, cluster: str) -> list[Replica]:
    """Every replica any endpoint or log answered for, with what each one said."""
    clusterz = read_per_replica(ctx, CLUSTERZ, cluster)
    shardz = read_per_replica(ctx, ENDPOINT_SHARDZ, cluster)
    logs = read_per_replica(ctx, ISTIOD_LOGS, cluster)
    metrics = read_per_replica(ctx, ISTIOD_METRICS, cluster)
    versions = {name_of(p): istiod_version(p) for p in ctx.get(ISTIOD_PODS, cluster)}
    names: dict[str, None] = {}
    for per in (clusterz, shardz, logs):
        names.update(dict.fromkeys(p for p in [*per.values, *per.missing] if p != "*"))
    replicas = []
    for pod in names:
        rep = Replica(pod, version=versions.get(pod))
        add_metrics(rep, metrics)
        if pod in clusterz.values:
            rep.clusterz = parse_clusterz(clusterz.values[pod])
        if pod in shardz.values:
            rep.shards = parse_endpoint_shardz(shardz.values[pod])
        if pod in logs.values:
            rep.events = log_cluster_events(logs.values[pod] or "")
        for label, per in (("clusterz", clusterz), ("endpointShardz", shardz), ("log", logs)):
            if pod not in per.values:
                rep.missing[label] = per.missing.get(pod) or per.missing.get("*") or "no answer"
            if per.refused.get(pod) or per.refused.get("*"):
                rep.refused[label] = per.refused.get(pod) or per.refused["*"]
        replicas.append(rep)
    return replicas


def add_metrics(rep: Replica, metrics: PerReplica) -> None:
    """The replica's remote-cluster states from /metrics (1.29+), where it answered."""
    if rep.pod not in metrics.values:
        return
    try:
        rep.metrics = remote_sync_status(metrics.values[rep.pod])
    except MetricsError as exc:
        rep.missing["metrics"] = f"could not read ({exc})"


def peer_view(peer: str, secret: dict, kubeconfig: KubeconfigView,
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
        status = replica_status(rep, peer, about, view)
        if status:
            view.statuses[rep.pod] = status
    return view


def replica_status(rep: Replica, peer: str, about: list[ClusterEvent] | None,
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


def replica_sole_unread(rep: Replica, peers: list[str]) -> str | None:
    """The one peer a log line naming only the remote reader identity can be about."""
    def status_of(peer: str) -> str | None:
        if rep.clusterz is not None:
            return next((c.status for c in rep.remotes if c.id == peer), "absent")
        return (rep.metrics or {}).get(peer)

    def has_endpoints(peer: str) -> bool | None:
        if rep.shards is None:
            return None
        return any(s.count for s in rep.shards if s.cluster == peer)

    return sole_unread(peers, status_of, has_endpoints)


def policies_of(ctx: CheckContext, cluster: str, evidence: list[str]) -> list[dict] | None:
    """NetworkPolicies of the Istio namespace, or None (noted) when they could not be read."""
    try:
        return ctx.get(NETWORK_POLICIES, cluster)
    except Unavailable as exc:
        evidence.append(f"NetworkPolicies in {ctx.info(cluster).istio_namespace}: not read "
                        f"({exc.reason})")
        return None


def egress_of(policies: list[dict] | None, pods: list[dict], view: PeerView) -> Egress | None:
    """The istiod pod whose policies are most restrictive towards the peer's API server."""
    if policies is None or view.kubeconfig.endpoint is None or not pods:
        return None
    host, port = view.kubeconfig.endpoint
    decisions = [(pod, egress_decision(policies, pod, host, port)) for pod in pods]
    return min(decisions, key=lambda pd: VERDICT_ORDER.index(pd[1].verdict))


def blocked(egress: Egress | None) -> Egress | None:
    return egress if egress and egress[1].verdict == "blocked" else None


def repeats(events: list[ClusterEvent], event: ClusterEvent) -> int:
    """How many lines of the same kind named the same cause (istiod retries every few seconds)."""
    return sum(1 for e in events if e.kind == event.kind and e.cause == event.cause
               and (e.cluster is None) == (event.cluster is None))


def log_line(replica: str, event: ClusterEvent, count: int) -> str:
    when = event.record.time[:19] + "Z" if len(event.record.time) >= 19 else event.record.time
    times = f", {count} such lines" if count > 1 else ""
    return f"{replica} log ({when}{times}): {shorten(event.record.msg)}"


def replica_table(ctx: CheckContext, cluster: str, replicas: list[Replica],
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
                status = status_cell(rep, own, own=True, has_secret=False, in_mesh=True)
                status = status.replace("(own cluster)", "(config cluster, config-type secret)")
                lines.append(f"{rep.pod} | {known.get(own.id, own.id)} | {status} | "
                             f"{shard_cell(rep, own.id, service, ns)}")
        else:
            status = status_cell(rep, own, own=True, has_secret=False, in_mesh=True)
            if own and (own.id != cluster or ctx.info(cluster).carried_id):
                status += f" as cluster id {own.id}"
            lines.append(f"{rep.pod} | {cluster} | {status} | "
                         f"{shard_cell(rep, own.id if own else cluster, service, ns)}")
        for other in ctx.cluster_names:
            cid = ctx.info(other).cluster_id
            if other == cluster or (external and own and cid == own.id):
                continue
            if cid is None:
                lines.append(f"{rep.pod} | {ctx.label(other)} | cluster id unknown: no clusterz "
                             "entry can be matched to it | -")
                continue
            status = status_cell(rep, listed.get(cid), own=False, has_secret=cid in by_key,
                                  in_mesh=True)
            shard = shard_cell(rep, cid, service, ns)
            if own_id == cid:
                shard = f"(shards of {cid} would be istiod's own: same cluster id)"
            shared = ctx.info(other).carried_id
            name = other if cid == other and not shared else f"{other} (cluster id {cid})"
            lines.append(f"{rep.pod} | {name} | {status} | {shard}")
        for cid in (i for i in listed if i not in carried):
            status = status_cell(rep, listed[cid], own=False, has_secret=True, in_mesh=False)
            lines.append(f"{rep.pod} | {cid} | {status} | {shard_cell(rep, cid, service, ns)}")
        lines += [f"{rep.pod}: {label} {why}" for label, why in rep.missing.items()]
    return lines


def status_cell(rep: Replica, entry: ClusterSync | None, *, own: bool, has_secret: bool,
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


def shard_cell(rep: Replica, name: str, service: str | None, ns: str | None) -> str:
    if rep.shards is None:
        return "not read"
    if service:
        shards = [s for s in service_shards(rep.shards, service, ns or "default")
                  if s.cluster == name]
        count = sum(s.count for s in shards)
        return f"{count} endpoint{'s' if count != 1 else ''}" if shards else \
            f"no Kubernetes/{name} shard"
    services = {s.hostname for s in rep.shards if s.cluster == name and s.count}
    return f"{len(services)} service{'s' if len(services) != 1 else ''}"


def peer_lines(view: PeerView) -> list[str]:
    k = view.kubeconfig
    if view.secret_read:
        where = (f"server {k.server}, auth {', '.join(k.auth)}" if k.server
                 else "kubeconfig unusable")
        lines = [f"{view.name}: secret {view.secret_ref}, {where}"]
    else:
        named = f"istiod names secret {view.secret_ref}" if view.secret else \
            "istiod names no secret for it"
        lines = [f"{view.name}: {named}" + (f", server {k.server} (as istiod's log names it)"
                                            if k.server else "")]
    if k.problem:
        lines.append(f"{view.name}: {k.problem}")
    lines += [f"{view.name}: {replica}: {note}" for replica, note in view.notes.items()]
    if not view.failing and view.statuses:
        lines.append(f"{view.name}: synced on {len(view.statuses)} of {len(view.statuses)} "
                     f"replica{'s' if len(view.statuses) != 1 else ''}")
    for replica, events in view.events.items():
        event = decisive(events)
        if event is not None:
            lines.append(f"{view.name}: {log_line(replica, event, repeats(events, event))}")
        timeouts = [e for e in events if e.kind == "sync_timeout"]
        if timeouts:
            lines.append(f"{view.name}: {replica} log: {shorten(timeouts[-1].record.msg)}")
    return lines


def egress_lines(egress: Egress | None, view: PeerView) -> list[str]:
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
