"""Weighing what istiod's replicas say about a remote cluster when the sources disagree or fail.

Used by the istiod-remote-view check (istiod_view.py):

- which remote cluster a log line that names neither a cluster nor a server can be about: only
  the reader identity ties it to *a* remote secret, so it is attributed when one remote cluster
  alone is not read on that replica;
- when clusterz says `synced` but the log keeps failing for the cluster and istiod holds no
  endpoint of it: 1.12-1.15 listed a cluster whose initial sync timed out as synced (HasSynced
  includes the timeout), so clusterz's word is not taken over that evidence;
- `istiod_remote_cluster_sync_status` from /metrics (1.29+) where clusterz was not read, except
  1.29's `timeout`, which that release reports for every cluster (istio/istio#60082).

Debug requests istiod refused (401/403) are views/debug_refusal.py's.
"""

from __future__ import annotations

from typing import Callable

from diagnostics.parse.istiod_debug import Shard
from diagnostics.parse.istiod_logs import ClusterEvent, failures
from diagnostics.parse.istiod_metrics import reports_timeout_for_synced

#: clusterz's `synced`, contradicted by repeated failures in the log and no shard.
CONTRADICTED = "synced per clusterz, contradicted by its log"
_REPEATED = 2


def sole_unread(peers: list[str], status_of: Callable[[str], str | None],
                has_endpoints: Callable[[str], bool | None]) -> str | None:
    """The one peer that is not read on a replica: the only one not `synced`, else the only
    one without endpoints; None when no single peer stands out."""
    unread = [p for p in peers if status_of(p) != "synced"]
    if len(unread) == 1:
        return unread[0]
    if not unread:
        empty = [p for p in peers if has_endpoints(p) is False]
        return empty[0] if len(empty) == 1 else None
    return None


def contradiction(events: list[ClusterEvent], shards: list[Shard] | None) -> str | None:
    """Why a `synced` clusterz entry is not believed, or None when nothing contradicts it."""
    failed = [e for e in failures(events) if e.cause is not None or e.kind == "no_client"]
    if len(failed) < _REPEATED or shards is None or any(s.count for s in shards):
        return None
    first = failed[0].record.time[:19]
    return (f"{len(failed)} failures for it in its log since {first or 'the start of the log'}, "
            "and endpointShardz holds no endpoint from it")


def metrics_status(metrics: dict[str, str] | None, peer: str,
                   version: tuple[int, int, int] | None) -> str | None:
    """The peer's state per istiod_remote_cluster_sync_status, where it can be believed."""
    status = (metrics or {}).get(peer)
    if status == "timeout" and reports_timeout_for_synced(version):
        return None
    return status


def metrics_note(metrics: dict[str, str] | None, peer: str,
                 version: tuple[int, int, int] | None) -> str | None:
    """An evidence line for a metric status that was read (or set aside)."""
    status = (metrics or {}).get(peer)
    if status is None:
        return None
    if metrics_status(metrics, peer, version) is None:
        return (f"istiod_remote_cluster_sync_status says {status}, which istiod 1.29 reports for "
                "every remote cluster once the sync timer fires (istio/istio#60082): not used")
    return f"istiod_remote_cluster_sync_status says {status}"
