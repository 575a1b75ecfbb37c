"""`meshbot snapshot`: write what the live source reads into the `meshbot.snapshot/v1` format.

Capture goes through the live source itself, so a snapshot holds exactly what a live diagnosis
would see, and redacts again on the way to disk, more thoroughly than a diagnosis needs
(diagnostics/redact.py: Secrets, kubeconfigs, Envoy secret and TLS contexts in istiod's config
dumps, credentials in logs and in any other text). Secrets are read in the Istio namespace only.
Anything that cannot be read is left out and reported, and `snapshot.yaml` lists the kinds that
were captured, so a reader can tell "none exist" from "not captured".

Objects are written as `kubectl get -o json` prints a list (`resources/<kind>.json`): the
format allows YAML or JSON, and YAML cost a minute and gigabytes of memory per cluster of
10,000 pods to write and as much again to read (pyyaml's emitter and constructor are Python),
where JSON takes a second each way.

Every file name is built from names that came from the clusters (pod, namespace and container
names, istiod's proxy ids, the cluster id), so each is checked against Kubernetes' name rules
first and the resulting path is proven to lie inside the output folder: a proxy id such as
`../../x.y` is reported and skipped, never written.
"""

from __future__ import annotations

import asyncio
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import msgspec
import yaml

from diagnostics.identity import discover_source
from diagnostics.kinds import KNOWN_KINDS, Kind
from diagnostics.model import OVERRIDES, SNAPSHOT_FOLDER, ClusterInfo
from diagnostics.names import is_cluster_folder, is_label, is_object_name, split_proxy_id
from diagnostics.redact import TextMemo, redact_debug, redact_for_capture, redact_text
from diagnostics.snapshot import DEFAULT_ISTIO_NAMESPACE, FORMAT, REFUSALS_FILE, log_path
from diagnostics.sources.base import (METRICS_PATH, DebugRefused, NotCaptured, Source,
                                      SourceFailure, Withheld)
from diagnostics.targets import log_reads
from diagnostics.workloads import is_ztunnel, name_of, namespace_of
from diagnostics.ztunnel_fetch import ZTUNNEL_CONTAINER

DEBUG_ENDPOINTS = ("syncz", "clusterz", "networkz", "registryz", "endpointShardz", "mesh",
                   "push_status", "connections", "ambientz")
ISTIOD_LOG_LINES = 5000
WORKLOAD_LOG_LINES = 500
CONCURRENCY = 16


@dataclass
class CaptureOptions:
    namespaces: list[str] = field(default_factory=list)  # config dumps and workload logs
    max_config_dumps: int = 200
    max_ztunnels: int = 200  # one per node


@dataclass
class ClusterCapture:
    name: str
    objects: int = 0
    kinds: list[str] = field(default_factory=list)
    files: int = 0
    errors: list[str] = field(default_factory=list)
    withheld: dict[str, str] = field(default_factory=dict)  # kind -> the API server's refusal

    def summary(self) -> str:
        errs = f", {len(self.errors)} not readable" if self.errors else ""
        return (f"{self.name}: {self.objects} objects of {len(self.kinds)} kinds, "
                f"{self.files} debug/log files{errs}")


class UnsafePath(Exception):
    """A name from a cluster that cannot become (part of) a file path."""


class _Writer:
    """Writes one cluster's folder, bounding concurrent reads."""

    def __init__(self, source: Source, cluster: str, istio_ns: str, root: Path,
                 options: CaptureOptions, folder: str | None = None):
        folder = folder or cluster
        if not is_cluster_folder(folder):
            raise UnsafePath(f"cluster id {folder!r} cannot name a folder (one path component "
                             "of letters, digits, '.', '_', ':', '-'); name it so in the config")
        self.source, self.cluster, self.istio_ns = source, cluster, istio_ns
        self.out = root.resolve()
        self.root, self.options = root / "clusters" / folder, options
        self.result = ClusterCapture(folder)
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self._memo = TextMemo()  # every document's strings redacted through one memo

    async def _read(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        async with self._limit:
            try:
                return await call()
            except Withheld as exc:  # refused by design: the snapshot says so (`withheld`)
                self.result.withheld[what] = exc.refusal
                return None
            except NotCaptured:
                return None
            except SourceFailure as exc:
                self.result.errors.append(f"{what}: {exc}")
                return None

    def _write(self, rel: str, text: str) -> bool:
        """Write below this cluster's folder; `rel` is made of checked names only, and the
        path (symbolic links followed) must still be inside the output folder, else it is
        reported and skipped."""
        path = self.root / rel
        if not path.resolve().is_relative_to(self.out):
            self._skip(f"{rel} would be written outside {self.out}")
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return True

    def _skip(self, what: str) -> None:
        self.result.errors.append(f"{what}: not captured")

    async def resources(self) -> list[dict]:
        """Every known kind; returns the pods (what the istiod part needs next)."""
        async def one(kind: Kind) -> tuple[Kind, list[dict] | None]:
            ns = self.istio_ns if kind.key == "secrets" else None
            items = await self._read(kind.key, lambda: self.source.list(self.cluster, kind.key, ns))
            return kind, items

        pods: list[dict] = []
        for kind, items in await asyncio.gather(*(one(k) for k in KNOWN_KINDS)):
            if items is None:
                continue
            self.result.kinds.append(kind.key)
            self.result.objects += len(items)
            doc = {"apiVersion": "v1", "kind": "List",
                   "items": [redact_for_capture(item, self._memo) for item in items]}
            self._write(f"resources/{kind.key}.json", _json_text(doc))
            if kind.key == "pods":
                pods = items
        return pods

    async def istiod(self, pods: list[dict]) -> None:
        istiods = [p for p in pods if namespace_of(p) == self.istio_ns
                   and ((p.get("metadata") or {}).get("labels") or {}).get("app") == "istiod"]
        replicas = [r for r in self.source.istiod_targets(self.cluster, istiods)
                    if not r.startswith("http")]
        for bad in [r for r in replicas if not is_object_name(r)]:
            self._skip(f"istiod replica {bad!r} is not a pod name")
        await asyncio.gather(*(self._replica(r) for r in replicas if is_object_name(r)))

    async def _replica(self, replica: str) -> None:
        refused: dict[str, int] = {}

        async def endpoint(name: str) -> Any:
            async def get() -> Any:
                try:
                    return await self.source.istiod_get(self.cluster, replica, f"/debug/{name}")
                except DebugRefused as exc:
                    refused[name] = exc.status  # recorded as refused, not as not captured
                    raise
            body = await self._read(f"{replica} /debug/{name}", get)
            if body is not None:
                self._json(f"istiod/{replica}/{name}.json", body)
            return body

        bodies = await asyncio.gather(*(endpoint(e) for e in DEBUG_ENDPOINTS),
                                      self._istiod_log(replica), self._metrics(replica))
        if refused:
            if set(refused.values()) == {401}:  # no accepted credentials: config_dump as well
                refused["config_dump"] = 401
            self._json(f"istiod/{replica}/{REFUSALS_FILE}", refused)
        syncz = bodies[DEBUG_ENDPOINTS.index("syncz")] or []
        await asyncio.gather(*(self._config_dump(replica, proxy)
                               for proxy in self._proxies(replica, syncz)))

    async def _metrics(self, replica: str) -> None:
        """istiod's Prometheus text: the remote clusters' sync state even where debug
        endpoints are refused."""
        text = await self._read(f"{replica} {METRICS_PATH}", lambda: self.source.istiod_get(
            self.cluster, replica, METRICS_PATH))
        if isinstance(text, str) and self._write(f"istiod/{replica}/metrics.txt",
                                                 redact_text(text)):
            self.result.files += 1

    def _proxies(self, replica: str, syncz: Any) -> list[str]:
        """The proxy ids whose config_dump to capture: `<pod>.<namespace>` ids only (anything
        else would be a file name no pod has), in the namespaces asked about."""
        entries = syncz if isinstance(syncz, list) else []
        ids = [str(e.get("proxy")) for e in entries if isinstance(e, dict) and e.get("proxy")]
        for bad in sorted({p for p in ids if split_proxy_id(p) is None}):
            self._skip(f"{replica} /debug/syncz names proxy {bad[:100]!r}, not <pod>.<namespace>")
        wanted = set(self.options.namespaces)
        ids = [p for p in ids if (parts := split_proxy_id(p)) and (not wanted or parts[1] in wanted)]
        return sorted(ids)[: self.options.max_config_dumps]

    async def _config_dump(self, replica: str, proxy: str) -> None:
        path = f"/debug/config_dump?proxyID={proxy}&include_eds"
        body = await self._read(f"{replica} config_dump {proxy}",
                                lambda: self.source.istiod_get(self.cluster, replica, path))
        if body is not None:
            self._json(f"istiod/{replica}/config_dump/{proxy}.json", body)

    async def _istiod_log(self, replica: str) -> None:
        await self._log(self.istio_ns, replica, "discovery", ISTIOD_LOG_LINES)

    async def workload_logs(self, pods: list[dict]) -> None:
        """The logs `check` reads (sidecar, app containers and their run before a restart, a
        failed istio-init), for the namespaces asked about only: they can be large."""
        if not self.options.namespaces:
            return
        chosen = [p for p in pods if namespace_of(p) in self.options.namespaces]
        await asyncio.gather(*(self._log(namespace_of(p), name_of(p), c, WORKLOAD_LOG_LINES,
                                         previous) for p, c, previous in log_reads(chosen)))

    async def _log(self, ns: str, pod: str, container: str, lines: int,
                   previous: bool = False) -> None:
        if not (is_label(ns) and is_object_name(pod) and is_label(container)):
            self._skip(f"log of {ns[:63]!r}/{pod[:253]!r}/{container[:63]!r} (not names)")
            return
        text = await self._read(f"log {ns}/{pod}/{container}", lambda: self.source.pod_log(
            self.cluster, ns, pod, container, lines, previous))
        if text is not None and self._write(log_path(ns, pod, container, previous),
                                            redact_text(text)):
            self.result.files += 1

    async def ztunnels(self, pods: list[dict]) -> None:
        """Every ztunnel's admin /config_dump and log (C4: `ztunnel/<pod>/config_dump.json`,
        `logs/<ns>/<pod>/istio-proxy.log`), certificates dropped: the workload certificates
        ztunnel holds are no diagnosis' business."""
        ztunnels = sorted((p for p in pods if is_ztunnel(p)), key=name_of)
        chosen = [p for p in ztunnels if is_label(namespace_of(p)) and is_object_name(name_of(p))]
        await asyncio.gather(*(self._ztunnel(p) for p in chosen[: self.options.max_ztunnels]))

    async def _ztunnel(self, pod: dict) -> None:
        ns, name = namespace_of(pod), name_of(pod)
        body = await self._read(f"ztunnel {ns}/{name} /config_dump", lambda: self.source.ztunnel_get(
            self.cluster, ns, name, "/config_dump"))
        if isinstance(body, dict):
            body.pop("certificates", None)
            self._json(f"ztunnel/{name}/config_dump.json", body)
        await self._log(ns, name, ZTUNNEL_CONTAINER, WORKLOAD_LOG_LINES)

    def _json(self, rel: str, body: Any) -> None:
        if self._write(rel, _json_text(redact_debug(body, self._memo), sort_keys=True)):
            self.result.files += 1


def _json_text(doc: Any, sort_keys: bool = False) -> str:
    """`doc` as indented JSON, keys sorted or in the order they came in (msgspec, in C: the
    syncz of 10,000 proxies in 0.05 s, where json.dumps with an indent took 0.3)."""
    encoded = msgspec.json.encode(doc, order="sorted" if sort_keys else None)
    return msgspec.json.format(encoded, indent=1).decode() + "\n"


def folder_name(info: ClusterInfo) -> str:
    """A cluster's snapshot folder: its Istio cluster id when that names it (an id with `/`
    written `--slash--`, as Istio escapes it in URLs), else the source's name for it."""
    return info.name.replace("/", "--slash--")


def folder_origin(info: ClusterInfo) -> str | None:
    """What snapshot.yaml's `id_origins` records for the folder: nothing special when the
    folder is the id the cluster states; the override that named it; None when the folder
    is only the context's name (the id is unknown, or shared with another cluster)."""
    if info.named_by:
        return info.named_by
    if info.id_origin in OVERRIDES:
        return info.id_origin
    if info.id_origin is None or info.carried_id:
        return None
    return SNAPSHOT_FOLDER


async def capture(source: Source, out: Path, options: CaptureOptions | None = None
                  ) -> list[ClusterCapture]:
    """Capture every cluster of `source` into `out` (a folder, or a path ending in .tar.gz)."""
    options = options or CaptureOptions()
    archive = out.name.endswith((".tar.gz", ".tgz"))
    root = Path(tempfile.mkdtemp(prefix="meshbot-capture-")) if archive else out
    root.mkdir(parents=True, exist_ok=True)
    # Folders are named by the Istio cluster id each cluster states, as C4 asks, not by
    # the kubeconfig context it was reached through (that is recorded beside it).
    infos = await discover_source(source)
    folders = {i.key: folder_name(i) for i in infos}

    async def one(info: ClusterInfo) -> ClusterCapture:
        try:
            writer = _Writer(source, info.key, info.istio_namespace, root, options,
                             folders[info.key])
        except UnsafePath as exc:
            return ClusterCapture(folders[info.key], errors=[str(exc)])
        pods = await writer.resources()
        await asyncio.gather(writer.istiod(pods), writer.workload_logs(pods),
                             writer.ztunnels(pods))
        return writer.result

    results = await asyncio.gather(*(one(i) for i in infos))
    written = [r for r in results
               if is_cluster_folder(r.name) and (root / "clusters" / r.name).is_dir()]
    meta: dict[str, Any] = {
        "format": FORMAT,
        "captured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "clusters": [r.name for r in written],
        "kinds": {r.name: sorted(r.kinds) for r in written},
    }
    withheld = {r.name: dict(sorted(r.withheld.items())) for r in written if r.withheld}
    if withheld:
        meta["withheld"] = withheld
    by_folder = {folders[i.key]: i for i in infos}
    kept = [by_folder[r.name] for r in written]
    custom = {folders[i.key]: i.istio_namespace for i in kept
              if i.istio_namespace != DEFAULT_ISTIO_NAMESPACE}
    if custom:
        meta["istio_namespaces"] = custom
    contexts = {folders[i.key]: i.context for i in kept if i.context}
    if contexts:
        meta["contexts"] = contexts
    origins = {folders[i.key]: folder_origin(i) for i in kept
               if folder_origin(i) != SNAPSHOT_FOLDER}
    if origins:
        meta["id_origins"] = origins
    (root / "snapshot.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    if archive:
        with tarfile.open(out, "w:gz") as tar:
            tar.add(root, arcname=out.name.split(".")[0])
        shutil.rmtree(root, ignore_errors=True)
    return list(results)
