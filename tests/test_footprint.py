"""What a diagnosis costs, guarded without clocks (bench/ prints the times): what the CLI imports,
how many requests a diagnosis makes and how many of them wait for an earlier answer, which lists
are read as metadata only, and that the bot process does not grow from one diagnosis to the next.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from diagnostics.config import Config
from diagnostics.engine import diagnose
from diagnostics.replay.runner import start_replay
from diagnostics.replay.stats import ReplayStats, RequestRecord, dependent_rounds
from diagnostics.reports import ReportCache
from diagnostics.snapshot import Snapshot
from diagnostics.sources import caching
from diagnostics.sources.caching import CachingSource, fresh_reads
from diagnostics.sources.factory import live_source
from diagnostics.sources.snapshot import SnapshotSource
from diagnostics.store.memory import MemoryStore
from handlers.commands import parse
from handlers.run import Answerer
from tests.meshgen.render import write_snapshot
from tests.meshgen.scale import scaled_mesh
from tests.scenario_support import comparable

REPO = Path(__file__).resolve().parents[1]

#: Loaded by a diagnosis at most, never to print help (each costs tens to hundreds of ms).
HEAVY = ("slack_bolt", "slack_sdk", "matplotlib", "prometheus_client", "kubernetes", "aiohttp",
         "pydantic", "cryptography", "redis", "yaml", "diagnostics.checks", "diagnostics.engine",
         "bot.blocks", "bot.answer_blocks")


def _modules_after(code: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MESHBOT_SNAPSHOT", "MESHBOT_CONFIG")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _cli(*words: str) -> str:
    return ("import json, sys\nfrom bot.cli import main\n"
            f"rc = main({list(words)!r})\n"
            "print(json.dumps(sorted(sys.modules)))")


def test_mesh_help_imports_only_the_grammar():
    loaded = _modules_after(_cli("mesh", "help"))
    assert "handlers.commands" in loaded
    assert not {m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")}


def test_a_usage_error_imports_no_more_than_help():
    loaded = _modules_after(_cli("mesh", "why-local-only"))
    assert not {m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")}


def test_a_snapshot_diagnosis_loads_neither_slack_nor_the_kubernetes_client():
    loaded = _modules_after(_cli("mesh", "proxy-status", "--snapshot",
                                 str(REPO / "examples" / "demo-mesh"), "-o", "json"))
    assert "diagnostics.checks" in loaded  # it did diagnose
    for heavy in ("slack_bolt", "slack_sdk", "matplotlib", "prometheus_client", "kubernetes",
                  "aiohttp", "cryptography", "bot.blocks", "bot.answer_blocks"):
        assert heavy not in loaded, heavy


async def test_a_live_diagnosis_loads_neither_slack_nor_the_snapshot_reader(tmp_path):
    """The terminal's diagnosis of live clusters imports what it reads with: not Slack, not
    the snapshot module and its archive reader (SnapshotError is imported only when an error
    is told apart)."""
    servers = await start_replay(Snapshot.open(REPO / "examples" / "demo-mesh"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    env = {k: v for k, v in os.environ.items() if k not in ("MESHBOT_SNAPSHOT", "MESHBOT_CONFIG")}
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _cli("mesh", "proxy-status", "--kubeconfig", str(kubeconfig),
                                       "-o", "json"),
            cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(child.communicate(), 120)
    finally:
        await servers.close()
    loaded = set(json.loads(out.decode().splitlines()[-1]))
    assert "kubernetes" in loaded and "diagnostics.checks" in loaded  # it did read and diagnose
    for unused in ("diagnostics.snapshot", "tarfile", "slack_bolt", "slack_sdk", "matplotlib"):
        assert unused not in loaded, unused


# ------------------------------------------------------------------------- replay's records


def _record(started: float, finished: float) -> RequestRecord:
    return RequestRecord("cluster1", "GET", "/api/v1/pods", "application/json", started,
                         finished, 200, 0)


def test_dependent_rounds_count_requests_that_waited_for_an_earlier_answer():
    assert dependent_rounds([]) == 0
    # sent together: one round, however many
    assert dependent_rounds([_record(0, 1), _record(0.1, 1.1), _record(0.2, 0.9)]) == 1
    # each sent after the previous answer (a second page, a config_dump after the pod list)
    assert dependent_rounds([_record(0, 1), _record(1, 2), _record(2.5, 3)]) == 3
    # the longest chain counts, not the number of requests after the first
    assert dependent_rounds([_record(0, 1), _record(0.5, 3), _record(1.5, 2),
                             _record(3.5, 4)]) == 3


def test_replay_writes_a_request_log_a_benchmark_reads(tmp_path, replay_mini_dir):
    log, kubeconfig = tmp_path / "requests.jsonl", tmp_path / "kubeconfig"
    replay = subprocess.Popen([sys.executable, "-m", "bot.cli", "replay", str(replay_mini_dir),
                               "--kubeconfig-out", str(kubeconfig), "--request-log", str(log)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        url = replay.stdout.readline().split()[1]
        with urllib.request.urlopen(url + "/api/v1/namespaces/sample/pods?limit=1") as resp:
            body = resp.read()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + "/api/v1/namespaces/sample/pods/ghost")
        missing.value.close()
    finally:
        replay.terminate()
        replay.wait(timeout=30)
        replay.stdout.close()
    records = [RequestRecord.from_json(line) for line in log.read_text().splitlines()]
    assert [(r.path, r.status) for r in records] == [
        ("/api/v1/namespaces/sample/pods?limit=1", 200),
        ("/api/v1/namespaces/sample/pods/ghost", 404)]
    assert len(body) < records[0].bytes < len(body) + 1000  # the answer and its headers
    assert json.loads(body)["items"]
    assert all(r.finished >= r.started for r in records)
    assert dependent_rounds(records) == 2  # the second was sent after the first was answered


# ------------------------------------------------------------------------- calls and rounds

COMMANDS = ["why-local-only helloworld -n sample", "proxy-status", "check ns/sample", "digest"]
#: Above the 500 objects per page a list used to be read in: pages would show here.
PODS = (6, 600)
#: Each answer waits this long, so requests sent together (within a few ms of one another)
#: are never taken for a chain; only a request sent after another's answer counts again.
LATENCY_MS = 400


@pytest.fixture(scope="module")
def scaled_meshes(tmp_path_factory) -> dict[int, Path]:
    out = {}
    for pods in PODS:
        out[pods] = tmp_path_factory.mktemp(f"scaled{pods}")
        write_snapshot(scaled_mesh(pods, 0.34), out[pods])  # 2 of 6 out of sync: every
        # workload has at least the 2 pods whose logs `check` reads
    return out


async def _requests_per_command(snapshot_dir: Path, commands: list[str] = COMMANDS,
                                reports: dict | None = None
                                ) -> dict[str, list[RequestRecord]]:
    servers = await start_replay(Snapshot.open(snapshot_dir), latency_ms=LATENCY_MS)
    out = {}
    try:
        kubeconfig = snapshot_dir.parent / f"{snapshot_dir.name}.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
        source = live_source(Config(), kubeconfig=str(kubeconfig), timeout=60)
        try:
            for command in commands:
                mark = servers.stats.mark()
                report = await diagnose(parse(command, terminal=False).plan(), source, timeout=60)
                out[command] = servers.stats.since(mark)
                if reports is not None:
                    reports[command] = report
        finally:
            await source.close()
    finally:
        await servers.close()
    return out


async def test_calls_stay_flat_and_the_answer_waits_at_most_three_rounds(scaled_meshes):
    small = await _requests_per_command(scaled_meshes[PODS[0]])
    large = await _requests_per_command(scaled_meshes[PODS[1]])
    for command in COMMANDS:
        assert len(large[command]) == len(small[command]), command
        assert dependent_rounds(large[command]) <= 3, (command, [r.path for r in large[command]])
        assert not any("continue=" in r.path for r in large[command]), command


async def test_more_clusters_do_not_add_rounds(tmp_path):
    """Five clusters ask about 140 requests at once: all are sent together, none waits for a
    worker freed by an earlier answer (a 64-thread pool made that five rounds)."""
    write_snapshot(scaled_mesh(6, 0.34, clusters=5), tmp_path / "five")
    requests = await _requests_per_command(tmp_path / "five")
    for command in COMMANDS:
        assert dependent_rounds(requests[command]) <= 3, command


async def test_big_lists_are_decoded_as_they_arrive(scaled_meshes, monkeypatch):
    """Two clusters' big lists arrive together; read whole, both bodies were held at once
    (10,000 pods a cluster: 159 MB of JSON each). The live source feeds a list's body to its
    ListReader as it arrives: what it holds stays a small part of the biggest body (batches
    of 64 kB here). (tests/test_scenarios.py holds the reports to the snapshot's.)"""
    from diagnostics.parse import k8s_lists

    most = [0]
    feed = k8s_lists.ListReader.feed

    def feeding(reader, chunk):
        most[0] = max(most[0], reader.held + len(chunk))  # held once the chunk is in
        feed(reader, chunk)

    monkeypatch.setattr(k8s_lists.ListReader, "feed", feeding)
    monkeypatch.setattr(k8s_lists, "BATCH_BYTES", 64 << 10)
    command = "check svc/helloworld -n sample"  # its 600 pods a cluster, whole
    requests = await _requests_per_command(scaled_meshes[PODS[1]], [command])
    biggest = max(r.bytes for r in requests[command])
    assert biggest > 4 << 20 and 0 < most[0] < biggest // 4, (most, biggest)


def _namespace_pod_reads(records: list[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if r.path.split("?")[0] == "/api/v1/namespaces/sample/pods"]


async def test_checking_one_workload_reads_only_its_pods(scaled_meshes):
    """`check deploy/sleep` and `check pod/<sleep pod>` in a namespace of 600 helloworld pods
    a cluster: the Deployment is read first and then the pods its selector selects, the pod by
    name; neither reads the namespace's pods (a label selector finds the few with a role), and
    the answer still waits at most three rounds."""
    snapshot = Snapshot.open(scaled_meshes[PODS[1]])
    pod = next(p["metadata"]["name"] for p in snapshot.clusters["cluster1"].list("pods", "sample")
               if p["metadata"]["name"].startswith("sleep-"))
    one = ["check deploy/sleep -n sample", f"check pod/{pod} -n sample"]
    requests = await _requests_per_command(scaled_meshes[PODS[1]], [*one, "check ns/sample"])
    namespace = sum(r.bytes for r in _namespace_pod_reads(requests["check ns/sample"]))
    for command in one:
        reads = _namespace_pod_reads(requests[command])
        assert reads and all("Selector=" in r.path or "as=Table" in r.accept for r in reads), \
            [r.path for r in reads]
        assert sum(r.bytes for r in reads) < namespace / 20, command
        assert dependent_rounds(requests[command]) <= 3, [r.path for r in requests[command]]
    deploy = _namespace_pod_reads(requests[one[0]])
    assert {r.cluster for r in deploy if "labelSelector=app%3Dsleep" in r.path} == \
        {"cluster1", "cluster2"}
    by_name = [r for r in _namespace_pod_reads(requests[one[1]]) if "fieldSelector=" in r.path]
    assert {r.cluster for r in by_name} == {"cluster1", "cluster2"}
    # found in cluster1: no cluster reads the namespace's pod names to suggest similar ones
    assert not [r for r in _namespace_pod_reads(requests[one[1]]) if "as=Table" in r.accept]


# ------------------------------------------------------------------------- metadata only


def _nodes_accepts(records: list[RequestRecord]) -> set[str]:
    return {r.accept for r in records if r.path.split("?")[0] == "/api/v1/nodes"}


async def test_metadata_only_lists_are_asked_for_and_served_as_metadata(scaled_meshes):
    """why-local-only reads the nodes' topology labels only (NODE_LABELS, metadata only);
    control-plane reads their conditions too, so it asks for whole nodes."""
    requests = await _requests_per_command(scaled_meshes[PODS[0]])
    assert all("as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" in a
               for a in _nodes_accepts(requests["why-local-only helloworld -n sample"]))
    assert _nodes_accepts(requests["why-local-only helloworld -n sample"])
    assert _nodes_accepts(requests["digest"]) == {"application/json"}


async def test_why_local_only_reads_names_and_only_its_client_whole(scaled_meshes):
    """600 helloworld pods a cluster: the namespace's EndpointSlices and the API server's Tables
    of names (the injected pods, the pods of each network) say where each endpoint is and which
    pods may be the client; no pod's metadata is read but label-selected lists of the few with
    a role (gateways, ambient: none here), and only the client (the first sleep pod) whole."""
    requests = await _requests_per_command(scaled_meshes[PODS[1]])
    reads = [r for r in requests["why-local-only helloworld -n sample"]
             if r.path.split("?")[0] == "/api/v1/namespaces/sample/pods"]
    meta = [r for r in reads if "PartialObjectMetadata" in r.accept]
    tables = [r for r in reads if "as=Table" in r.accept]
    whole = [r for r in reads if r not in meta and r not in tables]
    assert meta and all("labelSelector=" in r.path for r in meta)
    assert {r.cluster for r in tables} == {"cluster1", "cluster2"}
    assert whole and all("fieldSelector=metadata.name%3Dsleep-" in r.path for r in whole)
    command = "check svc/helloworld -n sample"
    service = _namespace_pod_reads(  # its pods, whole
        (await _requests_per_command(scaled_meshes[PODS[1]], [command]))[command])
    assert sum(r.bytes for r in meta + tables) < sum(r.bytes for r in service) / 10


async def test_the_likely_clients_log_is_asked_with_its_whole_object_not_after(scaled_meshes):
    """The client (the first sleep pod by name) is known from the pods' names: its proxy log
    is sent while its whole object is read, so the answer waits one round less (a big
    namespace's list takes longer than two round trips, and each round after it shows)."""
    requests = await _requests_per_command(scaled_meshes[PODS[1]])
    records = requests["why-local-only helloworld -n sample"]
    for cluster in ("cluster1", "cluster2"):
        whole = [r for r in records if r.cluster == cluster
                 and "fieldSelector=metadata.name%3Dsleep-" in r.path]
        logs = [r for r in records if r.cluster == cluster and "/log?container=istio-proxy" in r.path]
        assert len(whole) == len(logs) == 1, [r.path for r in records]
        assert logs[0].started < whole[0].finished  # sent together, not one after the other


async def test_check_ns_reads_metadata_and_rows_and_whole_only_the_pods_it_examines(tmp_path,
                                                                                   monkeypatch):
    """600 helloworld pods a cluster, three of cluster1's crash-looping: `check ns/sample`
    reads every pod's metadata once (the checks that want it share it: no second list), the
    rows `kubectl get pods` prints, and whole only the three and two of each class of settled
    replicas, in at most three rounds; and it says exactly what reading the namespace whole
    says (namespace_pods.WHOLE_READS = 0)."""
    from diagnostics import namespace_pods

    write_snapshot(scaled_mesh(600, 0.34), tmp_path / "mesh")
    crashing = _crash_pods(tmp_path / "mesh", "cluster1", 3)
    command = "check ns/sample"
    reports: dict = {}
    requests = await _requests_per_command(tmp_path / "mesh", [command], reports)
    reads = _namespace_pod_reads(requests[command])
    meta = [r for r in reads if "PartialObjectMetadata" in r.accept]
    rows = [r for r in reads if "as=Table" in r.accept and "includeObject=None" in r.path]
    whole = [r for r in reads if r not in meta and r not in rows]
    assert sorted(r.cluster for r in meta) == sorted(r.cluster for r in rows) == \
        ["cluster1", "cluster2"]
    assert whole and all("fieldSelector=metadata.name%3D" in r.path for r in whole)
    assert set(crashing) <= {r.path.rsplit("%3D", 1)[1] for r in whole}
    assert len(whole) < 40, [r.path for r in whole]
    assert dependent_rounds(requests[command]) <= 3
    [finding] = [f for f in reports[command].findings if f.id == "workload-pods-not-ready"]
    assert re.match(r"deployment/helloworld\S*: 3 of \d{3} pods not Ready", finding.evidence[0]), \
        finding.evidence

    monkeypatch.setattr(namespace_pods, "WHOLE_READS", 0)
    whole_reports: dict = {}
    everything = await _requests_per_command(tmp_path / "mesh", [command], whole_reports)
    assert not [r for r in _namespace_pod_reads(everything[command]) if "Selector" in r.path]
    assert comparable(reports[command]) == comparable(whole_reports[command])


def _crash_pods(snapshot_dir: Path, cluster: str, count: int) -> list[str]:
    """`count` helloworld pods of `cluster` crash-loop: their app container waits in
    CrashLoopBackOff after its fourth exit, not ready."""
    [path] = (snapshot_dir / "clusters" / cluster / "resources" / "sample").glob("pods.*")
    pods = yaml.safe_load(path.read_text())
    chosen = [p for p in pods["items"] if p["metadata"]["name"].startswith("helloworld")][:count]
    for pod in chosen:
        status = pod["status"]
        app = next(c for c in status["containerStatuses"] if c["name"] == "helloworld")
        app.update(ready=False, restartCount=4, started=False,
                   state={"waiting": {"reason": "CrashLoopBackOff"}},
                   lastState={"terminated": {"exitCode": 1, "reason": "Error",
                                             "finishedAt": "2026-11-20T08:58:00Z"}})
        for condition in status["conditions"]:
            if condition["type"] in ("Ready", "ContainersReady"):
                condition["status"] = "False"
    path.write_text(yaml.safe_dump(pods) if path.suffix == ".yaml" else json.dumps(pods))
    return sorted(p["metadata"]["name"] for p in chosen)


async def test_a_list_read_anyway_answers_its_selected_part_without_a_request(scaled_meshes):
    """Every diagnosis reads the Istio namespace's pods (the cluster's identity); istiod's pods
    are among them, so no command asks for them apart: one request less per cluster, a TLS
    handshake less on a real one."""
    requests = await _requests_per_command(scaled_meshes[PODS[0]])
    for command, records in requests.items():
        paths = [r.path for r in records]
        assert "/api/v1/namespaces/istio-system/pods" in paths, command
        assert not [p for p in paths if p.startswith("/api/v1/namespaces/istio-system/pods?")
                    and "app%3Distiod" in p], command


def _drop_from_syncz(snapshot_dir: Path, cluster: str, count: int) -> list[str]:
    """Take `count` helloworld proxies of `cluster` out of its istiod's syncz (disconnected);
    their pod names."""
    [syncz] = (snapshot_dir / "clusters" / cluster / "istiod").glob("*/syncz.json")
    entries = json.loads(syncz.read_text())
    gone = [e for e in entries if e["proxy"].startswith("helloworld")][:count]
    syncz.write_text(json.dumps([e for e in entries if e not in gone]))
    return sorted(e["proxy"].split(".")[0] for e in gone)


def _copy_pod(snapshot_dir: Path, cluster: str, name: str, namespace: str,
              injected: bool = True) -> None:
    """A second pod named `name`, in `namespace` (a StatefulSet's `web-0` is in every
    namespace that runs one): a sidecar no syncz lists, as the copied one is listed; not
    `injected`, a pod that carries the injector's label but no sidecar (set by hand)."""
    folder = snapshot_dir / "clusters" / cluster / "resources"
    [source] = [f for f in (folder / "sample").glob("pods.*")]
    pods = yaml.safe_load(source.read_text())
    [pod] = [p for p in pods["items"] if p["metadata"]["name"] == name]
    copy = json.loads(json.dumps(pod))
    copy["metadata"]["namespace"] = namespace
    if not injected:
        copy["metadata"]["annotations"].pop("sidecar.istio.io/status")
        copy["spec"]["containers"] = [c for c in copy["spec"]["containers"]
                                      if c["name"] != "istio-proxy"]
    (folder / namespace).mkdir(exist_ok=True)
    (folder / namespace / "pods.yaml").write_text(yaml.safe_dump(dict(pods, items=[copy])))


async def _proxy_status(tmp_path: Path, snapshot_dir: Path, check: str = "proxy-connected"):
    """proxy-status against the replayed snapshot; cluster1's step of `check`, and every
    pod read."""
    servers = await start_replay(Snapshot.open(snapshot_dir))
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
        source = live_source(Config(), kubeconfig=str(kubeconfig), timeout=60)
        try:
            report = await diagnose(parse("proxy-status", terminal=False).plan(), source,
                                    timeout=60)
        finally:
            await source.close()
        pod_reads = [r for r in servers.stats.since(0) if r.path.split("?")[0].endswith("/pods")]
    finally:
        await servers.close()
    [step] = [s for s in report.steps if s.check == check and s.cluster == "cluster1"]
    return step, pod_reads


def _counts(step) -> tuple[int, int]:
    return tuple(map(int, re.match(r"(\d+) pods with a proxy in cluster1, (\d+) listed",
                                   step.evidence[0]).groups()))


def _named(records: list[RequestRecord]) -> list[str]:
    return sorted(r.path.split("metadata.name%3D")[1] for r in records if "metadata.name%3D" in r.path)


@pytest.mark.parametrize("disconnected", [3, 40])
async def test_proxy_status_reads_whole_only_the_pods_no_istiod_lists(tmp_path, disconnected):
    """No pod's metadata is read to find sidecars: the injected pods' names (a Table without
    objects) against syncz say which few no istiod lists, and those are read whole by name;
    when too many are missing to read one by one (istiod down), the injected pods' metadata
    says which, and a namespace of many is read with its list. Either way each is judged."""
    snapshot_dir = tmp_path / "mesh"
    write_snapshot(scaled_mesh(60), snapshot_dir)
    gone = _drop_from_syncz(snapshot_dir, "cluster1", disconnected)
    step, pod_reads = await _proxy_status(tmp_path, snapshot_dir)
    total, listed = _counts(step)
    assert total - listed == disconnected
    rows = [line.split()[1] for line in step.evidence if line.startswith("  cluster1  ")]
    assert rows == [f"{name}.sample" for name in gone[:20]]  # the table shows twenty
    assert {f.params["pod"] for f in step.findings if f.id == "proxy-disconnected"} <= set(gone)
    assert step.findings
    tables = [r for r in pod_reads if "as=Table" in r.accept]
    assert sorted(r.cluster for r in tables) == ["cluster1", "cluster2"]
    assert all("includeObject=None" in r.path for r in tables)
    everything = [r for r in pod_reads if r.path.split("?")[0] == "/api/v1/pods"
                  and "PartialObjectMetadata" in r.accept]
    # the gateways' and waypoints' few pods are read as metadata by their labels
    assert all("labelSelector=" in r.path for r in everything)
    whole = [r for r in pod_reads if r.cluster == "cluster1" and "as=" not in r.accept
             and "/istio-system/" not in r.path and "labelSelector" not in r.path]
    if disconnected <= 20:
        assert _named(whole) == gone
        assert not [r for r in everything if "tlsMode" in r.path]
    else:
        assert [r.path.split("?")[0] for r in whole] == ["/api/v1/namespaces/sample/pods"]
        assert [r.cluster for r in everything if "tlsMode" in r.path] == ["cluster1"]
    assert not [r for r in pod_reads if r.cluster == "cluster2" and "metadata.name" in r.path]


async def test_skewed_proxies_name_their_workload_from_the_pods_read_by_name(tmp_path):
    """proxy-versions' fix restarts the skewed proxies' workload: their pods are read whole
    by name (their owners), no other pod is."""
    snapshot_dir = tmp_path / "mesh"
    write_snapshot(scaled_mesh(6), snapshot_dir)
    [file] = (snapshot_dir / "clusters" / "cluster1" / "istiod").glob("*/syncz.json")
    entries = json.loads(file.read_text())
    old = [e for e in entries if e["proxy"].startswith("helloworld")][:2]
    for entry in old:
        entry["istio_version"] = "1.25.2"
    file.write_text(json.dumps(entries))
    step, pod_reads = await _proxy_status(tmp_path, snapshot_dir, "proxy-versions")
    skewed = sorted(e["proxy"].split(".")[0] for e in old)
    assert sorted(f.params["pod"] for f in step.findings) == skewed
    assert {f.params["workload"] for f in step.findings} == {"deployment/helloworld-v1"}
    assert _named([r for r in pod_reads if r.cluster == "cluster1"]) == skewed
    assert not _named([r for r in pod_reads if r.cluster == "cluster2"])


@pytest.mark.parametrize("injected", [True, False])
async def test_a_pod_named_like_a_listed_sidecar_in_another_namespace_is_judged(tmp_path,
                                                                               injected):
    """Names alone cannot tell two `web-0` apart: a name more injected pods carry than listed
    proxies do is read whole across namespaces, and the unlisted one is judged: a sidecar no
    istiod lists, or a pod labelled by hand that runs no proxy (then not counted)."""
    snapshot_dir = tmp_path / "mesh"
    write_snapshot(scaled_mesh(6), snapshot_dir)
    before, _ = _counts((await _proxy_status(tmp_path, snapshot_dir))[0])
    syncz = json.loads(next((snapshot_dir / "clusters" / "cluster1" / "istiod")
                            .glob("*/syncz.json")).read_text())
    name = next(e["proxy"] for e in syncz if e["proxy"].startswith("helloworld")).split(".")[0]
    _copy_pod(snapshot_dir, "cluster1", name, "shop", injected)
    step, pod_reads = await _proxy_status(tmp_path, snapshot_dir)
    total, listed = _counts(step)
    assert (total, listed) == ((before + 1, before) if injected else (before, before))
    assert [(f.params["pod"], f.params["namespace"]) for f in step.findings] == \
        ([(name, "shop")] if injected else [])
    assert _named([r for r in pod_reads if r.cluster == "cluster1"]) == [name]


async def test_replay_answers_partial_object_metadata(replay_mini_dir):
    servers = await start_replay(Snapshot.open(replay_mini_dir))
    try:
        url = servers.urls["cluster1"] + "/api/v1/namespaces/sample/pods"
        accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
        listed = await asyncio.to_thread(_get, url, accept)
        whole = await asyncio.to_thread(_get, url, "application/json")
        name = whole["items"][0]["metadata"]["name"]
        one = await asyncio.to_thread(_get, f"{url}/{name}", accept.replace("List", ""))
    finally:
        await servers.close()
    assert (listed["kind"], listed["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert [i["metadata"] for i in listed["items"]] == [i["metadata"] for i in whole["items"]]
    assert all(set(i) == {"kind", "apiVersion", "metadata"} for i in listed["items"])
    assert {i["kind"] for i in listed["items"]} == {"PartialObjectMetadata"}
    assert one == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": whole["items"][0]["metadata"]}


def _get(url: str, accept: str) -> dict:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request) as resp:
        return json.loads(resp.read())


# ----------------------------------------------------------------------- the facts cache

async def test_the_facts_cache_answers_what_was_read_and_keeps_big_values_off_the_loop(
        scaled_meshes, monkeypatch):
    """A hit gives what the read gave, a big list (600 pods, compressed) as a small one; a big
    value is encoded and decoded on a worker thread, so that the bot's event loop goes on
    acknowledging Slack meanwhile (a list of 10,000 pods: a third of a second each way)."""
    loop_thread, seen = threading.get_ident(), []
    for name in ("_encode", "_decode"):
        def spy(value, real=getattr(caching, name), name=name):
            seen.append((name, threading.get_ident() == loop_thread))
            return real(value)
        monkeypatch.setattr(caching, name, spy)
    source = CachingSource(SnapshotSource(Snapshot.open(scaled_meshes[PODS[1]])), MemoryStore(),
                           30)
    cluster = source.cluster_infos()[0].key
    pods = await source.list(cluster, "pods", None)
    namespaces = await source.list(cluster, "namespaces", None)
    assert len(pods) > caching.OFF_LOOP_ITEMS > len(namespaces)
    assert await source.list(cluster, "pods", None) == pods
    assert await source.list(cluster, "namespaces", None) == namespaces
    assert seen == [("_encode", False), ("_encode", True), ("_decode", False), ("_decode", True)]
    with fresh_reads():  # Re-run: read again, and cache what was read
        assert await source.list(cluster, "pods", None) == pods
    assert seen[4:] == [("_encode", False)]


# ------------------------------------------------------------------------- the bot stays flat

SOAK = 40  # consecutive diagnoses, as the bot runs them (Re-run: caches bypassed); 100 of
# the 10,000-pod mesh, with the process's RSS: bench/soak.py
WARM = 8  # the first few may fill caches (imports, catalog, connection pools)


async def test_the_bot_process_does_not_grow_across_consecutive_diagnoses(scaled_meshes):
    """The bot's own path (facts cache, report cache over the in-process store, Answerer) over
    the live source: Python heap after SOAK diagnoses equals the heap after WARM, within a
    small margin (tracemalloc: no clock, no RSS noise)."""
    # the replay runs in this process: it must not keep its request records either
    servers = await start_replay(Snapshot.open(scaled_meshes[PODS[0]]),
                                 stats=ReplayStats(keep=False))
    kubeconfig = scaled_meshes[PODS[0]].parent / "soak.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    clock = [0.0]  # the store's clock: diagnoses a couple of minutes apart, as the bot sees
    store = MemoryStore(clock=lambda: clock[0])  # them, so what the store keeps expires
    source = CachingSource(live_source(Config(), kubeconfig=str(kubeconfig), timeout=30),
                           store, 30)
    answerer = Answerer(source, ReportCache(store, 60), timeout=30)
    requests = [parse(c, terminal=False) for c in COMMANDS]
    heap: dict[int, int] = {}
    tracemalloc.start()
    try:
        for i in range(1, SOAK + 1):
            report = await answerer.answer(requests[i % len(requests)], fresh=True)
            assert report.verdict in ("healthy", "problem"), report.summary
            clock[0] += 120
            if i in (WARM, SOAK):  # no gc.collect() here: what the bot holds, as it runs
                heap[i] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        await source.close()
        await servers.close()
    # bytes over 32 diagnoses: bounded caches still filling stay well under this; the leak it
    # guards against (cycles kept frozen) grew the heap by 27 MB
    assert heap[SOAK] - heap[WARM] < 2_000_000, heap


def test_the_bots_thaw_hands_freed_memory_back_to_the_system():
    """Memory a diagnosis freed between blocks still in use stays in glibc's heap (RSS) until
    malloc_trim: thaw calls it. A fresh process fragments 400 MB that way, then thaws."""
    code = ("import json\nfrom diagnostics import gcpause\n"
            "def rss():\n"
            "    return int(open('/proc/self/statm').read().split()[1]) * 4096 >> 20\n"
            "blocks = [bytes(4000) for _ in range(100_000)]\n"
            "kept = blocks[::8]\n"
            "del blocks\n"
            "before = rss()\n"
            "gcpause.thaw()\n"
            "print(json.dumps([before, rss(), len(kept)]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    before, after, kept = json.loads(done.stdout.splitlines()[-1])
    assert kept == 12_500 and before > 300 and after < before / 3, (before, after)


def test_a_terminal_diagnosis_leaves_its_facts_out_of_the_exit_collection():
    """The interpreter runs a full collection when it exits; a one-shot `meshbot mesh` freezes
    what its diagnosis left alive, so that pass walks the modules, not the mesh's facts (1.7 s
    of a 10,000-pod diagnosis before). Counted on the demo mesh: what the last pass would walk
    is a fraction of what was frozen."""
    code = ("import gc, json, sys\nfrom bot.cli import main\n"
            "rc = main(['mesh', 'why-local-only', 'helloworld', '-n', 'sample', '--snapshot',"
            " 'examples/demo-mesh', '-o', 'json'])\n"
            "print(json.dumps([rc, gc.get_freeze_count(), len(gc.get_objects())]))")
    rc, frozen, walked = _last_json_line(code)
    assert rc in (0, 1, 3)
    assert frozen > 4 * walked


def test_a_terminal_diagnosis_runs_no_collection_from_its_imports_to_its_end():
    """`meshbot mesh` ends after its diagnosis, so the cyclic collector stays off from before
    its imports (a sixth of their time went to its passes) to the exit. Counted with gc's
    callbacks, the collector's passes during main(): none, and it is off afterwards."""
    code = ("import gc, json\nfrom bot.cli import main\n"
            "passes = []\n"
            "gc.callbacks.append(lambda phase, info: passes.append(info['generation'])"
            " if phase == 'start' else None)\n"
            "rc = main(['mesh', 'why-local-only', 'helloworld', '-n', 'sample', '--snapshot',"
            " 'examples/demo-mesh', '-o', 'json'])\n"
            "print(json.dumps([rc, passes, gc.isenabled()]))")
    rc, passes, enabled = _last_json_line(code)
    assert rc in (0, 1, 3)
    assert passes == [] and enabled is False


def test_a_snapshot_bot_keeps_its_snapshot_out_of_every_diagnosis_collection():
    """`meshbot serve` over MESHBOT_SNAPSHOT holds the snapshot out of collections
    (gcpause.keep_standing): thaw's full pass walked it after every diagnosis (1.5 s of 2.2 at
    10,000 pods x 2). Diagnoses still collect the cycles they leave, and every FULL_PASS_EVERY-th
    thaw collects a cycle that was frozen by accident too."""
    code = ("import asyncio, gc, json, weakref\n"
            "from diagnostics import gcpause\n"
            "from diagnostics.engine import diagnose\n"
            "from diagnostics.snapshot import Snapshot\n"
            "from diagnostics.sources.snapshot import SnapshotSource\n"
            "from handlers.commands import parse\n"
            "source = SnapshotSource(Snapshot.open('examples/demo-mesh'))\n"
            "gcpause.keep_standing()\n"
            "standing = gc.get_freeze_count()\n"
            "class Node: pass\n"
            "frozen = Node(); frozen.me = frozen; gc.freeze()\n"  # as a traceback may be
            "kept, frozen = weakref.ref(frozen), None\n"
            "made = []\n"
            "async def run():\n"
            "    out = []\n"
            "    for _ in range(gcpause.FULL_PASS_EVERY):\n"
            "        node = Node(); node.me = node; made.append(weakref.ref(node)); del node\n"
            "        await diagnose(parse(['proxy-status'], terminal=False).plan(), source)\n"
            "        out.append([gc.get_freeze_count(), kept() is not None, made[-1]() is None])\n"
            "    return out\n"
            "print(json.dumps([standing, asyncio.run(run())]))")
    standing, after = _last_json_line(code)
    assert standing > 10_000  # the demo mesh's objects
    *before_full, full = after
    assert all(count >= standing and accident and made for count, accident, made in before_full)
    assert full[1] is False and full[2] is True  # the full pass collected the frozen cycle


def _last_json_line(code: str) -> list:
    """What `code` prints last, as JSON, run in a fresh interpreter from the repository without
    the environment's snapshot or config (their collections are the process's own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MESHBOT_SNAPSHOT", "MESHBOT_CONFIG")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.splitlines()[-1])
