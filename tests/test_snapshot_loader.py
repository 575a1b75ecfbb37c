"""Reading snapshots (contract C4): every layout the format allows, and clear errors."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from diagnostics.snapshot import Snapshot, SnapshotError
from diagnostics.sources.base import NotCaptured
from diagnostics.sources.snapshot import SnapshotSource


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


POD = """apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {app: %s}}
status: {phase: Running}
"""


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    write(tmp_path, "snapshot.yaml", "format: meshbot.snapshot/v1\ncaptured_at: '2026-11-20T09:00:00Z'\n"
                                     "clusters: [east]\nfuture_key: ignored\n")
    write(tmp_path, "clusters/east/resources/a.yaml",
          POD % ("a", "sample", "a") + "---\n" + POD % ("b", "other", "b"))
    write(tmp_path, "clusters/east/resources/deep/list.yml", """apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Service, metadata: {name: s1, namespace: sample}}
- {apiVersion: apps/v1, kind: Deployment, metadata: {name: d1, namespace: sample}}
""")
    write(tmp_path, "clusters/east/resources/podlist.json", json.dumps({
        "apiVersion": "v1", "kind": "PodList",
        "items": [{"metadata": {"name": "c", "namespace": "sample", "labels": {"app": "c"}}}]}))
    write(tmp_path, "clusters/west/resources/ns.yaml",
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n")
    return tmp_path


def test_documents_lists_and_json_are_all_read(snap: Path):
    s = Snapshot.open(snap)
    assert s.cluster_names == ["east", "west"]  # listed first, then the rest on disk
    east = s.clusters["east"]
    assert sorted(p["metadata"]["name"] for p in east.list("pods")) == ["a", "b", "c"]
    assert [d["metadata"]["name"] for d in east.list("deployments.apps")] == ["d1"]
    assert east.list("pods", "sample", "app in (a,c)")[1]["kind"] == "Pod"  # kind from PodList
    assert s.captured_at == "2026-11-20T09:00:00Z"


def test_malformed_yaml_names_file_and_line(snap: Path):
    bad = write(snap, "clusters/east/resources/bad.yaml", "kind: Pod\nmetadata:\n  name: [x\n")
    with pytest.raises(SnapshotError) as exc:
        Snapshot.open(snap)
    assert str(bad) in str(exc.value) and ":4:" in str(exc.value)


def test_malformed_json_names_file_and_line(snap: Path):
    bad = write(snap, "clusters/east/resources/bad.json", '{"kind": "Pod",\n "metadata": }')
    with pytest.raises(SnapshotError) as exc:
        Snapshot.open(snap)
    assert f"{bad}:2:" in str(exc.value)


@pytest.mark.parametrize("text, message", [
    ("- just\n- a list\n", "expected a Kubernetes object"),
    ("apiVersion: v1\nmetadata: {name: x}\n", "no 'kind'"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "no metadata.name"),
])
def test_objects_that_are_not_kubernetes_objects_are_errors(snap: Path, text: str, message: str):
    write(snap, "clusters/east/resources/odd.yaml", text)
    with pytest.raises(SnapshotError, match=message):
        Snapshot.open(snap)


def test_not_utf8_is_an_error_naming_the_file(snap: Path):
    (snap / "clusters/east/resources/latin1.yaml").write_bytes(b"kind: Pod\nname: caf\xe9\n")
    with pytest.raises(SnapshotError, match="latin1.yaml: not UTF-8"):
        Snapshot.open(snap)


def test_missing_pieces_are_clear(tmp_path: Path):
    with pytest.raises(SnapshotError, match="no such snapshot"):
        Snapshot.open(tmp_path / "nope")
    with pytest.raises(SnapshotError, match="no clusters/ folder"):
        Snapshot.open(tmp_path)
    write(tmp_path, "clusters/c1/istiod/x/syncz.json", "[]")
    with pytest.raises(SnapshotError, match="missing resources/ folder"):
        Snapshot.open(tmp_path)


def test_wrong_format_and_unlisted_folder(snap: Path):
    write(snap, "snapshot.yaml", "format: meshbot.snapshot/v9\n")
    with pytest.raises(SnapshotError, match="unsupported format"):
        Snapshot.open(snap)
    write(snap, "snapshot.yaml", "format: meshbot.snapshot/v1\nclusters: [east, north]\n")
    with pytest.raises(SnapshotError, match="no folder: north"):
        Snapshot.open(snap)


def test_tar_gz_snapshot(snap: Path, tmp_path_factory):
    archive = tmp_path_factory.mktemp("arch") / "snap.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(snap, arcname="my-snapshot")
    assert Snapshot.open(archive).cluster_names == ["east", "west"]
    not_tar = tmp_path_factory.mktemp("arch2") / "x.tar.gz"
    not_tar.write_text("hello")
    with pytest.raises(SnapshotError, match="not a directory or a .tar.gz"):
        Snapshot.open(not_tar)


async def test_listed_kinds_mean_others_were_not_captured(snap: Path):
    write(snap, "snapshot.yaml", "format: meshbot.snapshot/v1\nkinds: {east: [pods, svc]}\n")
    source = SnapshotSource.open(snap)
    assert len(await source.list("east", "pods", None)) == 3
    assert await source.list("east", "services", "other") == []  # captured, none there
    with pytest.raises(NotCaptured):
        await source.list("east", "deployments.apps", None)
    assert await source.list("west", "deployments.apps", None) == []  # no list: absent = none


async def test_debug_files_missing_are_not_captured(snap: Path):
    write(snap, "clusters/east/istiod/istiod-1/syncz.json", '[{"proxy": "a.sample"}]')
    source = SnapshotSource.open(snap)
    assert await source.istiod_get("east", "istiod-1", "/debug/syncz") == [{"proxy": "a.sample"}]
    with pytest.raises(NotCaptured):
        await source.istiod_get("east", "istiod-1", "/debug/clusterz")
    with pytest.raises(NotCaptured):
        await source.istiod_get("east", "istiod-1", "/debug/config_dump?proxyID=a.sample&include_eds")
    with pytest.raises(NotCaptured):
        await source.pod_log("east", "istio-system", "istiod-1", "discovery", 10)


# -- a snapshot from anywhere: bounded reading -------------------------------------------------


def _archive(snap: Path, out: Path, extra: list[tuple[str, int]] = ()) -> Path:
    """`snap` as a .tar.gz, plus members of the given sizes (zeros: tiny once compressed)."""
    import io

    with tarfile.open(out, "w:gz") as tar:
        tar.add(snap, arcname="snap")
        for name, size in extra:
            info = tarfile.TarInfo(f"snap/clusters/east/{name}")
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    return out


@pytest.mark.parametrize("limits, extra, message", [
    (dict(member_bytes=1024 * 1024), [("logs/big.log", 2 * 1024 * 1024)],
     "'snap/clusters/east/logs/big.log' is 2 MiB; a member may have at most 1 MiB"),
    (dict(members=20), [(f"logs/f{i}.log", 1) for i in range(30)], "more than 20 files"),
    (dict(total_bytes=3 * 1024 * 1024), [(f"logs/f{i}.log", 1024 * 1024) for i in range(4)],
     "unpacks to more than 3 MiB"),
])
def test_an_archive_over_a_limit_is_refused_before_anything_is_extracted(
        snap, tmp_path_factory, limits, extra, message):
    from diagnostics.snapshot import ArchiveLimits

    archive = _archive(snap, tmp_path_factory.mktemp("a") / "s.tar.gz", extra)
    with pytest.raises(SnapshotError, match=message):
        Snapshot.open(archive, ArchiveLimits(**limits))
    assert Snapshot.open(archive).cluster_names == ["east", "west"]  # the defaults allow it


def test_a_member_declaring_a_gibibyte_is_refused_from_its_header(tmp_path):
    """A header is all it takes: the member's data is never read, let alone extracted."""
    import gzip

    info = tarfile.TarInfo("snap/clusters/east/logs/huge.log")
    info.size = 1024 ** 3
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(gzip.compress(info.tobuf() + bytes(512 * 4)))
    with pytest.raises(SnapshotError, match="is 1,024 MiB; a member may have at most 512 MiB"):
        Snapshot.open(archive)


def test_a_file_over_the_size_limit_is_refused_naming_it(snap):
    from diagnostics.snapshot import MAX_FILE_BYTES

    huge = snap / "clusters/east/resources/huge.yaml"
    with huge.open("wb") as f:  # sparse: no disk is used
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(SnapshotError, match=r"huge.yaml: file is 256 MiB; meshbot reads files of "
                                            r"at most 256 MiB"):
        Snapshot.open(snap)


async def test_a_gibibyte_log_is_read_from_its_tail_only(snap):
    """`check` asks for the last lines of a log; a 1 GiB log (sparse here) must not be read
    whole into memory, through the snapshot source and through meshbot replay alike."""
    import tracemalloc

    from diagnostics.replay.logs import read_log

    log = snap / "clusters/east/logs/sample/a/app.log"
    log.parent.mkdir(parents=True)
    with log.open("wb") as f:
        f.truncate(1024 ** 3 - 64)
        f.seek(0, 2)
        f.write(b"first line of the tail\nlast line of the log\n")
    source = SnapshotSource.open(snap)
    pod = {"metadata": {"name": "a", "namespace": "sample"}, "spec": {"containers": [
        {"name": "app"}]}}
    tracemalloc.start()
    try:
        tail = await source.pod_log("east", "sample", "a", "app", 2)
        served = read_log(source.snapshot.clusters["east"], pod, {"tailLines": "1"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tail.endswith("first line of the tail\nlast line of the log\n")
    assert served == b"last line of the log\n"
    assert peak < 256 * 1024 * 1024, f"{peak / 2**20:.0f} MiB for the tail of a 1 GiB log"


async def test_names_from_the_snapshot_never_lead_outside_its_cluster_folder(snap, tmp_path):
    outside = snap.parent / "outside.json"
    outside.write_text('{"secret": "outside the snapshot"}')
    source = SnapshotSource.open(snap)
    cluster = source.snapshot.clusters["east"]
    escape = "../../../../outside"
    assert not cluster.config_dump_file("istiod-1", escape).is_file()
    assert not cluster.log_file("..", "..", "../../../outside").exists()
    assert not cluster.config_dump_file("istiod-1", "a\0b.c").is_file()
    with pytest.raises(NotCaptured):
        await source.istiod_get("east", "istiod-1", f"/debug/config_dump?proxyID={escape}")
