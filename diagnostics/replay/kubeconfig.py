"""The kubeconfig that points kubectl and the kubernetes client at the replayed clusters.

One cluster, user and context per snapshot cluster; the context is named after the cluster id
so `--context cluster1` reads like the mesh, unless other names are asked for: real contexts
are named `kind-east`, `gke_acme_us-east1_prod-b` or `arn:aws:eks:...:cluster/prod-c`, and
meshbot must find each cluster's id without trusting the name. The token is a dummy: the
replay accepts anyone.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import yaml

DUMMY_TOKEN = "replay"


def build_kubeconfig(urls: Mapping[str, str], ca_pem: bytes | None = None,
                     contexts: Mapping[str, str] | None = None) -> dict:
    """kubeconfig for `{cluster id: server URL}`; the first cluster is the current context.
    With `ca_pem` (HTTPS servers) every cluster trusts that certificate authority; `contexts`
    renames some clusters' contexts (and kubeconfig cluster and user entries)."""
    names = [(contexts or {}).get(n, n) for n in urls]
    servers = dict(zip(names, urls.values()))
    cluster: dict = {}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": servers[n], **cluster}} for n in names],
        "users": [{"name": f"replay-{n}", "user": {"token": DUMMY_TOKEN}} for n in names],
        "contexts": [{"name": n, "context": {"cluster": n, "user": f"replay-{n}"}}
                     for n in names],
        "current-context": names[0] if names else "",
        "preferences": {},
    }


def parse_context_names(pairs: list[str], clusters: list[str]) -> dict[str, str]:
    """`--context-name cluster1=kind-east` pairs → {cluster: context}; ValueError names the
    mistake (no `=`, a cluster the snapshot lacks, two clusters under one context)."""
    out: dict[str, str] = {}
    for pair in pairs:
        cluster, eq, context = pair.partition("=")
        if not eq or not cluster or not context:
            raise ValueError(f"--context-name {pair!r}: give <cluster>=<context>")
        if cluster not in clusters:
            raise ValueError(f"--context-name {pair!r}: the snapshot has no cluster {cluster!r} "
                             f"(it has {', '.join(clusters)})")
        out[cluster] = context
    taken = [c for c in out.values()] + [c for c in clusters if c not in out]
    if len(set(taken)) != len(taken):
        raise ValueError("--context-name: two clusters would share one context name")
    return out


def dump_kubeconfig(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write_kubeconfig(config: dict, path: str | Path) -> Path:
    target = Path(path)
    target.write_text(dump_kubeconfig(config), encoding="utf-8")
    target.chmod(0o600)
    return target
