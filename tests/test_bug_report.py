"""istioctl bug-report archives as snapshot sources: layout, cluster ids, what is not captured.

Archives are written by tests/meshgen/bug_report.py from the same mesh models as the scenario
snapshots, in the layout each istioctl version writes (istio/istio tools/bug-report/pkg at the
release tags); tests/test_bug_report_parity.py proves they diagnose like the snapshots.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from diagnostics.bugreport.files import File, log_parts
from diagnostics.bugreport.layout import (Entry, Part, classify, cli_version, root_of,
                                          scoped_namespaces, split_previous)
from diagnostics.engine import diagnose
from diagnostics.sidecar_fetch import OWN_CONFIG_DUMP
from diagnostics.snapshot import Snapshot, SnapshotError
from diagnostics.sources.snapshot import SnapshotSource
from handlers.commands import parse
from tests.meshgen.bug_report import (render_bug_report, write_archive, write_archives,
                                      write_folder)
from tests.meshgen.scenarios import build

REPO = Path(__file__).resolve().parents[1]
OLD, NEW = "1.22.0", "1.30.0"  # the two layouts: combined k8s-resources, and split (1.30+)


def _request(text: str):
    return parse(text, terminal=False).plan()


async def _diagnose(text: str, paths: list[Path]):
    return await diagnose(_request(text), SnapshotSource(Snapshot.open_many(paths)))


# -- the layout, as Istio's source writes it -----------------------------------------------------


@pytest.mark.parametrize("path, entry", [
    ("cluster/k8s-resources", Entry(Part.RESOURCES, name="k8s-resources")),
    ("cluster/k8s-cluster-resources", Entry(Part.RESOURCES, name="k8s-cluster-resources")),
    ("cluster/pods", Entry(Part.RESOURCES, name="pods")),
    ("cluster/secrets", Entry(Part.SECRETS)),
    ("cluster/events", Entry(Part.EVENTS)),
    ("cluster/cluster-context", Entry(Part.CONTEXT)),
    ("cluster/kubectl-version", Entry(Part.KNOWN)),
    ("istio/istio-system/istiod-7f9/debug/syncz", Entry(Part.ISTIOD_DEBUG, "istio-system",
                                                       "istiod-7f9", "syncz")),
    ("istio/istio-system/istiod-7f9/discovery.log", Entry(Part.ISTIOD_LOG, "istio-system",
                                                         "istiod-7f9")),
    ("istio/istio-system/istiod-7f9/metrics", Entry(Part.ISTIOD_METRICS, "istio-system",
                                                    "istiod-7f9")),
    ("proxies/sample/sleep-1/config_dump?include_eds", Entry(Part.PROXY_DUMP, "sample", "sleep-1")),
    ("proxies/istio-system/ztunnel-x/config_dump", Entry(Part.ZTUNNEL_DUMP, "istio-system",
                                                         "ztunnel-x")),
    ("proxies/sample/sleep-1/istio-proxy.log", Entry(Part.PROXY_LOG, "sample", "sleep-1")),
    ("proxies/sample/sleep-1/stats/prometheus", Entry(Part.KNOWN)),
    ("proxies/sample/sleep-1/cores/0.core", Entry(Part.KNOWN)),
    ("cni/istio-cni-node-x/cni.log", Entry(Part.CNI_LOG, pod="istio-cni-node-x")),
    ("analyze/allNamespaces/allNamespaces", Entry(Part.KNOWN)),
    ("versions", Entry(Part.VERSIONS)),
    ("bug-report.log", Entry(Part.LOG)),
    ("clusters/east/resources/pods.yaml", Entry(Part.UNKNOWN)),
])
def test_every_path_istioctl_writes_is_classified(path, entry):
    assert classify(tuple(path.split("/"))) == entry


@pytest.mark.parametrize("path, root", [
    ("bug-report/cluster/cluster-context", "bug-report/"),
    ("cluster/pods", ""),  # --dir: no bug-report/ prefix
    ("east/bug-report/cluster/k8s-resources", "east/bug-report/"),
    ("bug-report/proxies/cluster/cluster/pods/istio-proxy.log", None),  # a pod named cluster
    ("clusters/east/resources/pods.yaml", None),
])
def test_a_root_is_where_cluster_files_are(path, root):
    assert root_of(path) == root


def test_versions_and_include_are_read_as_istioctl_prints_them():
    versions = ('CLI version:\nversion.BuildInfo{Version:"1.30.0", GitRevision:"abc", '
                'GolangVersion:"go1.24.4", BuildStatus:"Clean", GitTag:"1.30.0"}\n')
    assert cli_version(versions) == "1.30.0"
    log = "timeout (mins): 30\ninclude: { Namespaces: sample,shop } AND { Namespaces: web }\n"
    assert scoped_namespaces(log, "istio-system") == ["istio-system", "sample", "shop", "web"]
    for unscoped in ("include: {  }\n", "include: { Namespaces: s* }\n",
                     "include: { Namespaces: a } AND { /Deployments: x }\n"):
        assert scoped_namespaces(unscoped, "istio-system") is None


def test_a_restarted_containers_two_runs_are_split_even_from_a_tail():
    text = ("========= Previous log present (appended at the end) =========\n\nnow-1\nnow-2"
            "\n\n========= Previous log =========\n\nbefore-1\nbefore-2\n")
    assert split_previous(text) == ("now-1\nnow-2", "before-1\nbefore-2\n")
    data = text.encode()
    file = File("x.log", len(data), 0.0, lambda: io.BytesIO(data))
    assert log_parts(file, 1 << 20) == (b"now-1\nnow-2", b"before-1\nbefore-2\n", False)
    current, previous, cut = log_parts(file, 6)
    assert (current, previous, cut) == (b"-1\nnow-2"[-6:], b"fore-2\n"[-6:], True)
    plain = File("y.log", 6, 0.0, lambda: io.BytesIO(b"a\nb\nc\n"))
    assert log_parts(plain, 1 << 20) == (b"a\nb\nc\n", None, False)


# -- reading archives ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_mesh():
    return build("demo")[0]


@pytest.mark.parametrize("version", [OLD, NEW])
async def test_an_archive_an_unpacked_folder_and_a_dir_root_read_the_same(
        demo_mesh, tmp_path, version):
    archives = write_archives(demo_mesh, tmp_path, version, full_secrets=True)
    members = render_bug_report(demo_mesh, version, full_secrets=True, root="")
    folders = [write_folder(m, tmp_path / f"unpacked-{cid}") for cid, m in members.items()]
    by_archive = await _diagnose("why-local-only helloworld -n sample", archives)
    by_folder = await _diagnose("why-local-only helloworld -n sample", folders)
    assert by_archive.verdict == by_folder.verdict == "problem"
    assert [f.id for f in by_archive.findings] == [f.id for f in by_folder.findings] \
        == ["remote-secret-missing"]


async def test_cluster_ids_come_from_what_the_archive_holds_not_its_context(demo_mesh, tmp_path):
    """kubeadm names every context `kubernetes-admin@kubernetes`: the clusters are told apart
    and named by the ids their istiod and proxies carry."""
    same = {"cluster1": "kubernetes-admin@kubernetes", "cluster2": "kubernetes-admin@kubernetes"}
    paths = write_archives(demo_mesh, tmp_path, NEW, full_secrets=True, contexts=same)
    snapshot = Snapshot.open_many(paths)
    assert snapshot.cluster_names == ["kubernetes-admin_kubernetes",
                                      "kubernetes-admin_kubernetes-2"]
    assert [c.id_origin for c in snapshot.clusters.values()] == [None, None]
    report = await diagnose(_request("trust"), SnapshotSource(snapshot))
    clusters = [c.to_dict() for c in report.clusters]
    assert [c["name"] for c in clusters] == ["cluster1", "cluster2"]
    assert all(c["id_origin"].startswith("istiod CLUSTER_ID (pod istio-system/istiod-")
               and c["context"] == "kubernetes-admin@kubernetes" for c in clusters)


def test_one_cluster_given_twice_is_refused_but_clashing_contexts_are_not(demo_mesh, tmp_path):
    with pytest.raises(SnapshotError, match="cluster cluster1 is in more than one of the "
                                            "snapshots given"):
        Snapshot.open_many([REPO / "examples" / "demo-mesh"] * 2)
    paths = write_archives(demo_mesh, tmp_path, NEW, contexts={"cluster1": "prod"})
    twice = Snapshot.open_many([paths[0], paths[0]])  # two archives of one context: the ids
    assert twice.cluster_names == ["prod", "prod-2"]  # decide (here: a collision finding)


async def test_a_remote_cluster_without_istiod_is_named_by_its_injector_values(tmp_path):
    """primary-remote: cluster2 runs no istiod; its id is the clusterName the injector writes
    into its proxies, and its client's view is the proxy's own config dump."""
    mesh, _ = build("primary-remote-healthy")
    report = await _diagnose("why-local-only helloworld -n sample",
                             write_archives(mesh, tmp_path, OLD, full_secrets=True))
    origins = {c.name: c.id_origin for c in report.clusters}
    assert origins["cluster2"].startswith("install values global.multiCluster.clusterName")
    views = [s for s in report.steps if s.check == "client-endpoints"]
    assert views and all(any(OWN_CONFIG_DUMP in e for e in s.evidence) for s in views)
    assert report.verdict == "healthy"


async def test_what_a_default_archive_lacks_is_reported_as_not_captured(demo_mesh, tmp_path):
    """Without --full-secrets istioctl lists Secret names only: the steps that need Secrets say
    so instead of guessing, and the answer is inconclusive, not healthy."""
    healthy, _ = build("healthy")
    paths = write_archives(healthy, tmp_path, NEW)
    report = await _diagnose("remote-clusters", paths)
    assert report.verdict == "inconclusive"
    skipped = [e for s in report.steps if s.status == "skip" for e in s.evidence]
    assert any("Secret names only; run it with --full-secrets" in e for e in skipped), skipped
    source = SnapshotSource(Snapshot.open_many(paths))
    cluster = source.cluster_infos()[0].key
    for resource, fragment in (("events", "keeps events only as a table"),
                               ("endpoints", "does not list them"),
                               ("serviceaccounts", "not in this istioctl bug-report")):
        with pytest.raises(Exception, match=fragment):
            await source.list(cluster, resource, "istio-system")
    with pytest.raises(Exception, match="keeps only the istio-proxy, discovery"):
        await source.pod_log(cluster, "sample", "sleep-x", "sleep", 10)


async def test_events_are_read_from_archives_up_to_1_29(tmp_path):
    mesh, _ = build("istiod-unhealthy-pending")
    source = SnapshotSource(Snapshot.open_many(write_archives(mesh, tmp_path, OLD)))
    events = [await source.list(c.key, "events", "istio-system") for c in source.cluster_infos()]
    assert any(e["reason"] == "FailedScheduling" for found in events for e in found)


async def test_include_on_1_30_scopes_resources_and_says_where(tmp_path):
    """`--include sample` on 1.30 lists namespaced kinds in sample and the Istio namespace
    only, and writes no istiod files (istiod's pod is not included)."""
    mesh, _ = build("check-healthy-shop")
    paths = write_archives(mesh, tmp_path, NEW, full_secrets=True, include="sample")
    source = SnapshotSource(Snapshot.open_many(paths))
    cluster = source.cluster_infos()[0].key
    assert await source.list(cluster, "pods", "sample")
    with pytest.raises(Exception, match=r"pods in namespace shop not captured \(only in "
                                        r"istio-system, sample\)"):
        await source.list(cluster, "pods", "shop")
    with pytest.raises(Exception, match="in every namespace not captured"):
        await source.list(cluster, "services", None)
    report = await diagnose(_request("check deploy/payload-api -n shop"), source)
    assert report.verdict == "inconclusive"
    assert any("not captured" in e for s in report.steps for e in s.evidence)


async def test_skip_cluster_dump_leaves_the_istio_namespace_pods_only(demo_mesh, tmp_path):
    members = render_bug_report(demo_mesh, NEW, root="")["cluster1"]
    kept = {n: d for n, d in members.items()
            if not n.startswith(("cluster/k8s-", "cluster/crs", "cluster/nodes", "cluster/secrets",
                                 "cluster/events"))}
    source = SnapshotSource(Snapshot.open(write_archive(kept, tmp_path / "skip.tar.gz")))
    cluster = source.cluster_infos()[0].key
    assert {p["metadata"]["namespace"]
            for p in await source.list(cluster, "pods", "istio-system")} == {"istio-system"}
    with pytest.raises(Exception, match="only in istio-system"):
        await source.list(cluster, "pods", "sample")
    with pytest.raises(Exception, match="not in this istioctl bug-report"):
        await source.list(cluster, "services", "sample")


# -- bad archives --------------------------------------------------------------------------------


def _tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size if kind == tarfile.REGTYPE else 0, link
    return info


CONTEXT = _member("bug-report/cluster/cluster-context")
BAD_ARCHIVES = {
    "traversal": ([CONTEXT, _member("bug-report/../../etc/cron.d/x")], "points outside"),
    "absolute": ([CONTEXT, _member("/etc/passwd")], "points outside"),
    "symlink": ([CONTEXT, _member("bug-report/cluster/pods", tarfile.SYMTYPE,
                                  link="/etc/shadow")], "is a symbolic link"),
    "hardlink": ([CONTEXT, _member("bug-report/cluster/pods", tarfile.LNKTYPE,
                                   link="bug-report/cluster/cluster-context")], "is a hard link"),
    "device": ([CONTEXT, _member("bug-report/cluster/pods", tarfile.CHRTYPE)], "is a device"),
    "foreign": ([_member("photos/cat.jpg"), _member("notes.txt")],
                "nor cluster/cluster-context (an istioctl bug-report)"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_a_bad_archive_is_refused_with_a_reason(tmp_path, case):
    members, message = BAD_ARCHIVES[case]
    with pytest.raises(SnapshotError, match=re.escape(message)):
        Snapshot.open(_tar(tmp_path / "bad.tar.gz", members), workdir=tmp_path)


def test_an_archive_over_the_limits_is_refused_from_its_headers(tmp_path):
    from diagnostics.snapshot import ArchiveLimits

    many = [CONTEXT] + [_member(f"bug-report/proxies/ns/p{i}/istio-proxy.log") for i in range(30)]
    with pytest.raises(SnapshotError, match="more than 20 files"):
        Snapshot.open(_tar(tmp_path / "many.tar.gz", many), ArchiveLimits(members=20))


def test_a_folder_with_a_symlink_is_refused(demo_mesh, tmp_path):
    members = render_bug_report(demo_mesh, NEW, root="")["cluster1"]
    folder = write_folder(members, tmp_path / "report")
    (folder / "cluster" / "secrets").unlink()
    (folder / "cluster" / "secrets").symlink_to("/etc/passwd")
    with pytest.raises(SnapshotError, match="'cluster/secrets' is a symbolic link"):
        Snapshot.open(folder, workdir=tmp_path)


def _meshbot(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHBOT_", "REDIS_"))}
    env.update(NO_COLOR="1", TMPDIR=str(tmp))
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["not-gzip", "traversal", "symlink", "foreign"])
def test_the_terminal_answers_a_bad_archive_with_exit_2_and_leaves_nothing_behind(tmp_path, case):
    bad = tmp_path / "bad.tar.gz"
    if case == "not-gzip":
        bad.write_text("<html>Slack login</html>")
        message = "not a directory or a .tar.gz archive"
    else:
        _tar(bad, BAD_ARCHIVES[case][0])
        message = BAD_ARCHIVES[case][1]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _meshbot(tmp, "mesh", "trust", "--snapshot", str(bad))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert list(tmp.iterdir()) == []  # the private folder is gone


def test_the_terminal_reads_one_archive_per_cluster_as_one_mesh(demo_mesh, tmp_path):
    paths = write_archives(demo_mesh, tmp_path, NEW, full_secrets=True)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    args = [a for p in paths for a in ("--snapshot", str(p))]
    proc = _meshbot(tmp, "mesh", "why-local-only", "helloworld", "-n", "sample", *args)
    assert proc.returncode == 1, proc.stderr  # the demo mesh's fault
    assert "remote-secret-missing" in proc.stdout and "cluster1" in proc.stdout
    assert list(tmp.iterdir()) == []
