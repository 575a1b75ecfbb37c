"""What else a capture gets from each istiod replica: `/metrics`, and refused debug requests.

`/metrics` (monitoring port 15014) holds, since 1.29, `istiod_remote_cluster_sync_status`: one
sample per remote cluster and state, 1 for the state it is in (pkg/kube/multicluster/
secretcontroller.go). In 1.29 the sync timer reported `timeout` for every remote cluster once
it fired, synced or not (istio/istio#60082, fixed in 1.30), and the capture is long after that.
Only the multicluster families are written: a real body has hundreds more.

With `LogKnobs.debug_refused`, every `/debug/*` request of the capture was refused with that
status: the bodies are not in the snapshot and `refused.json` records the status per endpoint,
as `meshbot snapshot` writes it; logs and /metrics are still captured.
"""

from __future__ import annotations

import json

from tests.meshgen.istiod_view import ControlPlane

_STATES = ("closed", "synced", "syncing", "timeout")
_HELP = {
    "istiod_managed_clusters": "Number of clusters managed by istiod",
    "istiod_remote_cluster_sync_status":
        "Current synchronization state of remote clusters managed by istiod. One sample per "
        "cluster and state; a value of 1 indicates the cluster is in that state.",
    "remote_cluster_sync_timeouts_total":
        "Number of times remote clusters took too long to sync, causing slow startup that "
        "excludes remote clusters.",
}


def _family(name: str, kind: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} {kind}", *samples]


def metrics_text(cp: ControlPlane) -> str | None:
    """The multicluster part of istiod's /metrics, for 1.29 and later."""
    if cp.version < (1, 29):
        return None
    remotes = [s for s in cp.secrets if s.status in ("synced", "timeout")]
    buggy = cp.version[:2] == (1, 29)
    lines = _family("istiod_managed_clusters", "gauge", [
        'istiod_managed_clusters{cluster_type="local"} 1',
        f'istiod_managed_clusters{{cluster_type="remote"}} {len(remotes)}'])
    status = []
    for s in sorted(remotes, key=lambda r: r.key):
        state = "timeout" if buggy else s.status
        status += [f'istiod_remote_cluster_sync_status{{cluster="{s.key}",cluster_type="remote",'
                   f'status="{st}"}} {1 if st == state else 0}' for st in _STATES]
    lines += _family("istiod_remote_cluster_sync_status", "gauge", status)
    timeouts = [f'remote_cluster_sync_timeouts_total{{cluster="{s.key}"}} 1'
                for s in sorted(remotes, key=lambda r: r.key) if s.status == "timeout"]
    if timeouts:
        lines += _family("remote_cluster_sync_timeouts_total", "counter", timeouts)
    return "\n".join(lines) + "\n"


def refused(cp: ControlPlane) -> int | None:
    """The status every debug request of the capture got from this control plane, if refused."""
    return cp.spec.logs.debug_refused


def replica_files(cp: ControlPlane, bodies: dict[str, object]) -> dict[str, str]:
    """Files next to a replica's debug bodies; drops the bodies istiod refused to give."""
    files: dict[str, str] = {}
    text = metrics_text(cp)
    if text:
        files["metrics.txt"] = text
    status = refused(cp)
    if status:
        # without credentials (401) config_dump is refused as well; an authenticated caller
        # (403) may still read its own namespace's proxies
        names = [*bodies, *(["config_dump"] if status == 401 else [])]
        bodies.clear()
        files["refused.json"] = json.dumps(dict.fromkeys(names, status), indent=2,
                                           sort_keys=True) + "\n"
    return files
