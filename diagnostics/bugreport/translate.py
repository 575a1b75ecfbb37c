"""An istioctl bug-report, translated into a `meshbot.snapshot/v1` folder (contract C4).

Every bug-report root (one per archive, normally) becomes one cluster. Its folder is named
after the kubeconfig context the report was taken through, and its id is left unknown
(`id_origins: null`): the engine learns the Istio cluster id from what the cluster holds
(diagnostics/identity.py), exactly as for a live context.

What meshbot reads is copied, redacted on the way (diagnostics/redact.py: Secrets, kubeconfigs,
Envoy secrets, credential-looking text), so nothing a `--full-secrets` archive holds in clear
reaches a diagnosis, a log or a cache; what it lacks is written down as not captured, with the
reason (`kinds`, `kind_namespaces`, `not_captured` in snapshot.yaml), never filled in:

- the kinds `kubectl get` listed (diagnostics/bugreport/layout.py), Secrets only when they are
  YAML (`--full-secrets`), Event and Endpoints objects only up to 1.29;
- istiod's debug endpoints meshbot reads, per replica; no per-proxy config dump from istiod
  (a bug-report has each proxy's own Envoy config dump instead, which the engine reads when
  istiod's is not there);
- the istio-proxy, discovery and CNI logs; no other container's.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import yaml

from diagnostics.bugreport import files as bfiles
from diagnostics.bugreport.files import File
from diagnostics.bugreport.layout import (Entry, Part, captured_kinds, classify, cli_version,
                                          is_crd_kind, root_of, scoped_namespaces)
from diagnostics.kinds import KNOWN_KINDS, kind_for_object
from diagnostics.names import is_label, is_object_name
from diagnostics.redact import redact_debug, redact_for_capture, redact_text
from diagnostics.snapshot import (DEFAULT_ISTIO_NAMESPACE, FORMAT, LOG_TAIL_BYTES, MAX_FILE_BYTES,
                                  ArchiveLimits, SnapshotError, log_path, objects_of,
                                  yaml_documents)

# istiod's debug endpoints meshbot reads or a snapshot keeps (diagnostics/capture.py, C4).
ISTIOD_ENDPOINTS = frozenset({"syncz", "clusterz", "networkz", "registryz", "endpointShardz",
                              "mesh", "push_status", "ambientz", "krtz"})
SMALL = 1024 * 1024  # cluster-context, versions, the head of bug-report.log
LOGS_NOT_CAPTURED = ("istioctl bug-report keeps only the istio-proxy, discovery, istio-operator "
                     "and CNI containers' logs, of the pods its --include/--exclude selected")
SECRETS_AS_TABLE = ("istioctl bug-report lists Secret names only; run it with --full-secrets "
                    "for meshbot to read remote secrets (meshbot redacts their credentials)")
NOT_IN_REPORT = "not in this istioctl bug-report"


def roots(paths: list[str]) -> list[str]:
    """The bug-report roots among file paths (`bug-report/`, `''`, `east/bug-report/`)."""
    return sorted({r for r in (root_of(bfiles.normalized(p)) for p in paths) if r is not None})


def from_tar(tar: tarfile.TarFile, members: list[tarfile.TarInfo], archive: Path,
             out: Path) -> Path:
    """Translate the bug-report(s) in an already checked archive into `out`."""
    return translate(bfiles.tar_files(tar, members), out, archive.name)


def looks_like(folder: Path) -> bool:
    """Whether `folder` holds a bug-report root near its top (`cluster/cluster-context` in it,
    in `bug-report/`, or one level further down): checked before walking a whole folder, so a
    wrong path is told so instead of being walked."""
    for depth in ("", "*/", "*/*/"):
        for cluster in folder.glob(f"{depth}cluster"):
            if cluster.is_dir() and not cluster.is_symlink() and \
                    any((cluster / n).is_file() for n in ("cluster-context", "pods")):
                return True
    return False


def from_folder(folder: Path, make_out: Callable[[], Path], limits: ArchiveLimits) -> Path | None:
    """Translate an unpacked bug-report; None when `folder` holds none (nothing is written)."""
    found = bfiles.folder_files(folder, limits)
    if not roots([f.path for f in found]):
        return None
    return translate(found, make_out(), folder.name)


def translate(found: list[File], out: Path, source: str) -> Path:
    """Write one cluster per bug-report root of `found` into `out`, then snapshot.yaml."""
    by_root = _group(found)
    if not by_root:
        raise SnapshotError("not an istioctl bug-report: no cluster/cluster-context", source)
    meta: dict[str, Any] = {"format": FORMAT, "clusters": [], "kinds": {}, "kind_namespaces": {},
                            "not_captured": {}, "contexts": {}, "id_origins": {},
                            "istio_namespaces": {}, "bug_reports": {}}
    times = []
    for root, entries in by_root.items():
        cluster = _Cluster(out, entries, f"{source}:{root}" if root else source)
        key = cluster.run(taken=set(meta["clusters"]))
        meta["clusters"].append(key)
        meta["kinds"][key] = sorted(cluster.kinds)
        meta["kind_namespaces"][key] = {k: sorted(v) for k, v in cluster.scopes.items()}
        meta["not_captured"][key] = dict(sorted(cluster.reasons.items()))
        meta["contexts"][key] = cluster.context
        meta["id_origins"][key] = None
        meta["istio_namespaces"][key] = cluster.istio_namespace
        meta["bug_reports"][key] = cluster.description()
        times.append(max((f.mtime for f, _ in entries), default=0.0))
    if times and max(times) > 0:
        meta["captured_at"] = datetime.fromtimestamp(max(times), timezone.utc) \
            .strftime("%Y-%m-%dT%H:%M:%SZ")
    (out / "snapshot.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    return out


def _group(found: list[File]) -> dict[str, list[tuple[File, Entry]]]:
    """Each file with its classification, under the deepest bug-report root it lies in."""
    tops = sorted({r for r in (root_of(f.path) for f in found) if r is not None},
                  key=len, reverse=True)
    grouped: dict[str, list[tuple[File, Entry]]] = {r: [] for r in sorted(tops)}
    for f in found:
        root = next((r for r in tops if f.path.startswith(r)), None)
        if root is not None:
            grouped[root].append((f, classify(tuple(f.path[len(root):].split("/")))))
    return grouped


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _identity(obj: dict) -> tuple[str, str, str, str]:
    kind = kind_for_object(obj)
    meta = obj.get("metadata") or {}
    return kind.group, kind.kind, str(meta.get("namespace") or ""), str(meta.get("name"))


@dataclass
class _Cluster:
    """One bug-report root becoming one cluster folder."""

    out: Path
    entries: list[tuple[File, Entry]]
    source: str
    context: str | None = None
    server: str | None = None
    istio_namespace: str = DEFAULT_ISTIO_NAMESPACE
    kinds: set[str] = field(default_factory=set)
    scopes: dict[str, set[str]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    version: str | None = None
    layout: str = ""
    pods: dict[str, dict] = field(default_factory=dict)  # name -> pod, for CNI logs
    written: int = 0
    root: Path = Path()

    def of(self, part: Part) -> list[tuple[File, Entry]]:
        return [(f, e) for f, e in self.entries if e.part is part]

    def run(self, taken: set[str]) -> str:
        self._metadata()
        key = _folder_name(self.context, taken)
        self.root = self.out / "clusters" / key
        (self.root / "resources").mkdir(parents=True)
        self._resources()
        self._secrets()
        self._istiod()
        self._proxies()
        self._logs()
        return key

    def description(self) -> dict[str, Any]:
        return {"source": self.source, "layout": self.layout, "istioctl": self.version,
                "server": self.server, "notes": self.notes}

    # -- metadata ---------------------------------------------------------------------------

    def _small(self, part: Part) -> str:
        found = self.of(part)
        data = bfiles.read_head(found[0][0], SMALL) if found else None
        return _text(data) if data else ""

    def _metadata(self) -> None:
        lines = self._small(Part.CONTEXT).splitlines()
        self.context = lines[0].strip() if lines and lines[0].strip() else None
        self.server = lines[1].strip() if len(lines) > 1 else None
        self.version = cli_version(self._small(Part.VERSIONS))
        files = {e.name for _, e in self.of(Part.RESOURCES)}
        self.kinds, split = captured_kinds(files)
        self.layout = "1.30+" if split else "1.22-1.29"
        self.reasons["*"] = NOT_IN_REPORT
        self.reasons["logs"] = LOGS_NOT_CAPTURED
        if split:
            self.reasons["events"] = ("istioctl bug-report 1.30 and later keeps events only as "
                                      "a table (cluster/events), not as objects")
            self.reasons["endpoints"] = "istioctl bug-report 1.30 and later does not list them"
        if not files - {"pods"}:
            self.notes.append("no cluster-wide resources (bug-report --skip-cluster-dump)")

    # -- Kubernetes objects -----------------------------------------------------------------

    def _objects(self, file: File) -> list[dict] | None:
        data = bfiles.read_head(file, MAX_FILE_BYTES)
        if data is None:
            self.notes.append(f"{file.path}: larger than {MAX_FILE_BYTES // 2**20} MiB, not read")
            return None
        try:
            return list(objects_of(yaml_documents(_text(data), file.path), file.path))
        except SnapshotError as exc:
            self.notes.append(f"not read: {exc}")
            return None

    def _resources(self) -> None:
        order = ("k8s-resources", "k8s-cluster-resources", "crs", "nodes", "pods")
        found = sorted(self.of(Part.RESOURCES), key=lambda fe: order.index(fe[1].name))
        seen: set[tuple[str, str, str, str]] = set()
        crs_read, crds = False, []
        for file, entry in found:
            objects = self._objects(file)
            if objects is None:
                self._lost(entry.name)
                continue
            if entry.name == "pods":
                self._istio_namespace(objects)
            crs_read = crs_read or entry.name == "crs"
            kept = [o for o in objects if _identity(o) not in seen]
            seen.update(_identity(o) for o in kept)
            self._write_objects(entry.name, kept)
            self.pods.update({str(o["metadata"]["name"]): o for o in kept if o.get("kind") == "Pod"})
            crds += [o for o in kept if o.get("kind") == "CustomResourceDefinition"]
        if crs_read:
            self._crd_kinds(crds)
        self._scope(files={e.name for _, e in found})

    def _istio_namespace(self, pods: list[dict]) -> None:
        """`cluster/pods` lists the Istio namespace: it names it (`--istio-namespace`)."""
        namespaces = {(p.get("metadata") or {}).get("namespace") for p in pods}
        if len(namespaces) == 1 and namespaces != {None}:
            self.istio_namespace = str(namespaces.pop())

    def _lost(self, name: str) -> None:
        """A resources file that could not be read captures nothing."""
        if name in ("k8s-resources", "k8s-cluster-resources"):
            self.kinds.clear()
        elif name == "nodes":
            self.kinds.discard("nodes")

    def _crd_kinds(self, crds: list[dict]) -> None:
        """`cluster/crs` lists every custom resource of every CRD (a CRD's name is
        `<plural>.<group>`): a CRD kind absent from it has no objects, installed or not."""
        self.kinds.update(k.key for k in KNOWN_KINDS if is_crd_kind(k.key))
        self.kinds.update(str(c["metadata"]["name"]) for c in crds)

    def _scope(self, files: set[str]) -> None:
        """Kinds read in some namespaces only: pods from `cluster/pods` alone (the Istio
        namespace), and from 1.30 every namespaced kind when --include named namespaces."""
        if "pods" not in self.kinds and "pods" in files:
            self.kinds.add("pods")
            self.scopes["pods"] = {self.istio_namespace}
        if self.layout != "1.30+":
            return
        scope = scoped_namespaces(self._small(Part.LOG), self.istio_namespace)
        if scope is None:
            return
        self.notes.append(f"--include limited the resources to namespaces {', '.join(scope)}")
        for key in self.kinds | {"secrets"}:
            kind = next((k for k in KNOWN_KINDS if k.key == key), None)
            if kind is None or kind.namespaced:
                self.scopes[key] = set(scope)

    def _write_objects(self, name: str, objects: list[dict]) -> None:
        doc = {"apiVersion": "v1", "kind": "List",
               "items": [redact_for_capture(o) for o in objects]}
        path = self.root / "resources" / f"{name}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")

    def _secrets(self) -> None:
        found = self.of(Part.SECRETS)
        if not found:
            self.reasons["secrets"] = NOT_IN_REPORT
            return
        head = bfiles.peek(found[0][0], 64)
        if not head.lstrip().startswith((b"apiVersion:", b"items:", b"kind:")):
            self.reasons["secrets"] = SECRETS_AS_TABLE
            return
        objects = self._objects(found[0][0])
        if objects is None:
            self.reasons["secrets"] = "cluster/secrets could not be read"
            return
        self._write_objects("secrets", objects)
        self.kinds.add("secrets")
        self.notes.append("Secrets captured with --full-secrets: their values were redacted")

    # -- istiod, proxies, logs --------------------------------------------------------------

    def _write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.written += 1

    def _named(self, entry: Entry) -> bool:
        """Names from the archive become paths only when they are Kubernetes names."""
        ok = (not entry.namespace or is_label(entry.namespace)) and is_object_name(entry.pod)
        if not ok:
            self.notes.append(f"skipped files of {(entry.namespace + '/' + entry.pod)[:200]!r}: "
                              "not a Kubernetes name")
        return ok

    def _json(self, file: File) -> Any:
        data = bfiles.read_head(file, MAX_FILE_BYTES)
        try:
            return json.loads(_text(data)) if data else None
        except ValueError:
            return None

    def _istiod(self) -> None:
        for file, entry in self.of(Part.ISTIOD_DEBUG):
            if entry.name not in ISTIOD_ENDPOINTS or not self._named(entry):
                continue
            body = self._json(file)
            if body is None:
                self.notes.append(f"{file.path}: not JSON (istiod did not answer it)")
                continue
            self._write(f"istiod/{entry.pod}/{entry.name}.json", json.dumps(redact_debug(body)))
        for file, entry in self.of(Part.ISTIOD_METRICS):
            data = bfiles.read_head(file, MAX_FILE_BYTES) if self._named(entry) else None
            if data:
                self._write(f"istiod/{entry.pod}/metrics.txt", redact_text(_text(data)))

    def _proxies(self) -> None:
        for part, target in ((Part.PROXY_DUMP, "proxies/{ns}/{pod}/config_dump.json"),
                             (Part.ZTUNNEL_DUMP, "ztunnel/{pod}/config_dump.json")):
            for file, entry in self.of(part):
                if not self._named(entry):
                    continue
                body = self._json(file)
                if body is None:
                    self.notes.append(f"{file.path}: not JSON")
                    continue
                if part is Part.ZTUNNEL_DUMP and isinstance(body, dict):
                    body.pop("certificates", None)  # C4: dropped at capture
                self._write(target.format(ns=entry.namespace, pod=entry.pod),
                            json.dumps(redact_debug(body)))

    def _logs(self) -> None:
        for part, container in ((Part.ISTIOD_LOG, "discovery"), (Part.PROXY_LOG, "istio-proxy")):
            for file, entry in self.of(part):
                if self._named(entry):
                    self._log(file, entry.namespace, entry.pod, container)
        for file, entry in self.of(Part.CNI_LOG):
            pod = self.pods.get(entry.pod)
            containers = ((pod or {}).get("spec") or {}).get("containers") or []
            if pod is None or not containers or not self._named(entry):
                self.notes.append(f"{file.path}: its pod is not among the captured pods")
                continue
            self._log(file, pod["metadata"]["namespace"], entry.pod, str(containers[0]["name"]))

    def _log(self, file: File, namespace: str, pod: str, container: str) -> None:
        current, previous, cut = bfiles.log_parts(file, LOG_TAIL_BYTES)
        self._write(log_path(namespace, pod, container), _log_text(current, cut))
        if previous is not None:
            self._write(log_path(namespace, pod, container, previous=True),
                        _log_text(previous, cut))


def _log_text(data: bytes, cut: bool) -> str:
    text = _text(data)
    if cut and "\n" in text:  # the first line was cut in the middle
        text = text.split("\n", 1)[1]
    return redact_text(text)


def _folder_name(context: str | None, taken: set[str]) -> str:
    """A folder for the cluster, from its context (`kubernetes-admin@kubernetes`,
    `arn:aws:eks:...:cluster/prod`), unique among the clusters read."""
    base = "".join(c if c.isalnum() or c in "._:-" else "_" for c in (context or ""))
    base = base.lstrip("._:-")[:200] or "bug-report"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name
