"""`meshbot snapshot`: capturing through the live source gives a snapshot that diagnoses alike."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from diagnostics.capture import CaptureOptions, capture
from diagnostics.config import Config, parse_config
from diagnostics.engine import diagnose
from diagnostics.redact import LAST_APPLIED, REDACTED
from diagnostics.replay.runner import ReplayThread, start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.factory import live_source
from diagnostics.sources.snapshot import SnapshotSource
from tests.scenario_support import comparable, real_context_names, run_snapshot, scenarios

DEMO = next(s for s in scenarios() if s.name == "demo")
CRASHED_AT_START = next(s for s in scenarios()
                        if s.name == "check-app-starts-before-proxy-previous-run")


async def _capture_demo(out: Path, options: CaptureOptions | None = None, scenario=DEMO):
    return await _capture_from(scenario.snapshot_dir, out, options)


async def _capture_from(mesh: Path, out: Path, options: CaptureOptions | None,
                        config: Config | None = None, contexts: dict[str, str] | None = None):
    """`mesh` served by meshbot replay, captured through the live source into `out`."""
    servers = await start_replay(Snapshot.open(mesh), contexts=contexts)
    kubeconfig = out.parent / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    source = live_source(config or Config(), kubeconfig=str(kubeconfig), whole_objects=True)
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
    # objects as `kubectl get -o json` prints a list: JSON reads in a second where YAML took a
    # minute per cluster of 10,000 pods
    pods = json.loads((out / "clusters/cluster1/resources/pods.json").read_text())
    assert pods["kind"] == "List" and {p["kind"] for p in pods["items"]} == {"Pod"}
    assert not list(out.glob("clusters/*/resources/**/*.yaml"))


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
    secrets = json.loads((out / "clusters/cluster2/resources/secrets.json").read_text())["items"]
    assert {s["metadata"]["namespace"] for s in secrets} == {"istio-system"}
    cacerts = next(s for s in secrets if s["metadata"]["name"] == "cacerts")
    assert cacerts["data"]["ca-key.pem"] == REDACTED
    text = (out / "clusters/cluster2/resources/secrets.json").read_text()
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
    captured = (tmp_path / "captured/clusters/cluster1/resources/pods.json").read_text()
    assert "managedFields" not in captured and "helloworld" in captured


# -- hostile meshes: secrets planted everywhere, names that are paths -----------------------------

def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _pem(kind: str, marker: str) -> str:
    return f"-----BEGIN {kind}-----\nMIIE{marker}AAAA\n-----END {kind}-----\n"


# Each value below is planted once in the mesh; none may be found anywhere in the capture,
# as text or base64-encoded at any depth. Shapes follow real ones: Envoy's SecretsConfigDump
# (tests/fixtures/istio/envoy-config-dump-sidecar-with-eds.json, istio/istio istioctl testdata),
# Slack token prefixes (api.slack.com/authentication/token-types), client-go exec plugins and
# the gcp auth-provider (kubernetes.io/docs/reference/access-authn-authz/authentication).
JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6InBsYW50ZWQifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwi"
       "c3ViIjoicGxhbnRlZC1qd3QtMDEifQ.cGxhbnRlZC1zaWduYXR1cmUtMDE")
PLANTED = {
    "envoy private key": _pem("PRIVATE KEY", "plantedEnvoyKey01"),
    "envoy client certificate": _pem("CERTIFICATE", "plantedClientCert01"),
    "envoy generic secret": "planted-generic-secret-01",
    "envoy bearer header": "plantedBearerHeader01",
    "envoy api key header": "planted-api-key-header-01",
    "envoy jwt": JWT,
    "log token=": "plantedLogToken01",
    "log password=": "plantedLogPassword01",
    "log bearer": "plantedLogBearer01",
    "log xoxb": "xoxb-17653672481-19874698323-plantedXoxb01",
    "log xapp": "xapp-1-A0PLANTED-1234567890-plantedXapp01",
    "log xoxp": "xoxp-17653672481-19874698323-plantedXoxp01",
    "log jwt": JWT.replace("LTAx", "LTAy"),
    "log private key": _pem("RSA PRIVATE KEY", "plantedLogKey01"),
    "sidecar log password": "plantedSidecarPassword01",
    "kubeconfig token": "plantedKubeconfigToken01",
    "kubeconfig client key": _pem("EC PRIVATE KEY", "plantedKubeconfigKey01"),
    "kubeconfig exec arg": "plantedExecArg01",
    "kubeconfig exec env": "plantedExecEnv01",
    "kubeconfig auth-provider": "ya29.plantedAuthProvider01",
    "secret annotation": "plantedAnnotationToken01",
    "secret last-applied": "plantedLastApplied01",
    "secret stringData": "plantedStringData01",
    "pod env DB_PASSWORD": "plantedPodEnvPassword01",
    "configmap password=": "plantedConfigMapPassword01",
}
CA_MARKER = "plantedTrustedCaKept01"  # public: must survive


def _plant_config_dump(path: Path) -> None:
    dump = json.loads(path.read_text())
    p = PLANTED
    dump["configs"].append({
        "@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
        "dynamicActiveSecrets": [
            {"name": "default", "secret": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
                "name": "default",
                "tlsCertificate": {"certificateChain": {"inlineBytes": _b64(p["envoy client certificate"])},
                                   "privateKey": {"inlineBytes": _b64(p["envoy private key"])}}}},
            {"name": "ROOTCA", "secret": {"name": "ROOTCA", "validationContext": {
                "trustedCa": {"inlineBytes": _b64(_pem("CERTIFICATE", CA_MARKER))}}}},
            {"name": "oauth-hmac", "secret": {"name": "oauth-hmac", "genericSecret": {
                "secret": {"inlineString": p["envoy generic secret"]}}}}]})
    dump["configs"].append({
        "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
        "dynamicRouteConfigs": [{"routeConfig": {
            "name": "80", "requestHeadersToAdd": [
                {"header": {"key": "authorization", "value": f"Bearer {p['envoy bearer header']}"}},
                {"header": {"key": "x-api-key", "value": p["envoy api key header"]}}],
            "virtualHosts": [{"name": "x", "metadata": {"filterMetadata": {
                "planted": {"jwt": p["envoy jwt"]}}}}]}}]})
    path.write_text(json.dumps(dump))


def _plant_resources(cluster: Path) -> None:
    p = PLANTED
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
                  "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
                  "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                  "users": [{"name": "u", "user": {
                      "token": p["kubeconfig token"],
                      "client-key-data": _b64(p["kubeconfig client key"]),
                      "exec": {"apiVersion": "client.authentication.k8s.io/v1",
                               "command": "example-client-go-exec-plugin",
                               "args": ["get-token", f"--token={p['kubeconfig exec arg']}"],
                               "env": [{"name": "PLUGIN_SECRET", "value": p["kubeconfig exec env"]}]},
                      "auth-provider": {"name": "gcp", "config": {
                          "access-token": p["kubeconfig auth-provider"], "cmd-path": "gcloud"}}}}]}
    secrets = cluster / "resources/istio-system/secrets.yaml"
    doc = yaml.safe_load(secrets.read_text())
    doc["items"].append({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "istio-remote-secret-planted", "namespace": "istio-system",
                     "labels": {"istio/multiCluster": "true"},
                     "annotations": {"networking.istio.io/cluster": "planted",
                                     "example.com/api-token": p["secret annotation"],
                                     LAST_APPLIED: json.dumps({"stringData": {
                                         "x": p["secret last-applied"]}})}},
        "data": {"planted": _b64(yaml.safe_dump(kubeconfig))},
        "stringData": {"password": p["secret stringData"]}})
    secrets.write_text(yaml.safe_dump(doc))
    pods = cluster / "resources/sample/pods.yaml"
    doc = yaml.safe_load(pods.read_text())
    sleep = next(i for i in doc["items"] if i["metadata"]["name"].startswith("sleep"))
    sleep["spec"]["containers"][0]["env"] = [{"name": "DB_PASSWORD",
                                              "value": p["pod env DB_PASSWORD"]},
                                             {"name": "LOG_LEVEL", "value": "kept-env-value"}]
    pods.write_text(yaml.safe_dump(doc))
    maps = cluster / "resources/sample/configmaps.yaml"
    doc = yaml.safe_load(maps.read_text())
    doc["items"].append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "app-config", "namespace": "sample"},
        "data": {"app.properties": f"db.url=jdbc:x\ndb.password={p['configmap password=']}\n"}})
    maps.write_text(yaml.safe_dump(doc))


def _plant_logs(cluster: Path, sleep_pod: str) -> None:
    p = PLANTED
    (log,) = cluster.glob("logs/istio-system/istiod-*/discovery.log")
    stamp = "2026-11-20T08:31:00.000000Z\tinfo\t"
    log.write_text(log.read_text() + "".join(f"{stamp}{line}\n" for line in (
        f"ads\tconnecting with token={p['log token=']} to the CA",
        f"kube\tretrying with password={p['log password=']}",
        f"http\tGET /x Authorization: Bearer {p['log bearer']}",
        f"slack\tbot {p['log xoxb']} app {p['log xapp']} user {p['log xoxp']}",
        f"authn\tjwt {p['log jwt']} rejected",
        "pem\t" + p["log private key"].replace("\n", "\\n"),
    )) + p["log private key"])
    sidecar = cluster / "logs/sample" / sleep_pod / "istio-proxy.log"
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text(f"{stamp}envoy\tupstream password={p['sidecar log password']}\n")


def _needle(value: str) -> str:
    """What gives a planted value away: a PEM block's body line, else the value itself."""
    return value.split("\n")[1] if value.startswith("-----BEGIN") else value


def _planted_mesh(tmp_path: Path) -> Path:
    mesh = tmp_path / "planted-mesh"
    shutil.copytree(DEMO.snapshot_dir, mesh)
    cluster = mesh / "clusters/cluster1"
    (dump,) = cluster.glob("istiod/*/config_dump/sleep-*.sample.json")
    _plant_config_dump(dump)
    _plant_resources(cluster)
    _plant_logs(cluster, dump.name.removesuffix(".sample.json"))
    return mesh


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def _everything_written(out: Path) -> str:
    """All text of a capture, with every base64 run decoded, two levels deep (a kubeconfig in a
    Secret carries base64 in its turn)."""
    def expand(data: bytes, depth: int) -> list[str]:
        texts = [data.decode("utf-8", errors="replace")]
        if depth:
            for m in _BASE64_RUN.finditer(data):
                try:
                    texts += expand(base64.b64decode(m.group(), validate=True), depth - 1)
                except ValueError:
                    pass
        return texts
    return "\n".join(t for f in sorted(out.rglob("*")) if f.is_file()
                     for t in expand(f.read_bytes(), 2))


def test_meshbot_snapshot_writes_none_of_the_secrets_planted_in_a_replayed_mesh(tmp_path):
    mesh = _planted_mesh(tmp_path)
    out = tmp_path / "capture"
    with ReplayThread(Snapshot.open(mesh)) as replay:
        kubeconfig = replay.write_kubeconfig(tmp_path / "kubeconfig")
        done = subprocess.run([sys.executable, "-m", "bot.cli", "snapshot", "--kubeconfig",
                               str(kubeconfig), "--out", str(out), "-n", "sample"],
                              cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    written = _everything_written(out)
    found = [what for what, value in PLANTED.items() if _needle(value) in written]
    assert found == [], f"planted secrets in the capture: {found}"
    # ... while what is public or needed stayed, and the planted places were captured
    assert CA_MARKER in written and "kept-env-value" in written
    assert '"networking.istio.io/cluster": "planted"' in written
    assert "example-client-go-exec-plugin" in written and "https://10.0.0.1:6443" in written
    # pods as the API server sent them: what diagnoses leave unread is kept for other readers
    assert "kube-api-access-" in written and "tolerationSeconds" in written
    assert "containerd://" in written and "terminationMessagePath" in written
    cluster = out / "clusters/cluster1"
    assert list(cluster.glob("istiod/*/config_dump/sleep-*.sample.json"))
    assert list(cluster.glob("logs/sample/sleep-*/istio-proxy.log"))
    assert "connecting with token=REDACTED" in written


async def test_a_proxy_id_that_is_a_path_is_reported_and_never_written(tmp_path):
    """istiod's syncz names the proxies; one named `../../x.y` would have put its config_dump
    two folders up. The replayed istiod answers for it, so only the capture's own check stands
    between that body and the file system."""
    mesh = tmp_path / "mesh"
    shutil.copytree(DEMO.snapshot_dir, mesh)
    (syncz,) = (mesh / "clusters/cluster1").glob("istiod/*/syncz.json")
    entries = json.loads(syncz.read_text())
    hostile = ["../../x.y", "../../../../../../tmp/x.y", "sleep/../../z.sample", "a.b\n"]
    entries += [{**entries[0], "proxy": proxy} for proxy in hostile]
    syncz.write_text(json.dumps(entries))
    (syncz.parent.parent / "x.y.json").write_text('{"served": "for ../../x.y"}')
    before = {p for p in tmp_path.rglob("*")}
    out = tmp_path / "out" / "capture"
    results = await _capture_from(mesh, out, CaptureOptions())
    errors = "\n".join(results[0].errors)
    for proxy in hostile:
        assert f"names proxy {proxy!r}, not <pod>.<namespace>: not captured" in errors
    after = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in after if not p.resolve().is_relative_to(out.resolve())
               and p not in (out.parent, out.parent / "kubeconfig")]
    assert outside == [] and not [p for p in after if p.name in ("x.y.json", "z.sample.json")]
    assert list((out / "clusters/cluster1").glob("istiod/*/config_dump/sleep-*.sample.json"))


async def test_a_cluster_id_that_is_not_a_folder_name_is_refused_not_written(tmp_path):
    out = tmp_path / "capture"
    config = parse_config({"clusters": [{"name": "../../escaped", "context": "cluster1"},
                                        {"name": "cluster2", "context": "cluster2"}]})
    results = await _capture_from(DEMO.snapshot_dir, out, CaptureOptions(), config=config)
    assert "cannot name a folder" in results[0].errors[0] and not results[0].kinds
    assert not (tmp_path / "escaped").exists() and not (out.parent / "escaped").exists()
    assert Snapshot.open(out).cluster_names == ["cluster2"]


async def test_folders_are_named_by_the_ids_clusters_state_not_by_contexts(tmp_path):
    """Contexts named as real ones are (kind-east, gke_…, arn:aws:eks:…/prod-c): each folder is
    the cluster id the cluster states (`/` written --slash--); a cluster that states none keeps
    its context's name, recorded as not an id; contexts are recorded so fix commands name
    them. The capture diagnoses as the original does."""
    (scenario,) = [s for s in scenarios() if s.name == "remote-clusters-external-healthy"]
    contexts = real_context_names(Snapshot.open(scenario.snapshot_dir))
    out = tmp_path / "captured"
    await _capture_from(scenario.snapshot_dir, out, None, contexts=contexts)
    meta = yaml.safe_load((out / "snapshot.yaml").read_text())
    unknown = contexts["external"].replace("/", "--slash--")
    assert meta["clusters"] == [unknown, "prod--slash--remote1", "remote2"]
    assert meta["id_origins"] == {unknown: None}
    assert meta["contexts"] == {unknown: contexts["external"], "prod--slash--remote1":
                                contexts["remote1"], "remote2": contexts["remote2"]}
    report = await diagnose(scenario.request.plan(), SnapshotSource(Snapshot.open(out)))
    assert report.verdict == "healthy"
    original = comparable(await run_snapshot(scenario))
    assert comparable(report, {contexts["external"]: "external"}) == original


async def test_ztunnels_are_captured_as_the_layout_says_without_certificates(tmp_path):
    """C4: every ztunnel's admin /config_dump under ztunnel/<pod>/, its log under logs/, and
    istiod's ambientz by the endpoint rule; the workload certificates a ztunnel holds (key
    material's neighbours) are dropped, and the capture diagnoses like the original."""
    ambient = next(s for s in scenarios() if s.name == "ambient-healthy")
    mesh = tmp_path / "mesh"
    shutil.copytree(ambient.snapshot_dir, mesh)
    dump_file = next(mesh.glob("clusters/cluster1/ztunnel/*/config_dump.json"))
    body = json.loads(dump_file.read_text())
    body["certificates"] = [{"identity": "spiffe://cluster.local/ns/sample/sa/sleep",
                             "state": "Available",
                             "certChain": [{"pem": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"}]}]
    dump_file.write_text(json.dumps(body))
    out = tmp_path / "captured"
    results = await _capture_from(mesh, out, CaptureOptions(namespaces=["sample"]))
    assert not [e for r in results for e in r.errors if "ztunnel" in e], results
    for cluster in ("cluster1", "cluster2"):
        original = sorted(p.parent.name for p in mesh.glob(f"clusters/{cluster}/ztunnel/*/*"))
        dumps = sorted(out.glob(f"clusters/{cluster}/ztunnel/*/config_dump.json"))
        assert [d.parent.name for d in dumps] == original and len(dumps) == 2
        for d in dumps:
            assert "certificates" not in json.loads(d.read_text())
            assert (out / f"clusters/{cluster}/logs/istio-system/{d.parent.name}/"
                    "istio-proxy.log").is_file()
        assert list(out.glob(f"clusters/{cluster}/istiod/*/ambientz.json"))
    # the planted certificate chain is nowhere (the webhooks' public caBundle is kept)
    assert "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\"" not in \
        "".join(p.read_text() for p in out.rglob("*.json"))
    report = await diagnose(ambient.request.plan(), SnapshotSource(Snapshot.open(out)))
    assert comparable(report) == comparable(await run_snapshot(ambient))
