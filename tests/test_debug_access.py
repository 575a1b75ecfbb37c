"""istiod's debug endpoint authorization, as `meshbot replay` models it and meshbot reports it.

Everything runs through the real parts: replay serves a generated scenario over HTTP, the live
source reaches istiod through the kubernetes client's port-forward, and `--debug-caller` tells
replay who istiod sees calling (a real port-forward is loopback; a direct `istiod_url` is not).
A refused request must come out as refused (istiod-debug-refused, with the fix that fits the
version), never as an unreachable cluster and never silently as "not captured".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from diagnostics.capture import capture
from diagnostics.config import Config
from diagnostics.debug_auth import DebugCaller, allowed_namespaces, authorization_enforced, refusal
from diagnostics.engine import diagnose
from diagnostics.model import Report
from diagnostics.replay.runner import start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.base import DebugRefused
from diagnostics.sources.factory import live_source
from diagnostics.sources.snapshot import SnapshotSource
from tests.scenario_support import Scenario, comparable, scenarios

BY_NAME = {s.name: s for s in scenarios()}
NEWEST = BY_NAME["remote-clusters-healthy-1-31-json"]  # istiod 1.31.0
OLDER = BY_NAME["healthy-istio-1-22"]  # istiod 1.22.8: authentication, no authorization
REPO = Path(__file__).resolve().parents[1]


async def _live(scenario: Scenario, caller: DebugCaller, command: list[str] | None = None
                ) -> Report:
    servers = await start_replay(Snapshot.open(scenario.snapshot_dir), debug_caller=caller)
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False) as fh:
        yaml.safe_dump(servers.kubeconfig(), fh)
    source = live_source(Config(), kubeconfig=fh.name, timeout=10)
    try:
        request = scenario.request if command is None else _request(command)
        return await diagnose(request.plan(), source, timeout=10)
    finally:
        await source.close()
        await servers.close()
        Path(fh.name).unlink(missing_ok=True)
        Path(fh.name).unlink(missing_ok=True)


def _request(words: list[str]):
    from handlers.commands import parse
    return parse(words, terminal=False)


def _refusals(report: Report) -> dict[str, str]:
    return {f.cluster: f.title for f in report.findings if f.id == "istiod-debug-refused"}


# ------------------------------------------------------------------------- through replay


async def test_a_port_forward_is_loopback_so_nothing_is_refused():
    report = await _live(NEWEST, DebugCaller.parse("loopback"))
    assert report.verdict == "healthy" and not _refusals(report)


async def test_a_caller_without_credentials_gets_401_on_every_istiod():
    report = await _live(NEWEST, DebugCaller.parse("anonymous"))
    assert sorted(_refusals(report)) == ["cluster1", "cluster2"]
    assert all("HTTP 401" in title for title in _refusals(report).values())
    # refused is not unreachable: the clusters answered, and the answer says it is incomplete
    assert all(c.reachable for c in report.clusters)
    assert report.verdict == "inconclusive"
    assert all("refused" in e.message for e in report.errors)


async def test_an_authenticated_namespace_gets_403_where_authorization_applies():
    report = await _live(NEWEST, DebugCaller.parse("namespace:meshbot"))
    assert all("HTTP 403" in title for title in _refusals(report).values())
    refused = next(f for f in report.findings if f.id == "istiod-debug-refused")
    assert "DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES is not set" in refused.cause


async def test_the_system_namespace_and_older_istiods_are_not_refused():
    assert not _refusals(await _live(NEWEST, DebugCaller.parse("namespace:istio-system")))
    older = await _live(OLDER, DebugCaller.parse("namespace:meshbot"))
    assert older.verdict == "healthy" and not _refusals(older)


async def test_a_namespace_caller_reads_config_dump_of_its_own_namespace_only(tmp_path):
    servers = await start_replay(Snapshot.open(NEWEST.snapshot_dir),
                                 debug_caller=DebugCaller.parse("namespace:sample"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    source = live_source(Config(), kubeconfig=str(kubeconfig), timeout=10)
    try:
        snapshot = Snapshot.open(NEWEST.snapshot_dir)
        replica = next(p.name for p in (snapshot.clusters["cluster1"].root / "istiod").iterdir())
        sleep = next(p.stem for p in (snapshot.clusters["cluster1"].root / "istiod" / replica /
                                      "config_dump").glob("sleep-*.sample.json"))
        dump = await source.istiod_get("cluster1", replica,
                                       f"/debug/config_dump?proxyID={sleep}&include_eds")
        assert dump["configs"]
        with pytest.raises(DebugRefused) as refused:
            await source.istiod_get("cluster1", replica, "/debug/syncz")
        assert refused.value.status == 403
        metrics = await source.istiod_get("cluster1", replica, "/metrics")
        assert "istiod_remote_cluster_sync_status" in metrics  # /metrics is never guarded
    finally:
        await source.close()
        await servers.close()


async def test_a_capture_of_a_refusing_istiod_records_the_refusal_and_diagnoses_alike(tmp_path):
    """`meshbot snapshot` against refusing istiods writes refused.json (and /metrics); the
    snapshot then answers exactly as the live clusters did."""
    caller = DebugCaller.parse("anonymous")
    servers = await start_replay(Snapshot.open(NEWEST.snapshot_dir), debug_caller=caller)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    source = live_source(Config(), kubeconfig=str(kubeconfig), timeout=10)
    out = tmp_path / "captured"
    try:
        results = await capture(source, out)
    finally:
        await source.close()
        await servers.close()
    assert all(any("refused" in e for e in r.errors) for r in results)
    refused = json.loads(next(out.glob("clusters/cluster1/istiod/*/refused.json")).read_text())
    assert refused["clusterz"] == refused["config_dump"] == 401
    assert next(out.glob("clusters/cluster1/istiod/*/metrics.txt")).read_text().strip()
    from_capture = await diagnose(NEWEST.request.plan(), SnapshotSource(Snapshot.open(out)))
    assert comparable(from_capture) == comparable(await _live(NEWEST, caller))


def test_cli_rejects_an_unknown_caller():
    result = subprocess.run([sys.executable, "-m", "bot.cli", "replay",
                             str(NEWEST.snapshot_dir), "--debug-caller", "root"],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert "--debug-caller must be loopback, anonymous or namespace:<ns>" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ the rules


def _istiod(version: str, **env: str) -> dict:
    return {"metadata": {"name": "istiod-x", "namespace": "istio-system"},
            "spec": {"containers": [{"name": "discovery", "image": f"docker.io/istio/pilot:{version}",
                                     "env": [{"name": k, "value": v} for k, v in env.items()]}]}}


@pytest.mark.parametrize("version, enforced, reads_allowed", [
    ("1.27.5", False, False), ("1.27.6", True, False), ("1.27.8", True, True),
    ("1.28.3", False, False), ("1.28.4", True, False), ("1.28.6", True, True),
    ("1.29.0", True, False), ("1.29.1", True, True), ("1.30.0", True, True),
    ("1.31.0-rc.0", True, True),
])
def test_which_releases_authorize_debug_requests(version, enforced, reads_allowed):
    pod = _istiod(version, DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES="meshbot")
    assert authorization_enforced(pod) is enforced
    assert (allowed_namespaces(pod) == {"meshbot"}) is reads_allowed


def test_authorization_can_be_turned_off_and_namespaces_allowed():
    meshbot = DebugCaller.parse("namespace:meshbot")
    assert refusal(meshbot, _istiod("1.30.1"), "clusterz", "istio-system") == 403
    assert refusal(meshbot, _istiod("1.30.1", ENABLE_DEBUG_ENDPOINT_AUTH="false"), "clusterz",
                   "istio-system") is None
    assert refusal(meshbot, _istiod("1.30.1", DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES="a,meshbot"),
                   "clusterz", "istio-system") is None
    assert refusal(meshbot, _istiod("1.30.1"), "edsz", "istio-system") is None  # own proxies
    assert refusal(meshbot, _istiod("1.30.1"), "clusterz", "meshbot") is None  # root namespace
    assert refusal(DebugCaller.parse("anonymous"), _istiod("1.10.3"), "clusterz", "x") is None
