"""`meshbot snapshot`: capturing through the live source gives a snapshot that diagnoses alike."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import yaml

from diagnostics.capture import CaptureOptions, capture
from diagnostics.config import Config
from diagnostics.engine import diagnose
from diagnostics.redact import REDACTED
from diagnostics.replay.runner import start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.factory import live_source
from diagnostics.sources.snapshot import SnapshotSource
from tests.scenario_support import comparable, run_snapshot, scenarios

DEMO = next(s for s in scenarios() if s.name == "demo")
CRASHED_AT_START = next(s for s in scenarios()
                        if s.name == "check-app-starts-before-proxy-previous-run")


async def _capture_demo(out: Path, options: CaptureOptions | None = None, scenario=DEMO):
    servers = await start_replay(Snapshot.open(scenario.snapshot_dir))
    kubeconfig = out.parent / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    source = live_source(Config(), kubeconfig=str(kubeconfig))
    try:
        return await capture(source, out, options)
    finally:
        await source.close()
        await servers.close()


async def test_captured_snapshot_diagnoses_exactly_like_the_original(tmp_path):
    out = tmp_path / "captured"
    results = await _capture_demo(out, CaptureOptions(namespaces=["sample"]))
    assert [r.name for r in results] == ["cluster1", "cluster2"] and not results[0].errors
    report = await diagnose(DEMO.request.plan(), SnapshotSource(Snapshot.open(out)))
    assert comparable(report) == comparable(await run_snapshot(DEMO))
    meta = yaml.safe_load((out / "snapshot.yaml").read_text())
    assert meta["format"] == "meshbot.snapshot/v1" and "pods" in meta["kinds"]["cluster1"]
    assert list((out / "clusters/cluster1/istiod").glob("*/config_dump/sleep-*.sample.json"))


async def test_workload_logs_and_the_run_before_a_restart_are_captured(tmp_path):
    """`check` on the capture sees what it saw live: here the crash only the previous run's
    log shows."""
    out = tmp_path / "captured"
    await _capture_demo(out, CaptureOptions(namespaces=["shop"]), CRASHED_AT_START)
    logs = out / "clusters/cluster1/logs/shop"
    assert len(list(logs.glob("payload-api-*/payload-api.previous.log"))) == 2
    assert list(logs.glob("payload-api-*/istio-proxy.log"))
    report = await diagnose(CRASHED_AT_START.request.plan(), SnapshotSource(Snapshot.open(out)))
    assert comparable(report) == comparable(await run_snapshot(CRASHED_AT_START))
    assert report.findings[0].id == "app-starts-before-proxy"


async def test_secrets_stay_redacted_and_only_istio_namespace_secrets_are_read(tmp_path):
    out = tmp_path / "captured"
    await _capture_demo(out)
    secrets = yaml.safe_load((out / "clusters/cluster2/resources/secrets.yaml").read_text())["items"]
    assert {s["metadata"]["namespace"] for s in secrets} == {"istio-system"}
    cacerts = next(s for s in secrets if s["metadata"]["name"] == "cacerts")
    assert cacerts["data"]["ca-key.pem"] == REDACTED
    text = (out / "clusters/cluster2/resources/secrets.yaml").read_text()
    assert "BEGIN PRIVATE KEY" not in text and "BEGIN RSA PRIVATE KEY" not in text


async def test_capture_to_tar_gz(tmp_path):
    out = tmp_path / "mesh.tar.gz"
    await _capture_demo(out, CaptureOptions(max_config_dumps=1))
    assert tarfile.is_tarfile(out)
    assert Snapshot.open(out).cluster_names == ["cluster1", "cluster2"]


async def test_managed_fields_are_dropped_at_read(tmp_path):
    """Server-side-apply bookkeeping never reaches checks or snapshots (memory at scale)."""
    original = tmp_path / "original"
    shutil.copytree(DEMO.snapshot_dir, original)
    pods_file = original / "clusters/cluster1/resources/sample/pods.yaml"
    pods = yaml.safe_load(pods_file.read_text())
    for pod in pods["items"]:
        pod["metadata"]["managedFields"] = [{"manager": "kubelet", "operation": "Update",
                                             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]
    pods_file.write_text(yaml.safe_dump(pods))
    servers = await start_replay(Snapshot.open(original))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    source = live_source(Config(), kubeconfig=str(kubeconfig))
    try:
        listed = await source.list("cluster1", "pods", "sample")
        await capture(source, tmp_path / "captured", CaptureOptions(namespaces=["sample"]))
    finally:
        await source.close()
        await servers.close()
    assert listed and all("managedFields" not in p["metadata"] for p in listed)
    assert "managedFields" in pods_file.read_text()
    captured = (tmp_path / "captured/clusters/cluster1/resources/pods.yaml").read_text()
    assert "managedFields" not in captured and "helloworld" in captured
