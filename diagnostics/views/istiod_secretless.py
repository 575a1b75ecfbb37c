"""istiod's view of its peers when this install reads no Secrets (deploy/overlays/no-secrets,
Helm `rbac.readSecrets=false`).

Remote secrets tell meshbot which peers a primary should read and where their API servers
are. Without them, istiod's own view stands in: the peers are the other clusters read plus
every cluster id clusterz, `istiod_remote_cluster_sync_status` or the log names; the secret is
the one istiod names for the peer (clusterz's `secretName`, the log's `Add cluster ...
secret=`), and the server is the one the log's errors name. What only the secret's content
tells (its kubeconfig, whether a secret exists at all for a peer istiod never mentions, a key
naming another id) is not concluded, and the evidence says so, one line per peer.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext
from diagnostics.facts import Unavailable
from diagnostics.inputs import (CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS, ISTIOD_METRICS,
                                ISTIOD_PODS, ISTIO_SECRETS)
from diagnostics.parse.istiod_logs import decisive, events_for, servers_named
from diagnostics.views.istiod_remote import (PeerView, Replica, peer_view, replica_sole_unread,
                                             replicas_of)
from diagnostics.views.remote_access import KubeconfigView, is_loopback

NOT_CHECKED = "not checked (this install reads no Secrets)"
# What building the view reads: a check calling `heard_peers` declares these.
HEARD_INPUTS = (ISTIOD_PODS, CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS, ISTIOD_METRICS)


def withheld_secrets(ctx: CheckContext, cluster: str) -> Unavailable | None:
    """The refusal when this install reads no Secrets in the cluster (not a read error, not a
    snapshot that lacks them: those stay what they are)."""
    try:
        ctx.get(ISTIO_SECRETS, cluster)
    except Unavailable as exc:
        return exc if exc.withheld else None
    return None


def heard_peers(ctx: CheckContext, cluster: str) -> tuple[list[Replica], list[PeerView]]:
    """The replicas of the cluster's istiod and every peer as they see it, built once per
    diagnosis for the checks that stand in for the remote secrets."""
    return ctx.derived(("heard-peers", cluster), HEARD_INPUTS,
                       lambda: _build(ctx, cluster))


def _build(ctx: CheckContext, cluster: str) -> tuple[list[Replica], list[PeerView]]:
    replicas = replicas_of(ctx, cluster)
    own = {ctx.info(cluster).cluster_id, *(r.own.id for r in replicas if r.own)}
    ids, _unsure = ctx.peers_by_id(cluster)
    names = {i: n for i, n in ids.items() if i not in own}
    for peer in named_ids(replicas):
        if peer not in own:
            names.setdefault(peer, peer)
    sole = {rep.pod: replica_sole_unread(rep, list(names)) for rep in replicas}
    views = []
    for peer, name in names.items():
        secret = secret_named(replicas, peer, ctx.info(cluster).istio_namespace)
        ref = f"{secret['metadata']['namespace']}/{secret['metadata']['name']}" if secret else None
        view = peer_view(peer, secret, server_named(replicas, peer, ref), replicas, name, sole)
        view.secret_read = False
        views.append(view)
    return replicas, views


def named_ids(replicas: list[Replica]) -> list[str]:
    """Every cluster id a replica's clusterz, metrics or log names, in that order."""
    found: dict[str, None] = {}
    for rep in replicas:
        found.update(dict.fromkeys(c.id for c in rep.remotes))
        found.update(dict.fromkeys(rep.metrics or {}))
        found.update(dict.fromkeys(e.cluster for e in rep.events or [] if e.cluster))
    return list(found)


def secret_named(replicas: list[Replica], peer: str, namespace: str) -> dict:
    """The secret istiod itself names for the peer (clusterz first, then its log), as a
    name-only object; {} when it names none."""
    refs = [c.secret for rep in replicas for c in rep.remotes if c.id == peer and c.secret]
    refs += [e.secret for rep in replicas for e in rep.events or []
             if e.cluster == peer and e.secret]
    if not refs:
        return {}
    ns, _, name = refs[0].rpartition("/")
    return {"metadata": {"namespace": ns or namespace, "name": name}}


def server_named(replicas: list[Replica], peer: str, secret_ref: str | None) -> KubeconfigView:
    """The peer's API server as the errors istiod logs about it name it, when they name one."""
    servers: set[tuple[str, int]] = set()
    for rep in replicas:
        for event in events_for(rep.events or [], peer, secret_ref):
            if event.error:
                servers |= servers_named(event.error)
    if len(servers) != 1:
        return KubeconfigView()
    ((host, port),) = servers
    server = f"https://{f'[{host}]' if ':' in host else host}:{port}"
    loopback = is_loopback(host)
    return KubeconfigView(server=server, host=host, port=port, loopback=loopback,
                          problem=f"loopback server address {host}" if loopback else None)


def not_checked_line(view: PeerView) -> str:
    """What the secret would have told about the peer, and that it was not read."""
    if view.secret:
        what = f"what the kubeconfig in {view.secret_ref} says (its server, credentials, CA)"
    else:
        what = f"whether a remote secret exists for {view.peer} and what its kubeconfig says"
    return f"{view.name}: {NOT_CHECKED}: {what}"


def unexplained(view: PeerView) -> bool:
    """No replica reads the peer, istiod names no secret for it and logs no cause: only the
    Secrets could tell why (none, a key naming another id, a kubeconfig never turned into a
    client), so meshbot does not guess."""
    return bool(view.failing) and not view.secret and \
        all(status == "absent" for status in view.failing.values()) and \
        not any(decisive(events) for events in view.events.values())


def istiod_says(view: PeerView) -> str:
    """One line for the Remote secrets step: what istiod's own view says of the peer."""
    if not view.statuses:
        return f"{view.name}: neither clusterz nor the log of any replica tells whether istiod " \
               "reads it"
    if not view.failing:
        n = len(view.statuses)
        return (f"{view.name}: istiod reads it through {view.secret_ref} (synced on {n} of {n} "
                f"replica{'s' if n != 1 else ''}), so a secret keyed {view.peer} exists and works")
    replica, status = view.worst
    if unexplained(view):
        return (f"{view.name}: no replica of istiod reads it and istiod names no secret for it; "
                "whether one exists, or is keyed by another id, is not checked")
    return (f"{view.name}: istiod holds {view.secret_ref} for it but {replica} lists it as "
            f"{status} (see istiod's view of remote clusters)")
