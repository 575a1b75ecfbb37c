"""The kubeconfig that points kubectl and the kubernetes client at the replayed clusters.

One cluster, user and context per snapshot cluster; the context is named after the cluster id
so `--context cluster1` reads like the mesh. The token is a dummy: the replay accepts anyone.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import yaml

DUMMY_TOKEN = "replay"


def build_kubeconfig(urls: Mapping[str, str], ca_pem: bytes | None = None) -> dict:
    """kubeconfig for `{cluster id: server URL}`; the first cluster is the current context.
    With `ca_pem` (HTTPS servers) every cluster trusts that certificate authority."""
    names = list(urls)
    cluster: dict = {}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": urls[n], **cluster}} for n in names],
        "users": [{"name": f"replay-{n}", "user": {"token": DUMMY_TOKEN}} for n in names],
        "contexts": [{"name": n, "context": {"cluster": n, "user": f"replay-{n}"}}
                     for n in names],
        "current-context": names[0] if names else "",
        "preferences": {},
    }


def dump_kubeconfig(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write_kubeconfig(config: dict, path: str | Path) -> Path:
    target = Path(path)
    target.write_text(dump_kubeconfig(config), encoding="utf-8")
    target.chmod(0o600)
    return target
