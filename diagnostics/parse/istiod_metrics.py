"""istiod's `:15014/metrics`: what each replica says of its remote clusters, cheaply.

Since 1.29 istiod exports `istiod_remote_cluster_sync_status{cluster, cluster_type, status}`:
one sample per remote cluster and state (synced, syncing, timeout, closed), 1 for the state
the cluster is in (pkg/kube/multicluster/secretcontroller.go). `/metrics` is not behind
istiod's debug endpoint authorization, so it answers where `/debug/clusterz` is refused.

In 1.29 the sync-timeout timer reported `timeout` even for clusters that had synced
(istio/istio#60082, fixed in 1.30 by #60098), so a 1.29 `timeout` proves nothing by itself.
The text is parsed with prometheus_client's parser (already a dependency for meshbot's own
/metrics) rather than by hand: escaping, comments and the exposition rules are its job.
"""

from __future__ import annotations


SYNC_STATUS = "istiod_remote_cluster_sync_status"
STATES = ("synced", "syncing", "timeout", "closed")


class MetricsError(ValueError):
    """The body is not Prometheus text."""


def remote_sync_status(text: str | None) -> dict[str, str] | None:
    """`{cluster: status}` of the remote clusters istiod reports; None when this istiod does not
    export the metric (before 1.29) or the body is empty."""
    if not text or not text.strip():
        return None
    # imported here: prometheus_client loads its whole exposition stack (http.server, wsgiref)
    # and only a command that read istiod's metrics needs it
    from prometheus_client.parser import text_string_to_metric_families

    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise MetricsError(f"not Prometheus text: {exc}") from None
    family = next((f for f in families if f.name == SYNC_STATUS), None)
    if family is None:
        return None
    out: dict[str, str] = {}
    for sample in family.samples:
        labels = sample.labels
        if labels.get("cluster_type", "remote") != "remote" or sample.value != 1:
            continue
        if labels.get("cluster") and labels.get("status") in STATES:
            out[labels["cluster"]] = labels["status"]
    return out


def reports_timeout_for_synced(version: tuple[int, int, int] | None) -> bool:
    """Whether this istiod's metric says `timeout` for every cluster once the timer fired."""
    return version is not None and version[:2] == (1, 29)
