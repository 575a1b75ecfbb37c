"""Real istiod lines placed into a snapshot in place of the generated log, for measuring what
meshbot makes of them end to end (tests/test_real_istiod_lines.py, bench/istiod_log_recognition.py).

The host is scenario `remote-clusters-unreachable-1-28`: cluster1's istiod holds a secret for
cluster2 and lists it as `timeout` in clusterz. Its log is replaced by one real line, and the
secret's kubeconfig server by the API server that line names (the line came from someone else's
mesh), so the diagnosis has exactly the evidence the line gives. This module imports only the
`diagnostics` package, so the benchmark can load it against an older checkout.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import yaml

HOST_SCENARIO = "remote-clusters-unreachable-1-28"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "istiod-logs"
CAUSE_IDS = {"unreachable": "remote-api-unreachable", "dns": "remote-api-dns",
             "tls": "remote-api-tls", "unauthorized": "remote-api-unauthorized",
             "kubeconfig": "remote-kubeconfig-invalid"}
_DEFAULT_SERVER = "https://172.18.0.3:6443"


def real_lines() -> list[dict[str, Any]]:
    return yaml.safe_load((FIXTURES / "real-lines.yaml").read_text())["lines"]


def expected_finding(entry: dict[str, Any]) -> str | None:
    """The specific finding a line must produce about cluster2, or None when it must produce
    none: it names no cause, or it is about istiod's own identity (the local cluster)."""
    expect = entry["expect"]
    cause = expect.get("cause")
    if expect.get("kind") in (None, "none") or cause is None:
        return None
    if expect.get("identity") == "local":
        return None
    return CAUSE_IDS[cause]


def attributable(entry: dict[str, Any]) -> bool:
    """A line names the server or the remote reader identity: what ties it to a cluster."""
    expect = entry["expect"]
    return bool(expect.get("server")) or expect.get("identity") == "remote"


def _set_server(secrets_file: Path, server: str) -> None:
    doc = yaml.safe_load(secrets_file.read_text())
    for item in doc["items"]:
        if item["metadata"]["name"] != "istio-remote-secret-cluster2":
            continue
        kubeconfig = base64.b64decode(item["data"]["cluster2"]).decode()
        kubeconfig = kubeconfig.replace(_DEFAULT_SERVER, server)
        item["data"]["cluster2"] = base64.b64encode(kubeconfig.encode()).decode()
    secrets_file.write_text(yaml.safe_dump(doc, sort_keys=False))


def snapshot_with_line(scenarios: Path, entry: dict[str, Any], out: Path) -> Path:
    """A copy of the host scenario whose cluster1 istiod logged only `entry`'s line."""
    target = out / "snapshot"
    shutil.copytree(scenarios / HOST_SCENARIO / "snapshot", target)
    cluster1 = target / "clusters" / "cluster1"
    for log in cluster1.glob("logs/istio-system/*/discovery.log"):
        log.write_text(entry["text"] + "\n", encoding="utf-8")
    server = entry["expect"].get("server")
    if server:
        _set_server(cluster1 / "resources" / "istio-system" / "secrets.yaml", f"https://{server}")
    return target


async def findings_for(snapshot: Path) -> list[str]:
    """The finding ids `remote-clusters --cluster cluster1` reports on the snapshot."""
    from diagnostics.engine import diagnose
    from diagnostics.snapshot import Snapshot
    from diagnostics.sources.snapshot import SnapshotSource
    from handlers.commands import parse

    request = parse(["remote-clusters", "--cluster", "cluster1"], terminal=False)
    report = await diagnose(request.plan(), SnapshotSource(Snapshot.open(snapshot)))
    return [f.id for f in report.findings if f.cluster == "cluster1"]
