"""One cluster of a snapshot served as a read-only Kubernetes API server (aiohttp).

Routing is a single catch-all: the Kubernetes URL grammar is parsed by paths.py, then dispatched
to discovery, get, list, pod logs or port-forward. Everything that is not a read answers a
`Status`: write verbs 405, unknown paths 404.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from diagnostics.replay import discovery
from diagnostics.replay.listing import (META_GROUP_VERSION, EncodedItems, get_object,
                                        list_body, list_objects, partial_metadata, send_body,
                                        served_object)
from diagnostics.replay.logs import read_log
from diagnostics.replay.managed_fields import with_managed_fields
from diagnostics.replay.paths import ResourcePath, parse_api_path
from diagnostics.debug_auth import DebugCaller
from diagnostics.replay.portforward import serve_portforward
from diagnostics.replay.printers import parse_time
from diagnostics.replay.resources import ResourceIndex, Served
from diagnostics.replay.stats import ReplayStats, RequestRecord, now
from diagnostics.replay.responses import ApiError, json_response, method_not_allowed, no_such_path
from diagnostics.replay.tables import build_table, requested_metadata, requested_table_version
from diagnostics.snapshot import ClusterSnapshot

log = logging.getLogger("meshbot.replay")
_READ_METHODS = ("GET", "HEAD")


class ClusterAPI:
    """The request handlers of one replayed cluster."""

    def __init__(self, cluster: ClusterSnapshot, captured_at: str | None = None,
                 debug_caller: DebugCaller | None = None, managed_fields: bool = False):
        self.cluster = cluster
        self.index = ResourceIndex(cluster)
        self.encoded = EncodedItems(managed_fields)
        # Each list answer, built once: a snapshot never changes, and building a list of
        # 10,000 pods held the replay's only thread (every cluster's) for a tenth of a second,
        # so requests sent meanwhile were recorded as arriving late (stats.py's rounds).
        self._list_bodies: dict[tuple[str, str, bool], bytes] = {}
        self.captured_at = parse_time(captured_at)
        self.debug_caller = debug_caller

    def now(self) -> dt.datetime:
        """AGE is computed at capture time when known, so a replay prints what kubectl printed
        then; otherwise relative to now."""
        return self.captured_at or dt.datetime.now(dt.UTC)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in _READ_METHODS:
            raise method_not_allowed()
        path = request.path.rstrip("/") or "/"
        if path == "/version":
            return json_response(discovery.version_info(self.cluster))
        if path == "/api":
            return json_response(discovery.api_versions(self.index, request.host))
        if path == "/apis":
            return json_response(discovery.api_group_list(self.index))
        target = parse_api_path(path)
        if target is None:
            raise no_such_path()
        return await self._resource(request, target)

    async def _resource(self, request: web.Request, target: ResourcePath) -> web.StreamResponse:
        if not self.index.has_group_version(target.group, target.version):
            raise no_such_path()
        if target.plural is None:
            return json_response(discovery.api_resource_list(self.index, target.group,
                                                             target.version))
        served = self.index.resolve(target.group, target.version, target.plural)
        if served is None or not _scope_fits(served, target):
            raise no_such_path()
        if target.subresource:
            return await self._subresource(request, served, target)
        if target.name:
            return self._get(request, served, target)
        return await self._list(request, served, target)

    def _get(self, request: web.Request, served: Served, target: ResourcePath) -> web.Response:
        obj = get_object(self.cluster, served, target.namespace, str(target.name))
        if self.encoded.managed_fields:
            obj = with_managed_fields(obj, served.kind.kind)
        table_version = requested_table_version(request.headers.get("Accept"))
        if table_version:
            meta = {"resourceVersion": self.index.resource_version}
            return json_response(build_table(served, [obj], meta, table_version,
                                             request.query.get("includeObject"), self.now()))
        if requested_metadata(request.headers.get("Accept"), "PartialObjectMetadata"):
            return json_response(partial_metadata(obj))
        return json_response(served_object(obj, served))

    async def _list(self, request: web.Request, served: Served,
                    target: ResourcePath) -> web.StreamResponse:
        if request.query.get("watch") in ("true", "1"):
            raise ApiError(405, "MethodNotAllowed",
                           "watch is not supported: meshbot replay serves a fixed snapshot")
        table_version = requested_table_version(request.headers.get("Accept"))
        metadata_only = requested_metadata(request.headers.get("Accept"),
                                           "PartialObjectMetadataList")
        key = (request.path, request.query_string, metadata_only)
        body = None if table_version else self._list_bodies.get(key)
        if body is None:
            page = list_objects(self.cluster, served, target.namespace, request.query,
                                self.index.resource_version)
            if table_version:
                return json_response(build_table(served, page.items, page.metadata,
                                                 table_version,
                                                 request.query.get("includeObject"), self.now()))
            head = {"kind": "PartialObjectMetadataList", "apiVersion": META_GROUP_VERSION} \
                if metadata_only else {"kind": f"{served.kind.kind}List",
                                       "apiVersion": served.kind.api_version}
            body = self._list_bodies[key] = list_body(
                {**head, "metadata": page.metadata},
                [self.encoded.item(o, metadata_only, served.kind.kind) for o in page.items])
        return await send_body(request, body)

    async def _subresource(self, request: web.Request, served: Served,
                           target: ResourcePath) -> web.StreamResponse:
        if served.key != "pods" or target.subresource not in ("log", "portforward"):
            raise no_such_path()
        pod = get_object(self.cluster, served, target.namespace, str(target.name))
        if target.subresource == "portforward":
            return await serve_portforward(request, self.cluster, pod, self.debug_caller)
        body = await asyncio.to_thread(read_log, self.cluster, pod, request.query)
        return web.Response(body=body, content_type="text/plain")


def _scope_fits(served: Served, target: ResourcePath) -> bool:
    """A namespaced kind is addressed by name only inside a namespace; a cluster-scoped kind
    never inside one."""
    if served.kind.namespaced:
        return target.namespace is not None or target.name is None
    return target.namespace is None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _status_middleware() -> Callable:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException:
            raise
        except Exception:  # noqa: BLE001 - a replay bug must answer a Status, not drop the socket
            log.exception("replay: %s %s failed", request.method, request.path_qs)
            return ApiError(500, "InternalError", "internal error in meshbot replay").response()
    return middleware


def _recording_middleware(cluster: str, latency_ms: float, stats: ReplayStats) -> Callable:
    """Sleep before answering, so a benchmark can see whether callers overlap their requests,
    and record each request from arrival until its answer is written out (a response is sent
    here rather than after the middleware, so `finished` is when the caller has it all)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = now()
        stats.requests += 1
        status, sent = 0, 0
        try:
            if latency_ms > 0:
                stats.delayed_requests += 1
                await asyncio.sleep(latency_ms / 1000)
            response = await handler(request)
            status = response.status
            if not response.prepared:
                await response.prepare(request)
                await response.write_eof()
            sent = response.body_length
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            stats.record(RequestRecord(cluster, request.method, request.path_qs,
                                       request.headers.get("Accept", ""), started, now(),
                                       status, sent))
    return middleware


def build_app(cluster: ClusterSnapshot, *, captured_at: str | None = None,
              latency_ms: float = 0, stats: ReplayStats | None = None,
              debug_caller: DebugCaller | None = None,
              managed_fields: bool = False) -> web.Application:
    """The aiohttp application serving one cluster."""
    api = ClusterAPI(cluster, captured_at, debug_caller, managed_fields)
    recording = _recording_middleware(cluster.name, latency_ms, stats or ReplayStats())
    app = web.Application(middlewares=[recording, _status_middleware()])
    app.router.add_route("*", "/{path:.*}", api.handle)
    return app
