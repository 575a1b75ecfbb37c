"""Reading the `meshbot.snapshot/v1` format (contract C4).

A snapshot is a directory (or a `.tar.gz` of one) holding, per cluster, the Kubernetes objects and
istiod/Envoy debug bodies that the live source would fetch. This module only loads and indexes
files; the snapshot *source* (diagnostics/sources/snapshot.py) and the replay simulator build on
it. Every malformed file is reported with its path and line instead of a traceback.

A snapshot may come from anywhere, so reading it is bounded: an archive is checked member by
member before anything is extracted (count, each member's size, the total), a file larger than
MAX_FILE_BYTES is refused with its name, a log is read from its end and only as far back as the
lines asked for (at most LOG_TAIL_BYTES), and a file name built from a name inside the snapshot
(a proxy id from syncz, a pod name) never leads outside the cluster's folder.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import msgspec
import yaml

from diagnostics import yaml_text
from diagnostics.gcpause import collector_paused
from diagnostics.kinds import Kind, kind_by_key, kind_for_object, resolve_user_kind
from diagnostics.model import SNAPSHOT_FOLDER
from diagnostics.selectors import field_predicate, label_predicate

FORMAT = "meshbot.snapshot/v1"
#: `istiod/<pod>/refused.json`: `{"<endpoint>": <HTTP status>}` for the debug endpoints istiod
#: refused to the capturing caller (C4 extension; see README "Snapshots").
REFUSALS_FILE = "refused.json"
DEFAULT_ISTIO_NAMESPACE = "istio-system"
MIB = 1024 * 1024
MAX_FILE_BYTES = 256 * MIB  # one resources or debug file (YAML takes ~10x that in memory)
LOG_TAIL_BYTES = 32 * MIB  # of a log, read from its end
_BLOCK = 64 * 1024
_OUTSIDE = ".meshbot-name-outside-the-snapshot"  # what a name leaving the folder reads as


@dataclass(frozen=True)
class ArchiveLimits:
    """What a `.tar.gz` snapshot may hold; checked before extraction."""

    members: int = 100_000
    member_bytes: int = 512 * MIB
    total_bytes: int = 4096 * MIB
_RESOURCE_SUFFIXES = (".yaml", ".yml", ".json")


class SnapshotError(Exception):
    """A snapshot that cannot be read; the message names the file (and line when known)."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path:
            where = f"{self.path}:{line}: " if line else f"{self.path}: "
        super().__init__(f"{where}{message}")


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SnapshotError(f"file is {size / MIB:.0f} MiB; meshbot reads files of at most "
                                f"{MAX_FILE_BYTES // MIB} MiB", path)
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"not UTF-8 ({exc.reason} at byte {exc.start})", path) from None
    except OSError as exc:
        raise SnapshotError(f"cannot read: {exc.strerror}", path) from None


def read_text_file(path: Path) -> str:
    """A text file (istiod's captured /metrics) within the same bounds as every other file."""
    return _read_text(path)


def load_json_file(path: Path) -> Any:
    """Parse a JSON file, naming file and line on error."""
    return parse_json_text(_read_text(path), path)


def parse_json_text(text: str, path: Path) -> Any:
    """Parse the JSON text read from `path`, naming file and line on error (msgspec, twice as
    fast as json on a big capture; json says on which line a malformed file breaks)."""
    try:
        with collector_paused():
            try:
                return msgspec.json.decode(text)
            except msgspec.DecodeError:
                return json.loads(text)  # the line of the error (or what only json accepts)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"malformed JSON: {exc.msg}", path, exc.lineno) from None


def _yaml_documents(path: Path) -> list[Any]:
    text = _read_text(path)
    if path.suffix == ".json":
        return [load_json_file(path)]
    return yaml_documents(text, path)


def yaml_documents(text: str, where: Path | str) -> list[Any]:
    """The documents of a YAML text; SnapshotError naming `where` and the line when malformed."""
    try:
        with collector_paused():
            return [d for d in yaml.load_all(text, Loader=yaml_text.SafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SnapshotError(f"malformed YAML: {problem}", where, line) from None


def iter_objects(path: Path) -> Iterator[dict]:
    """Kubernetes objects of one file: single objects, multi-document YAML, `kind: List`/`*List`."""
    for doc in _yaml_documents(path):
        yield from _expand(doc, path)


def objects_of(docs: list[Any], where: Path | str) -> Iterator[dict]:
    """The Kubernetes objects of parsed documents (`kind: List` expanded)."""
    for doc in docs:
        yield from _expand(doc, where)


def _expand(doc: Any, path: Path | str) -> Iterator[dict]:
    if not isinstance(doc, dict):
        raise SnapshotError("expected a Kubernetes object (a mapping)", path)
    kind = doc.get("kind")
    if not kind:
        raise SnapshotError("object has no 'kind'", path)
    if kind == "List" or (str(kind).endswith("List") and isinstance(doc.get("items"), list)):
        item_kind = None if kind == "List" else str(kind)[: -len("List")]
        for item in doc.get("items") or []:
            if isinstance(item, dict):
                if item_kind and "kind" not in item:
                    item = {"kind": item_kind, "apiVersion": doc.get("apiVersion", "v1"), **item}
            yield from _expand(item, path)
        return
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise SnapshotError(f"{kind} object has no metadata.name", path)
    yield doc


def read_tail(path: Path, lines: int | None, limit: int = LOG_TAIL_BYTES) -> bytes:
    """The last `lines` lines of a file (all of it for None, none for 0), read backwards from
    its end block by block and never more than `limit` bytes of it: a 1 GiB log costs what its
    tail costs."""
    if lines == 0:
        return b""
    blocks: list[bytes] = []
    size = newlines = 0
    with path.open("rb") as f:
        start = f.seek(0, 2)
        while start > 0 and size < limit and (lines is None or newlines <= lines):
            step = min(_BLOCK, start, limit - size)
            start -= step
            f.seek(start)
            block = f.read(step)
            blocks.append(block)
            size += len(block)
            newlines += block.count(b"\n")
    data = b"".join(reversed(blocks))
    return data if lines is None else b"".join(data.splitlines(keepends=True)[-lines:])


def log_path(namespace: str, pod: str, container: str, previous: bool = False) -> str:
    """A container log inside a cluster's folder: `<container>.log`, or
    `<container>.previous.log` for its run before the last restart (`kubectl logs --previous`)."""
    return f"logs/{namespace}/{pod}/{container}{'.previous' if previous else ''}.log"


@dataclass
class ClusterSnapshot:
    """One cluster's folder: indexed objects plus paths of debug, proxy and log files."""

    name: str
    root: Path
    istio_namespace: str = DEFAULT_ISTIO_NAMESPACE
    kinds_captured: frozenset[str] | None = None
    context: str | None = None  # the kubeconfig context it was captured through
    # Kinds captured in some namespaces only (an istioctl bug-report's `cluster/pods` holds the
    # Istio namespace's pods, 1.30's `--include` scopes every namespaced kind), and why a kind,
    # or `logs`, was not captured (snapshot.yaml `kind_namespaces`, `not_captured`).
    kind_namespaces: dict[str, frozenset[str]] = field(default_factory=dict)
    not_captured: dict[str, str] = field(default_factory=dict)
    # Kinds the capturing install was refused by design (snapshot.yaml `withheld`: kind -> the
    # API server's refusal), as an install without Secret reads is: not captured, and a
    # diagnosis of the snapshot (or replay) meets the same refusal the capture met.
    withheld: dict[str, str] = field(default_factory=dict)
    # What made the folder name the cluster's id, when not the capture's own discovery
    # (snapshot.yaml `id_origins`): an operator's override, or None when nothing stated it.
    id_origin: str | None = SNAPSHOT_FOLDER
    objects: dict[str, list[dict]] = field(default_factory=dict)
    kinds: dict[str, Kind] = field(default_factory=dict)

    def load(self) -> None:
        res = self.root / "resources"
        if not res.is_dir():
            raise SnapshotError("missing resources/ folder", self.root)
        for path in sorted(p for p in res.rglob("*") if p.is_file()):
            if path.suffix not in _RESOURCE_SUFFIXES:
                continue
            for obj in iter_objects(path):
                kind = kind_for_object(obj)
                self.kinds.setdefault(kind.key, kind)
                self.objects.setdefault(kind.key, []).append(obj)

    def captured(self, key: str) -> bool:
        """False when snapshot.yaml lists the captured kinds and this one is not among them, or
        says the capture was refused it."""
        if key in self.withheld:
            return False
        return self.kinds_captured is None or key in self.kinds_captured

    def captured_in(self, key: str, namespace: str | None) -> bool:
        """Whether a list of `key` in `namespace` (None: all namespaces) holds every object
        there is: the kind is captured, and in that namespace when only some were."""
        if not self.captured(key):
            return False
        scope = self.kind_namespaces.get(key)
        return scope is None or (namespace is not None and namespace in scope)

    def why_not_captured(self, key: str, namespace: str | None) -> str:
        """Why a list of `key` in `namespace` (None: all) is not captured, as a step says it."""
        scope = self.kind_namespaces.get(key)
        if not self.captured(key) or scope is None:
            what = f"{key} not captured"
        else:
            where = f"namespace {namespace}" if namespace else "every namespace"
            what = f"{key} in {where} not captured (only in {', '.join(sorted(scope))})"
        reason = self.not_captured.get(key) or \
            (self.not_captured.get("*") if not self.captured(key) else None)
        return f"{what}: {reason}" if reason else what

    def list(self, key: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict]:
        """Objects of a resource, filtered as the API server filters a list request."""
        by_label = label_predicate(label_selector)
        by_field = field_predicate(field_selector)
        out = []
        for obj in self.objects.get(key, []):
            if namespace and (obj.get("metadata") or {}).get("namespace") != namespace:
                continue
            if by_label(obj) and by_field(obj):
                out.append(obj)
        return out

    def get(self, key: str, namespace: str | None, name: str) -> dict | None:
        for obj in self.objects.get(key, []):
            meta = obj.get("metadata") or {}
            if meta.get("name") == name and (namespace is None or meta.get("namespace") == namespace):
                return obj
        return None

    def _inside(self, path: Path) -> Path:
        """`path` when it stays inside this cluster's folder; else a name no file has, so a
        name such as `../../x` reads as "not captured" instead of reading outside."""
        try:
            if path.resolve().is_relative_to(self.root.resolve()):
                return path
        except ValueError:  # a NUL in the name
            pass
        return self.root / _OUTSIDE

    def istiod_file(self, pod: str, endpoint: str) -> Path:
        return self._inside(self.root / "istiod" / pod / f"{endpoint}.json")

    def config_dump_file(self, pod: str, proxy_id: str) -> Path:
        return self._inside(self.root / "istiod" / pod / "config_dump" / f"{proxy_id}.json")

    def metrics_file(self, pod: str) -> Path:
        """istiod's Prometheus text (`GET :15014/metrics`), as captured."""
        return self.root / "istiod" / pod / "metrics.txt"

    def refusals_file(self, pod: str) -> Path:
        return self.root / "istiod" / pod / REFUSALS_FILE

    def refusals(self, pod: str) -> dict[str, int]:
        """Debug endpoints istiod refused at capture (401/403), by endpoint name: those are
        known to be refused, not merely absent."""
        path = self.refusals_file(pod)
        if not path.is_file():
            return {}
        body = load_json_file(path)
        if not isinstance(body, dict):
            raise SnapshotError("expected an object of endpoint: HTTP status", path)
        return {str(k): int(v) for k, v in body.items() if isinstance(v, int)}

    def ztunnel_file(self, pod: str, name: str) -> Path:
        """`ztunnel/<ztunnel-pod>/<name>.json`: a ztunnel's admin endpoint, as captured."""
        return self._inside(self.root / "ztunnel" / pod / f"{name}.json")

    def proxy_file(self, namespace: str, pod: str, name: str) -> Path:
        return self._inside(self.root / "proxies" / namespace / pod / name)

    def log_file(self, namespace: str, pod: str, container: str, previous: bool = False) -> Path:
        return self._inside(self.root / log_path(namespace, pod, container, previous))


@dataclass
class Snapshot:
    """A loaded snapshot: metadata from snapshot.yaml and one ClusterSnapshot per cluster.

    `sources` are the paths it was opened from (several when snapshots or bug-report archives
    of different clusters are read as one mesh); `bug_reports` describes, per cluster read from
    an istioctl bug-report, the archive and what it lacks (diagnostics/bugreport)."""

    path: Path
    captured_at: str | None
    clusters: dict[str, ClusterSnapshot]
    sources: tuple[Path, ...] = ()
    bug_reports: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def cluster_names(self) -> list[str]:
        return list(self.clusters)

    @classmethod
    def open(cls, path: str | Path, limits: ArchiveLimits = ArchiveLimits(),
             workdir: Path | None = None) -> "Snapshot":
        """Open a snapshot directory or `.tar.gz`, or an istioctl bug-report (archive or
        unpacked folder), which is translated into this format first; raise SnapshotError
        with a clear reason. Archives are unpacked, and bug-reports translated, below
        `workdir` (default: a private temporary folder removed at exit)."""
        p = Path(path)
        if not p.exists():
            raise SnapshotError("no such snapshot (directory or .tar.gz)", p)
        if p.is_file():
            root = _unpack(p, limits, workdir)
        else:
            root = _bug_report_folder(p, limits, workdir) or p
        return cls._load(root, p)

    @classmethod
    def open_many(cls, paths: list[str | Path], limits: ArchiveLimits = ArchiveLimits(),
                  workdir: Path | None = None) -> "Snapshot":
        """Several snapshots or bug-reports (one per cluster, typically) as one mesh."""
        if len(paths) == 1:
            return cls.open(paths[0], limits, workdir)
        return merge([cls.open(p, limits, workdir) for p in paths])

    @classmethod
    def _load(cls, root: Path, path: Path) -> "Snapshot":
        meta = _read_meta(root)
        clusters_dir = root / "clusters"
        if not clusters_dir.is_dir():
            raise SnapshotError("not a meshbot snapshot (no clusters/ folder) nor an istioctl "
                                "bug-report (no cluster/cluster-context)", root)
        names = _cluster_order(meta, clusters_dir)
        kinds = meta.get("kinds") or {}
        istio_ns = meta.get("istio_namespaces") or {}
        contexts = meta.get("contexts") or {}
        origins = meta.get("id_origins") or {}
        scopes = meta.get("kind_namespaces") or {}
        reasons = meta.get("not_captured") or {}
        refused = meta.get("withheld") or {}
        clusters = {}
        for name in names:
            cs = ClusterSnapshot(
                name=name,
                root=clusters_dir / name,
                istio_namespace=str(istio_ns.get(name) or DEFAULT_ISTIO_NAMESPACE),
                kinds_captured=_captured_keys(kinds.get(name), root),
                context=_str_or_none(contexts.get(name)),
                id_origin=_str_or_none(origins[name]) if name in origins else SNAPSHOT_FOLDER,
                kind_namespaces={str(k): frozenset(str(n) for n in v or ())
                                 for k, v in (scopes.get(name) or {}).items()},
                not_captured={str(k): str(v) for k, v in (reasons.get(name) or {}).items()},
                withheld={str(k): str(v) for k, v in (refused.get(name) or {}).items()},
            )
            cs.load()
            clusters[name] = cs
        reports = meta.get("bug_reports") if isinstance(meta.get("bug_reports"), dict) else {}
        return cls(path=path, captured_at=_str_or_none(meta.get("captured_at")),
                   clusters=clusters, sources=(path,), bug_reports=dict(reports or {}))


def merge(snapshots: list[Snapshot]) -> Snapshot:
    """One mesh out of snapshots of different clusters. A cluster read from a bug-report is
    named after its kubeconfig context until its id is discovered, so two such names may clash
    (`kubernetes-admin@kubernetes` everywhere): the later one gets a suffix. Two snapshots
    naming the same cluster id are a contradiction, refused."""
    clusters: dict[str, ClusterSnapshot] = {}
    reports: dict[str, dict[str, Any]] = {}
    for snap in snapshots:
        for key, cs in snap.clusters.items():
            name = key
            if name in clusters:
                if cs.id_origin is not None:
                    raise SnapshotError(f"cluster {name} is in more than one of the snapshots "
                                        "given: give each cluster once", snap.path)
                name = cs.name = _free_name(name, clusters)
            clusters[name] = cs
            if key in snap.bug_reports:
                reports[name] = snap.bug_reports[key]
    times = [s.captured_at for s in snapshots if s.captured_at]
    return Snapshot(path=snapshots[0].path, captured_at=max(times) if times else None,
                    clusters=clusters, sources=tuple(p for s in snapshots for p in s.sources),
                    bug_reports=reports)


def _free_name(name: str, taken: dict[str, Any]) -> str:
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _read_meta(root: Path) -> dict:
    meta_path = root / "snapshot.yaml"
    if not meta_path.exists():
        return {}
    docs = _yaml_documents(meta_path)
    meta = docs[0] if docs else {}
    if not isinstance(meta, dict):
        raise SnapshotError("snapshot.yaml must be a mapping", meta_path)
    fmt = meta.get("format")
    if fmt is not None and fmt != FORMAT:
        raise SnapshotError(f"unsupported format {fmt!r} (expected {FORMAT})", meta_path)
    return meta


def _cluster_order(meta: dict, clusters_dir: Path) -> list[str]:
    on_disk = sorted(d.name for d in clusters_dir.iterdir() if d.is_dir())
    listed = [str(c) for c in (meta.get("clusters") or [])]
    missing = [c for c in listed if c not in on_disk]
    if missing:
        raise SnapshotError(f"snapshot.yaml lists clusters with no folder: {', '.join(missing)}",
                            clusters_dir)
    names = listed + [c for c in on_disk if c not in listed]
    if not names:
        raise SnapshotError("snapshot has no clusters", clusters_dir)
    return names


def _captured_keys(kinds: Any, root: Path) -> frozenset[str] | None:
    if kinds is None:
        return None
    keys = set()
    for word in kinds:
        known = kind_by_key(str(word)) or resolve_user_kind(str(word))
        keys.add(known.key if known else str(word))
    return frozenset(keys)


_LINK_OR_DEVICE = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link",
                   tarfile.CHRTYPE: "a device", tarfile.BLKTYPE: "a device",
                   tarfile.FIFOTYPE: "a FIFO"}


def member_problem(name: str, kind: str | None = None) -> str | None:
    """Why an archive member (or a file of a folder) may not be read: a name that points
    outside the archive, or a link or device instead of a regular file or folder."""
    if kind:
        return f"member {name[:200]!r} is {kind}; meshbot reads regular files only"
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (parts and parts[0].endswith(":")):
        return f"member {name[:200]!r} points outside the archive"
    return None


def _checked_members(tar: tarfile.TarFile, archive: Path, limits: ArchiveLimits
                     ) -> list[tarfile.TarInfo]:
    """The archive's members, read one header at a time (each member's data is skipped, not
    kept) and refused as soon as one limit is passed or one member is not a plain file or
    folder inside the archive, before anything is extracted."""
    members: list[tarfile.TarInfo] = []
    total = 0
    for member in tar:
        members.append(member)
        total += member.size
        problem = member_problem(member.name, _LINK_OR_DEVICE.get(member.type))
        if problem:
            raise SnapshotError(f"archive {problem}", archive)
        if len(members) > limits.members:
            raise SnapshotError(f"archive holds more than {limits.members:,} files", archive)
        if member.size > limits.member_bytes:
            raise SnapshotError(f"archive member {member.name[:200]!r} is "
                                f"{member.size / MIB:,.0f} MiB; a member may have at most "
                                f"{limits.member_bytes // MIB:,} MiB", archive)
        if total > limits.total_bytes:
            raise SnapshotError(f"archive unpacks to more than {limits.total_bytes // MIB:,} MiB",
                                archive)
    return members


def private_folder(workdir: Path | None, prefix: str) -> Path:
    """A new folder only this user may read: below `workdir` (whose owner removes it), or a
    temporary one removed at exit."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=workdir))
    if workdir is None:
        atexit.register(shutil.rmtree, tmp, True)
    return tmp


def _unpack(archive: Path, limits: ArchiveLimits, workdir: Path | None = None) -> Path:
    """Extract a `.tar.gz` snapshot, within `limits`, into a private folder; an istioctl
    bug-report archive is translated instead (nothing of it is extracted as it is)."""
    from diagnostics.bugreport import translate

    if not tarfile.is_tarfile(archive):
        raise SnapshotError("not a directory or a .tar.gz archive", archive)
    tmp = private_folder(workdir, "meshbot-snapshot-")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _checked_members(tar, archive, limits)
            names = [m.name for m in members if m.isfile()]
            if not _meshbot_layout(names) and translate.roots(names):
                return translate.from_tar(tar, members, archive, tmp)
            tar.extractall(tmp, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise SnapshotError(f"cannot extract archive: {exc}", archive) from None
    for candidate in [tmp, *sorted(p for p in tmp.iterdir() if p.is_dir())]:
        if (candidate / "clusters").is_dir():
            return candidate
    raise SnapshotError("archive holds no clusters/ folder (a meshbot snapshot) nor "
                        "cluster/cluster-context (an istioctl bug-report)", archive)


def _meshbot_layout(names: list[str]) -> bool:
    """Whether archive members hold `clusters/<id>/resources/` (this format)."""
    for name in names:
        parts = name.split("/")
        if any(parts[i] == "clusters" and parts[i + 2] == "resources"
               for i in range(len(parts) - 3)):
            return True
    return False


def _bug_report_folder(folder: Path, limits: ArchiveLimits, workdir: Path | None) -> Path | None:
    """An unpacked istioctl bug-report, translated; None for anything else."""
    from diagnostics.bugreport import translate

    if (folder / "clusters").is_dir() or not translate.looks_like(folder):
        return None
    return translate.from_folder(folder, lambda: private_folder(workdir, "meshbot-bugreport-"),
                                 limits)
