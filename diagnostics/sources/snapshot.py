"""Facts read from a snapshot folder, answering exactly as the live source would."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from diagnostics.model import ClusterInfo
from diagnostics.kinds import kind_by_key
from diagnostics.parse.json_items import decode_typed
from diagnostics.snapshot import (ClusterSnapshot, Snapshot, load_json_file, parse_json_text,
                                  read_tail, read_text_file)
from diagnostics.sources.base import (METRICS_PATH, DebugRefused, NotCaptured, SourceFailure,
                                      metadata_view, read_withheld, running_istiod_pods)
from diagnostics.workloads import name_of


class SnapshotSource:
    """A Source over a loaded Snapshot; makes no network calls."""

    def __init__(self, snapshot: Snapshot, contexts: dict[str, str] | None = None):
        self.snapshot = snapshot
        paths = snapshot.sources or (snapshot.path,)
        self.identity = "snapshot:" + ",".join(str(Path(p).resolve()) for p in paths)
        self._contexts = contexts or {}

    @classmethod
    def open(cls, path: str | Path) -> "SnapshotSource":
        return cls(Snapshot.open(path))

    def cluster_infos(self) -> list[ClusterInfo]:
        """Folders are named by cluster id (C4), unless snapshot.yaml says the capture could
        not learn it or an operator's override named it; contexts come from the config file,
        else from snapshot.yaml."""
        return [ClusterInfo(c.name, c.istio_namespace, self._contexts.get(c.name) or c.context,
                            c.id_origin) for c in self.snapshot.clusters.values()]

    def _cluster(self, cluster: str) -> ClusterSnapshot:
        try:
            return self.snapshot.clusters[cluster]
        except KeyError:
            raise SourceFailure(f"cluster {cluster!r} is not in the snapshot", "snapshot") from None

    async def list(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None, metadata_only: bool = False,
                   field_selector: str | None = None) -> list[dict]:
        cs = self._cluster(cluster)
        if resource in cs.withheld:
            raise read_withheld(resource, namespace, cs.withheld[resource])
        if not cs.captured_in(resource, namespace):
            raise NotCaptured(cs.why_not_captured(resource, namespace), "snapshot")
        objects = cs.list(resource, namespace, label_selector, field_selector)
        kind = kind_by_key(resource)
        if not metadata_only or kind is None:
            return objects
        return [metadata_view(o, kind.kind, kind.api_version) for o in objects]

    async def names(self, cluster: str, resource: str, namespace: str | None,
                    label_selector: str | None = None) -> list[str]:
        return [name_of(o) for o in await self.list(cluster, resource, namespace, label_selector,
                                                    metadata_only=True)]

    async def rows(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None) -> list[dict]:
        """The rows the API server would print of the objects (the replay's printers, which
        follow its own), aged as of the capture."""
        from diagnostics.replay.printers import parse_time, printer_for

        printer = printer_for(resource)
        columns = [c.name for c in printer.columns]
        now = parse_time(self.snapshot.captured_at) or dt.datetime.now(dt.UTC)
        return [dict(zip(columns, printer.cells(o, now)))
                for o in await self.list(cluster, resource, namespace, label_selector)]

    def istiod_targets(self, cluster: str, istiod_pods: list[dict]) -> list[str]:
        return running_istiod_pods(istiod_pods)

    async def istiod_get(self, cluster: str, target: str, path: str,
                         compact: Callable[[Any], list] | None = None) -> Any:
        cs = self._cluster(cluster)
        parts = urlsplit(path)
        if parts.path == METRICS_PATH:
            return await asyncio.to_thread(_read_text, cs.metrics_file(target), path, target)
        endpoint = parts.path.removeprefix("/debug/")
        if endpoint == "config_dump":
            proxy = (parse_qs(parts.query).get("proxyID") or [""])[0]
            file = cs.config_dump_file(target, proxy)
        else:
            file = cs.istiod_file(target, endpoint)
        if not file.is_file():
            refused = cs.refusals(target).get(endpoint)
            if refused:
                raise DebugRefused(parts.path, target, refused)
            raise NotCaptured(f"{path} of {target} not captured", "istiod")
        return await asyncio.to_thread(_load_json, file, compact)  # megabytes: off the loop

    async def pod_log(self, cluster: str, namespace: str, pod: str, container: str,
                      tail_lines: int, previous: bool = False) -> str:
        cs = self._cluster(cluster)
        file = cs.log_file(namespace, pod, container, previous)
        if not file.is_file():
            which = "previous log" if previous else "log"
            why = cs.not_captured.get("logs")
            raise NotCaptured(f"{which} of {namespace}/{pod}/{container} not captured"
                              + (f" ({why})" if why else ""), "kubernetes")
        return await asyncio.to_thread(_tail, file, tail_lines)

    async def proxy_config_dump(self, cluster: str, namespace: str, pod: str) -> Any:
        """The sidecar's own Envoy admin `/config_dump?include_eds` (C4 `proxies/`): what the
        proxy holds, where istiod's view of it was not captured (an istioctl bug-report has
        every proxy's own dump and no istiod one)."""
        file = self._cluster(cluster).proxy_file(namespace, pod, "config_dump.json")
        if not file.is_file():
            raise NotCaptured(f"Envoy config_dump of {namespace}/{pod} not captured", "envoy")
        return await asyncio.to_thread(load_json_file, file)

    async def ztunnel_get(self, cluster: str, namespace: str, pod: str, path: str) -> Any:
        file = self._cluster(cluster).ztunnel_file(pod, urlsplit(path).path.strip("/"))
        if not file.is_file():
            raise NotCaptured(f"{path} of ztunnel {namespace}/{pod} not captured", "ztunnel")
        return await asyncio.to_thread(load_json_file, file)

    async def close(self) -> None:
        return None


def _load_json(file: Path, compact: Callable[[Any], list] | None) -> Any:
    if compact is None:
        return load_json_file(file)
    text = read_text_file(file)  # read once: decoded typed if in istiod's own shape, else whole
    found = decode_typed(text, compact)
    return found if found is not None else compact(parse_json_text(text, file))


def _read_text(file: Path, path: str, target: str) -> str:
    if not file.is_file():
        raise NotCaptured(f"{path} of {target} not captured", "istiod")
    return read_text_file(file)


def _tail(file: Path, tail_lines: int) -> str:
    return read_tail(file, tail_lines or None).decode("utf-8", errors="replace")
