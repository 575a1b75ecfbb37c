"""What answers behind a pod's port when a client port-forwards to it.

Two servers are replayed from the snapshot's files, nothing else:
- istiod's debug endpoints on 15014 (monitoring) and 8080 (http-debug): `/debug/<endpoint>` from
  `istiod/<pod>/<endpoint>.json`, `/debug/config_dump?proxyID=` from `istiod/<pod>/config_dump/`,
  and `/metrics` on 15014 from `istiod/<pod>/metrics.txt`; an endpoint listed in
  `istiod/<pod>/refused.json` answers the status istiod refused it with at capture, and
  `--debug-caller` makes replay authorize requests as istiod would for that caller
  (diagnostics/debug_auth.py);
- a sidecar's Envoy admin on 15000: `/clusters?format=json` and `/config_dump` from
  `proxies/<ns>/<pod>/`;
- a ztunnel's admin on 15000: `/config_dump` from `ztunnel/<pod>/config_dump.json`.
A file the snapshot lacks answers 404 with a body saying it was not captured; istiod's own errors
(missing proxyID, proxy on another replica) keep istiod's exact wording
(docs/istio-surface.md §1.1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from diagnostics import workloads
from diagnostics.debug_auth import DebugCaller, refusal, root_namespace, sees_proxy
from diagnostics.replay.httpwire import TunnelRequest, TunnelResponse, text
from diagnostics.snapshot import (MAX_FILE_BYTES, ClusterSnapshot, SnapshotError,
                                  load_json_file)

Handler = Callable[[TunnelRequest], TunnelResponse]

ISTIOD_DEBUG_PORTS = (15014, 8080)
ISTIOD_MONITORING_PORT = 15014  # also serves /metrics, which is not behind debug auth
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
ENVOY_ADMIN_PORT = 15000
MISSING_PROXY_ID = "You must provide a proxyID in the query string\n"
PROXY_NOT_CONNECTED = ("Proxy not connected to this Pilot instance. It may be connected to "
                       "another instance.\n")
_ENDPOINT_RE = re.compile(r"[A-Za-z_]+")
_READ_METHODS = ("GET", "HEAD")


def _containers(pod: dict) -> set[str]:
    spec = pod.get("spec") or {}
    everything = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    return {c.get("name") for c in everything}


def _pod_id(pod: dict) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def is_istiod(cluster: ClusterSnapshot, pod: dict) -> bool:
    """istiod's container is `discovery`; a captured istiod/<pod>/ folder says so as well (the
    folder is derived from snapshot.py's file paths, so the layout is spelled in one place)."""
    _, name = _pod_id(pod)
    return "discovery" in _containers(pod) or cluster.istiod_file(name, "x").parent.is_dir()


def is_ztunnel(cluster: ClusterSnapshot, pod: dict) -> bool:
    """ztunnel's pods are labelled app=ztunnel (its container is named istio-proxy too); a
    captured ztunnel/<pod>/ folder says so as well."""
    _, name = _pod_id(pod)
    return workloads.is_ztunnel(pod) or cluster.ztunnel_file(name, "x").parent.is_dir()


def has_sidecar(cluster: ClusterSnapshot, pod: dict) -> bool:
    ns, name = _pod_id(pod)
    return "istio-proxy" in _containers(pod) or cluster.proxy_file(ns, name, "x").parent.is_dir()


def port_handler(cluster: ClusterSnapshot, pod: dict, port: int,
                 caller: DebugCaller | None = None) -> Handler | None:
    """The replayed server behind `port` of `pod`, or None when nothing listens there."""
    ns, name = _pod_id(pod)
    if port in ISTIOD_DEBUG_PORTS and is_istiod(cluster, pod):
        return IstiodDebug(cluster, name, pod_object=pod, port=port, caller=caller)
    if port == ENVOY_ADMIN_PORT and is_ztunnel(cluster, pod):
        return ZtunnelAdmin(cluster, ns, name)
    if port == ENVOY_ADMIN_PORT and has_sidecar(cluster, pod):
        return EnvoyAdmin(cluster, ns, name)
    return None


def refused_message(pod: dict, port: int) -> str:
    """The port-forward error for a port nothing answers on (a refused connection in a pod)."""
    ns, name = _pod_id(pod)
    return (f"an error occurred forwarding {port} -> {port}: error forwarding port {port} to pod "
            f"{ns}/{name}: connection refused (meshbot replay answers istiod on "
            f"{'/'.join(map(str, ISTIOD_DEBUG_PORTS))} and a sidecar's Envoy admin or a "
            f"ztunnel's admin on {ENVOY_ADMIN_PORT} only)")


def _file_response(path: Path, what: str) -> TunnelResponse:
    if not path.is_file():
        return text(404, f"{what} was not captured in this snapshot\n")
    if path.stat().st_size > MAX_FILE_BYTES:
        return text(500, f"{what} is larger than meshbot reads ({MAX_FILE_BYTES} bytes)\n")
    return TunnelResponse(200, path.read_bytes())


def strip_eds(body: bytes) -> bytes:
    """A config_dump without its EndpointsConfigDump, as served when `include_eds` is absent."""
    try:
        dump = json.loads(body)
        configs = dump["configs"]
    except (ValueError, KeyError, TypeError):
        return body
    dump["configs"] = [c for c in configs if not str(
        (c or {}).get("@type", "")).endswith(".EndpointsConfigDump")]
    return json.dumps(dump, indent=2).encode()


def _read_only(req: TunnelRequest) -> TunnelResponse | None:
    if req.method in _READ_METHODS:
        return None
    return text(405, f"method {req.method} not allowed: meshbot replay serves a read-only "
                     f"snapshot\n")


class IstiodDebug:
    """istiod's `/debug/*` handlers (and `/metrics` on 15014) on one replica, answered from its
    captured files; requests are authorized as istiod does (diagnostics/debug_auth.py)."""

    def __init__(self, cluster: ClusterSnapshot, pod: str, *, pod_object: dict | None = None,
                 port: int = ISTIOD_MONITORING_PORT, caller: DebugCaller | None = None):
        self.cluster = cluster
        self.pod = pod
        self.pod_object = pod_object or {}
        self.port = port
        self.caller = caller or DebugCaller()

    def __call__(self, req: TunnelRequest) -> TunnelResponse:
        refused = _read_only(req)
        if refused:
            return refused
        if req.path == "/metrics" and self.port == ISTIOD_MONITORING_PORT:
            return _metrics(self.cluster.metrics_file(self.pod), self.pod)
        endpoint = req.path[len("/debug/"):] if req.path.startswith("/debug/") else ""
        if not _ENDPOINT_RE.fullmatch(endpoint):
            return text(404, f"{req.path} of istiod {self.pod} was not captured in this snapshot\n")
        status = self._refusal(endpoint)
        if status:
            return TunnelResponse(status, b"", "text/plain; charset=utf-8")
        if endpoint == "config_dump":
            return self._config_dump(req)
        response = _file_response(self.cluster.istiod_file(self.pod, endpoint),
                                  f"/debug/{endpoint} of istiod {self.pod}")
        namespace = req.param("namespace")
        if endpoint == "syncz" and namespace and response.status == 200:
            response = _syncz_in_namespace(response, namespace)
        return response

    def _refusal(self, endpoint: str) -> int | None:
        """The status istiod refused this endpoint with at capture, else what istiod would
        answer the configured caller."""
        try:
            recorded = self.cluster.refusals(self.pod).get(endpoint)
        except SnapshotError:  # a malformed refused.json records nothing usable
            recorded = None
        return recorded or refusal(self.caller, self.pod_object, endpoint, self._root())

    def _root(self) -> str:
        mesh = self.cluster.istiod_file(self.pod, "mesh")
        try:
            body = load_json_file(mesh) if mesh.is_file() else None
        except SnapshotError:
            body = None
        return root_namespace(body, self.pod_object)

    def _config_dump(self, req: TunnelRequest) -> TunnelResponse:
        proxy_id = req.param("proxyID")
        if not proxy_id:
            return text(400, MISSING_PROXY_ID)
        # istiod matches by substring on its connection ids, first match wins.
        match = next((p for p in self.connected_proxies() if proxy_id in p), None)
        if match is None or not sees_proxy(self.caller, self.pod_object, match, self._root()):
            return text(404, PROXY_NOT_CONNECTED)
        response = _file_response(self.cluster.config_dump_file(self.pod, match),
                                  f"/debug/config_dump for proxy {match} on istiod {self.pod}")
        if response.status == 200 and not req.has("include_eds"):
            response = TunnelResponse(200, strip_eds(response.body))
        return response

    def connected_proxies(self) -> list[str]:
        """Proxies connected to this replica at capture time: syncz's, then captured dumps'."""
        proxies = []
        syncz = self.cluster.istiod_file(self.pod, "syncz")
        try:
            entries = json.loads(syncz.read_bytes()) if syncz.is_file() else []
        except ValueError:
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("proxy"):
                proxies.append(str(entry["proxy"]))
        dumps = self.cluster.config_dump_file(self.pod, "x").parent
        if dumps.is_dir():
            proxies += sorted(p.stem for p in dumps.glob("*.json") if p.stem not in proxies)
        return proxies


def _metrics(path: Path, pod: str) -> TunnelResponse:
    response = _file_response(path, f"/metrics of istiod {pod}")
    if response.status != 200:
        return response
    return TunnelResponse(200, response.body, PROMETHEUS_TEXT)


def _syncz_in_namespace(response: TunnelResponse, namespace: str) -> TunnelResponse:
    """`/debug/syncz?namespace=` keeps the proxies of that namespace, as istiod filters it."""
    try:
        entries = json.loads(response.body)
    except ValueError:
        return response
    kept = [e for e in entries if isinstance(e, dict)
            and str(e.get("proxy", "")).rsplit(".", 1)[-1] == namespace]
    return TunnelResponse(200, json.dumps(kept, indent=2).encode())


class _PodAdmin:
    """An admin port of one pod (a sidecar's Envoy, a ztunnel), answered from its files."""

    def __init__(self, cluster: ClusterSnapshot, namespace: str, pod: str):
        self.cluster = cluster
        self.namespace = namespace
        self.pod = pod


class EnvoyAdmin(_PodAdmin):
    """A sidecar's Envoy admin endpoints, answered from `proxies/<ns>/<pod>/`."""

    def __call__(self, req: TunnelRequest) -> TunnelResponse:
        refused = _read_only(req)
        if refused:
            return refused
        what = f"Envoy admin {req.path} of {self.namespace}/{self.pod}"
        if req.path == "/clusters" and req.param("format") == "json":
            return _file_response(self._file("clusters.json"), what + "?format=json")
        if req.path == "/config_dump":
            response = _file_response(self._file("config_dump.json"), what)
            if response.status == 200 and not req.has("include_eds"):
                response = TunnelResponse(200, strip_eds(response.body))
            return response
        return text(404, f"{what} was not captured in this snapshot (captured: "
                         f"/clusters?format=json, /config_dump)\n")

    def _file(self, name: str) -> Path:
        return self.cluster.proxy_file(self.namespace, self.pod, name)


class ZtunnelAdmin(_PodAdmin):
    """A ztunnel's admin endpoints (istio/ztunnel src/admin.rs), answered from
    `ztunnel/<pod>/`; ztunnel answers an unknown path 404 with an empty body."""

    def __call__(self, req: TunnelRequest) -> TunnelResponse:
        refused = _read_only(req)
        if refused:
            return refused
        if req.path == "/config_dump":
            return _file_response(self.cluster.ztunnel_file(self.pod, "config_dump"),
                                  f"ztunnel admin /config_dump of {self.namespace}/{self.pod}")
        return TunnelResponse(404, b"", "text/plain; charset=utf-8")
