"""Remote secrets: each primary's istiod learns a peer cluster only from a labelled secret
whose data key is that peer's cluster id."""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import ISTIOD_PODS, ISTIO_CONFIGMAPS, ISTIO_SECRETS, NAMESPACES
from diagnostics.facts import Unavailable
from diagnostics.model import Step
from diagnostics.views.istiod_secretless import (HEARD_INPUTS, heard_peers, istiod_says,
                                                 withheld_secrets)
from diagnostics.views.secrets import (CONFIG_KEY, MULTICLUSTER_LABEL, config_cluster_of,
                                       is_config_secret, is_remote_secret, meant_for,
                                       remote_intent_of, secret_keys)
from diagnostics.workloads import name_of, namespace_of


def _ref(secret: dict) -> str:
    return f"{namespace_of(secret)}/{name_of(secret)}"


@check("remote-secrets", title="Remote secrets on each primary",
       inputs=(ISTIO_SECRETS, ISTIOD_PODS, NAMESPACES, ISTIO_CONFIGMAPS, *HEARD_INPUTS[1:]),
       emits=("remote-secret-missing", "remote-secret-key-mismatch",
              "istiod-reads-no-remote-cluster"))
def remote_secrets(ctx: CheckContext) -> list[Step]:
    """For every primary and every peer cluster, find the secret istiod would read for the peer.

    Secrets are keyed by cluster id, so each peer is looked for under the id it carries, as
    learnt from the peer itself; a peer whose id is unknown is said to be so, never guessed."""

    def one(cluster: str) -> Step:
        title = "Remote secrets"
        if not ctx.get(ISTIOD_PODS, cluster):
            return ctx.step(title, cluster, [
                f"no istiod pod in {ctx.info(cluster).istio_namespace}: this cluster's proxies "
                "use a primary's istiod, so only primaries need remote secrets"], status="skip")
        intent = remote_intent_of(ctx, cluster)
        if intent:  # an in-cluster istiod of a remote is the fault (istiod-remote-missing)
            return ctx.step(title, cluster, [*intent.signs, f"{cluster} is meant to be a "
                            "remote, so it needs no remote secrets of its own"], status="skip")
        withheld = withheld_secrets(ctx, cluster)
        if withheld is not None:
            return _istiod_says_instead(ctx, cluster, title, withheld)
        secrets = ctx.get(ISTIO_SECRETS, cluster)
        config = config_cluster_of(ctx, cluster, secrets, ctx.get(ISTIOD_PODS, cluster))
        labelled = [s for s in secrets if is_remote_secret(s) and not is_config_secret(s)]
        keys = {k: s for s in labelled for k in secret_keys(s)}
        ids, unsure = ctx.peers_by_id(cluster)
        known = ctx.known_ids()
        stray = {k: s for k, s in keys.items() if k not in known}
        peers = {i: p for i, p in ids.items() if not (config and p == config[0])}
        evidence = [f"{len(labelled)} secret(s) labelled {MULTICLUSTER_LABEL}=true in "
                    f"{ctx.info(cluster).istio_namespace}: "
                    + (", ".join(f"{_ref(s)} (keys: {', '.join(secret_keys(s)) or 'none'})"
                                 for s in labelled) or "none")]
        if config:
            evidence.append(f"{config[0]}: the config cluster of this external istiod, read "
                            f"through {_ref(config[1])} (key {CONFIG_KEY}), not a remote secret")
        findings = []
        if len(ctx.cluster_names) == 1 and not labelled and not config:
            line = (f"{ctx.label(cluster)}: no secret labelled {MULTICLUSTER_LABEL}=true, so its "
                    "istiod reads no other cluster; no other cluster was read to say which are "
                    "missing")
            evidence.append(line)
            findings.append(ctx.finding("istiod-reads-no-remote-cluster", cluster=cluster,
                                        resource=f"Namespace {ctx.info(cluster).istio_namespace}",
                                        evidence=[line], basis=[line]))
        missing = [i for i in peers if i not in keys]
        edges = [_edge(config[0], ctx.info(config[0]).cluster_id or config[0], _ref(config[1]),
                       "config")] if config else []
        for pid, peer in peers.items():
            if pid in keys:
                evidence.append(f"{ctx.label(peer)}: read from {_ref(keys[pid])} (key {pid})")
                edges.append(_edge(peer, pid, _ref(keys[pid]), "present"))
                continue
            finding = _missing_or_mismatched(ctx, cluster, peer, pid, secrets, labelled, stray,
                                             len(missing), evidence)
            findings.append(finding)
            edges.append(_edge(peer, pid, (finding.resource or "").removeprefix("Secret "),
                               STATES[finding.id], finding.id))
        evidence += [_unsure_line(ctx, p, stray) for p in unsure]
        step = ctx.step(title, cluster, evidence, findings)
        step.incomplete = bool(unsure)
        step.data["peers"] = edges
        return step

    return per_cluster(ctx, "Remote secrets", ctx.focus, one)


def _istiod_says_instead(ctx: CheckContext, cluster: str, title: str,
                         withheld: Unavailable) -> Step:
    """Not checked: this install reads no Secrets. What istiod's own view says of each peer
    stands in; the step holds the answer back (incomplete) unless istiod reads every peer on
    every replica, which a secret keyed by each peer's id must then exist for."""
    _replicas, views = heard_peers(ctx, cluster)
    lines = [f"not checked: {withheld.reason}", *(istiod_says(v) for v in views)]
    if not views:
        lines.append("istiod names no remote cluster and no other cluster was read")
    step = ctx.step(title, cluster, lines, status="skip")
    step.incomplete = not views or any(v.failing or not v.statuses for v in views)
    return step


# What the topology picture draws for each peer: the secret's state, and the finding about it.
STATES = {"remote-secret-missing": "missing", "remote-secret-key-mismatch": "key-mismatch"}


def _edge(peer: str, peer_id: str, secret: str, state: str, *finding_ids: str) -> dict:
    """A primary's istiod reading `peer` (or not) through a secret, as step data."""
    return {"peer": peer, "peer_id": peer_id, "secret": secret if state != "missing" else None,
            "state": state, "findings": list(finding_ids)}


def _unsure_line(ctx: CheckContext, peer: str, stray: dict[str, dict]) -> str:
    """A peer whose id is unknown: which secrets may be meant for it, without guessing."""
    maybe = f"; keys that name no cluster read: {', '.join(sorted(stray))}" if stray else ""
    return (f"{ctx.label(peer)}: its Istio cluster id could not be learnt from the cluster (no "
            f"istiod, install values or sidecar states it), so whether a secret here is meant "
            f"for it cannot be told{maybe}; name it in the config file (`clusters: - name: <id>, "
            f"context: {ctx.info(peer).context_name}`) to check")


def _missing_or_mismatched(ctx: CheckContext, cluster: str, peer: str, peer_id: str,
                           secrets: list[dict], labelled: list[dict], stray: dict[str, dict],
                           missing_count: int, evidence: list[str]):
    meant = [s for s in labelled if meant_for(s, peer_id)]
    named = bool(meant)  # its annotation or istioctl's name says so; not an inference
    if not meant and len(stray) == 1 and missing_count == 1:
        meant = list(stray.values())  # the only unknown key must be this peer's, misnamed
    id_line = ctx.id_basis(peer)
    if meant:
        secret = meant[0]
        known = ctx.known_ids()
        wrong = [k for k in secret_keys(secret) if k not in known] or secret_keys(secret)
        how = "is meant for" if named else "is the only secret whose key names no cluster, so "\
            "likely meant for"
        line = (f"{ctx.label(peer)}: {_ref(secret)} {how} {peer_id} but its data key is "
                f"{', '.join(wrong) or '(none)'}, not {peer_id}; istiod reads the key as the "
                "cluster id")
        evidence.append(line)
        return ctx.finding("remote-secret-key-mismatch", cluster=cluster,
                           resource=f"Secret {_ref(secret)}",
                           evidence=[line, *([id_line] if id_line else [])], peer_cluster=peer,
                           secret=name_of(secret), secret_key=", ".join(wrong),
                           expected_key=peer_id,
                           basis=[id_line, line] if id_line and named else [])
    unlabelled = [s for s in secrets if not is_remote_secret(s) and meant_for(s, peer_id)]
    hint = (f"; {_ref(unlabelled[0])} exists but lacks the label {MULTICLUSTER_LABEL}=true"
            if unlabelled else "")
    line = f"{ctx.label(peer)}: no remote secret with key {peer_id}{hint}"
    evidence.append(line)
    return ctx.finding("remote-secret-missing", cluster=cluster,
                       resource=f"Namespace {ctx.info(cluster).istio_namespace}",
                       evidence=[line, *([id_line] if id_line else [])], peer_cluster=peer,
                       secret=f"istio-remote-secret-{peer_id}",
                       basis=[line, id_line] if id_line else [])
