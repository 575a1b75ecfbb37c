"""Facts from live clusters through the official kubernetes client.

The client is synchronous, so every call runs on a bounded thread pool of this source, never on
the event loop. istiod's debug endpoints are reached as istioctl reaches them: a port-forward to
each istiod pod's monitoring port 15014 (port-forwarded connections count as localhost for
istiod's debug authentication), or a configured direct URL.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator
from urllib.parse import quote, urlsplit

import msgspec
import urllib3
from kubernetes import client

from diagnostics.gcpause import collector_paused
from diagnostics.kinds import Kind, kind_by_key
from diagnostics.model import ClusterInfo
from diagnostics.parse.json_items import decode_compacted
from diagnostics.parse.k8s_lists import ListReader, decode_names, decode_rows
from diagnostics.redact import redact_log, redact_object
from diagnostics.sources import portforward
from diagnostics.sources.base import (METRICS_PATH, ZTUNNEL_ADMIN_PORT, DebugRefused, Forbidden,
                                      NotCaptured, SourceFailure, metadata_view,
                                      running_istiod_pods, secrets_withheld)
from diagnostics.sources.metering import record_call

if TYPE_CHECKING:
    import aiohttp

ISTIOD_MONITORING_PORT = 15014
JSON = "application/json"
#: A list of metadata only; a server that cannot answer so sends whole objects (q=0.9), of
#: which the source keeps the metadata: the facts are the same either way.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, " \
                "application/json;q=0.9"
#: Names only: the API server's Table (its printing for `kubectl get`) without the objects,
#: a hundred bytes a pod where the pod's metadata alone is 9 kB (most of it managedFields,
#: which a metadata-only list and a Table's default row object both carry). A server that
#: prints no Table for the resource sends the list instead (q=0.9).
NAME_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json;q=0.9"
#: Objects per list request. None: one request per list, however long. Pages asked with the
#: previous page's continue token wait for each other, so 500 per page put 20 round trips of
#: latency before the answer at 10,000 pods; the answer needs the whole list anyway.
PAGE_SIZE: int | None = None


@dataclass
class LiveCluster:
    """One cluster: how to reach its API server, and optionally istiod directly."""

    info: ClusterInfo
    configuration: client.Configuration
    istiod_url: str | None = None


#: Blocking client calls one diagnosis sends at once, per cluster: a diagnosis asks each
#: cluster for about thirty lists, logs and debug bodies together. A pool smaller than what is
#: asked at once makes the rest wait for the first answers, a round trip each wave: ten
#: clusters on a 64-thread pool answered why-local-only in six dependent rounds instead of
#: three. Idle threads cost no CPU, and their stacks are reserved, not resident.
WORKERS_PER_CLUSTER = 32


def _workers(clusters: int) -> int:
    return max(64, WORKERS_PER_CLUSTER * clusters)


class LiveSource:
    """A Source over live API servers; counts every request it makes."""

    def __init__(self, clusters: list[LiveCluster], *, request_timeout: float = 10.0,
                 max_workers: int | None = None, whole_objects: bool = False):
        """`whole_objects`: pods as the API server sent them, fields no diagnosis reads
        included (a capture keeps them; diagnostics/parse/k8s_lists.py)."""
        self.clusters = {c.info.name: c for c in clusters}
        self.timeout = request_timeout
        self.whole_objects = whole_objects
        self.identity = "live:" + ",".join(f"{c.info.name}={c.info.context_name}"
                                           for c in clusters)
        self._pool = ThreadPoolExecutor(max_workers=max_workers or _workers(len(clusters)),
                                        thread_name_prefix="meshbot-k8s")
        self._api = {name: client.ApiClient(c.configuration) for name, c in self.clusters.items()}
        self._http: aiohttp.ClientSession | None = None

    def cluster_infos(self) -> list[ClusterInfo]:
        return [c.info for c in self.clusters.values()]

    async def _run(self, fn, cluster: str, *args) -> Any:
        """Run a blocking client call on this source's threads, counted against `cluster`."""
        record_call(cluster=cluster)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, cluster, *args))

    # -- Kubernetes API -------------------------------------------------------------------

    async def list(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None, metadata_only: bool = False,
                   field_selector: str | None = None) -> list[dict]:
        kind = _kind(resource)
        path = kind.list_path(namespace)
        query = [("limit", str(PAGE_SIZE))] if PAGE_SIZE else []
        query += [(key, value) for key, value in (("labelSelector", label_selector),
                                                  ("fieldSelector", field_selector)) if value]
        try:
            return await _paged(query, lambda q: self._run(self._get_list, cluster, path, q,
                                                           kind, metadata_only))
        except Forbidden as exc:
            if resource == "secrets":
                raise secrets_withheld(namespace, exc.refusal) from None
            raise

    async def names(self, cluster: str, resource: str, namespace: str | None,
                    label_selector: str | None = None) -> list[str]:
        return await self._table(cluster, resource, namespace, label_selector, decode_names)

    async def rows(self, cluster: str, resource: str, namespace: str | None,
                   label_selector: str | None = None) -> list[dict]:
        return await self._table(cluster, resource, namespace, label_selector, decode_rows)

    async def _table(self, cluster: str, resource: str, namespace: str | None,
                     label_selector: str | None,
                     decode: Callable[[bytes], tuple[list, str | None]]) -> list:
        """A Table of the objects without them (NAME_TABLE), every page, each `decode`d."""
        path = _kind(resource).list_path(namespace)
        query = [("includeObject", "None")]
        if label_selector:
            query.append(("labelSelector", label_selector))

        def page(cluster: str, query: list[tuple[str, str]]) -> tuple[list, str | None]:
            try:
                return decode(self._request(cluster, path, query, NAME_TABLE).data)
            except ValueError:
                raise SourceFailure(f"{path}: the API server answered no Table") from None

        return await _paged(query, lambda q: self._run(page, cluster, q))

    def _request(self, cluster: str, path: str, query: list[tuple[str, str]], accept: str):
        """A GET answered 2xx, its body read into `resp.data`."""
        return self._answered(cluster, path, query, accept, _read_body)

    def _answered(self, cluster: str, path: str, query: list[tuple[str, str]], accept: str,
                  read: Callable[[Any], Any]) -> Any:
        """A GET answered 2xx, and what `read` made of its response (called once the status
        is known: an error's body is read here, for its message)."""
        api = self._api[cluster]
        method, url, headers, body, post = api.param_serialize(
            method="GET", resource_path=path, query_params=query,
            header_params={"Accept": accept}, auth_settings=["BearerToken"])
        try:
            resp = api.call_api(method, url, headers, body, post, _request_timeout=self.timeout)
            if resp.status < 400:
                return read(resp)
            _read_body(resp)
        except urllib3.exceptions.HTTPError as exc:
            raise SourceFailure(_network_reason(exc, api.configuration.host)) from None
        except client.ApiException as exc:
            if exc.status:  # pragma: no cover - call_api returns HTTP errors as responses
                raise
            # the client reports TLS failures as ApiException(status=0), not as urllib3 errors
            raise SourceFailure(_network_reason(exc, api.configuration.host)) from None
        if resp.status == 404:
            raise NotCaptured(f"{path}: not found (404)")
        if resp.status == 403:
            raise Forbidden(path, _status_message(resp.data))
        raise SourceFailure(f"{path}: HTTP {resp.status} {_status_message(resp.data)}")

    def _get_list(self, cluster: str, path: str, query: list[tuple[str, str]], kind: Kind,
                  metadata_only: bool) -> tuple[list[dict], str | None]:
        """On a worker thread: one page of a list, decoded as it arrives (diagnostics/parse/
        k8s_lists.py: msgspec, managedFields skipped where it can, never the whole body held)
        and its items made what the checks read there too, not on the event loop (20,000
        pods: a tenth of a second); with the page's continue token."""
        reader = ListReader(kind.kind, metadata_only, self.whole_objects)

        def decoded(resp: Any) -> Any:
            with collector_paused():
                for chunk in _chunks(resp):
                    reader.feed(chunk)
                return reader.finish()

        try:
            body = self._answered(cluster, path, query,
                                  METADATA_LIST if metadata_only else JSON, decoded)
        except ValueError:
            raise SourceFailure(f"{path}: the API server answered something that is not "
                                "JSON") from None
        items = []
        name, api_version = kind.kind, kind.api_version  # asked once, not of 10,000 items
        for item in body.get("items") or []:
            if metadata_only:  # the server's PartialObjectMetadata, or a full object from
                item = metadata_view(item, name, api_version)  # an older one
            item.setdefault("kind", name)
            item.setdefault("apiVersion", api_version)
            item = _without_managed_fields(item)
            items.append(redact_object(item) if item["kind"] == "Secret" else item)
        return items, (body.get("metadata") or {}).get("continue")

    async def pod_log(self, cluster: str, namespace: str, pod: str, container: str,
                      tail_lines: int, previous: bool = False) -> str:
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log"
        query = [("container", container)]
        if previous:
            query.append(("previous", "true"))
        if tail_lines:
            query.append(("tailLines", str(tail_lines)))
        resp = await self._run(self._request, cluster, path, query, "text/plain, */*")
        return redact_log(resp.data.decode("utf-8", errors="replace"))

    # -- istiod ---------------------------------------------------------------------------

    def istiod_targets(self, cluster: str, istiod_pods: list[dict]) -> list[str]:
        url = self.clusters[cluster].istiod_url
        return [url] if url else running_istiod_pods(istiod_pods)

    async def istiod_get(self, cluster: str, target: str, path: str,
                         compact: Callable[[Any], list] | None = None) -> Any:
        if target.startswith(("http://", "https://")):
            return await self._direct_get(cluster, target, path, compact)
        ns = self.clusters[cluster].info.istio_namespace
        return await self._run(self._port_forward_json, cluster, ns, target, path, compact)

    async def _direct_get(self, cluster: str, base: str, path: str,
                          compact: Callable[[Any], list] | None) -> Any:
        import aiohttp  # only a configured direct istiod URL needs it

        record_call(cluster=cluster)
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._http.get(base + path) as resp:
                status, body = resp.status, await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise SourceFailure(f"{base}{path}: {exc or 'timed out'}", "istiod") from None
        # syncz of thousands of proxies is megabytes: parsed off the event loop
        return await asyncio.to_thread(_debug_json, status, body, base, path, compact)

    def _port_forward_json(self, cluster: str, namespace: str, pod: str, path: str,
                           compact: Callable[[Any], list] | None) -> Any:
        """On a worker thread: the debug endpoint's body, parsed (and compacted) there too (it
        is large)."""
        status, body = self._port_forward_get(cluster, namespace, pod, ISTIOD_MONITORING_PORT,
                                              path)
        return _debug_json(status, body, pod, path, compact)

    async def ztunnel_get(self, cluster: str, namespace: str, pod: str, path: str) -> Any:
        return await self._run(self._ztunnel_json, cluster, namespace, pod, path)

    def _ztunnel_json(self, cluster: str, namespace: str, pod: str, path: str) -> Any:
        """On a worker thread: ztunnel's admin answer, through a port-forward to :15000."""
        status, body = self._port_forward_get(cluster, namespace, pod, ZTUNNEL_ADMIN_PORT, path,
                                              "ztunnel")
        if status == 404:
            raise NotCaptured(f"{path} on ztunnel {namespace}/{pod}: not found", "ztunnel")
        if status >= 400:
            raise SourceFailure(f"{path} on ztunnel {namespace}/{pod}: HTTP {status}", "ztunnel")
        try:
            return decode_json(body)
        except ValueError:
            raise SourceFailure(f"{path} on ztunnel {namespace}/{pod}: not JSON",
                                "ztunnel") from None

    def _port_forward_get(self, cluster: str, namespace: str, pod: str, port: int,
                          path: str, side: str = "istiod") -> tuple[int, memoryview]:
        try:
            return portforward.http_get(self._api[cluster], namespace, pod, port, path,
                                        self.timeout)
        except portforward.PortForwardError as exc:
            raise SourceFailure(f"{namespace}/{pod}:{port}{path}: {exc}", side) from None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        for api in self._api.values():
            api.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _debug_json(status: int, body: bytes | memoryview, target: str, path: str,
                compact: Callable[[Any], list] | None = None) -> Any:
    if status >= 400 or path == METRICS_PATH:
        text = portforward.text_of(body)
        if status == 404:
            raise NotCaptured(f"{path} on {target}: {text.strip() or 'not found'}", "istiod")
        if status in (401, 403):
            raise DebugRefused(path, target, status)
        if status >= 400:
            raise SourceFailure(f"{path} on {target}: HTTP {status} {text.strip()[:200]}",
                                "istiod")
        return text
    if _BLANK.fullmatch(body):
        return compact(None) if compact else None
    try:
        with collector_paused():
            return decode_compacted(body, compact) if compact else decode_json(body)
    except ValueError:
        raise SourceFailure(f"{path} on {target}: not JSON", "istiod") from None


_BLANK = re.compile(rb"\s*")

def decode_json(body: bytes | memoryview) -> Any:
    """A JSON body decoded by msgspec (about 0.7 of json's time on big bodies); a body that is
    not UTF-8 is read as before, its undecodable bytes replaced, by json."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return json.loads(portforward.text_of(body))


#: A response body is read this much at a time into one growing buffer.
READ_CHUNK = 1 << 20


def _read_body(resp: Any) -> Any:
    """Read a response's body into `resp.data`, in place. An API server sends a big list
    chunked, and http.client reads a chunked body whole by keeping every chunk and joining
    them: twice the body at once (pods' metadata of 10,000 pods: 85 MB more per cluster). A
    bytearray grows where it lies instead (glibc's realloc remaps big blocks)."""
    body = bytearray()
    for chunk in _chunks(resp):
        body += chunk
    resp.data = body
    return resp


def _kind(resource: str) -> Kind:
    kind = kind_by_key(resource)
    if kind is None:
        raise SourceFailure(f"meshbot does not know how to list {resource}")
    return kind


async def _paged(query: list[tuple[str, str]],
                 page: Callable[[list[tuple[str, str]]], Awaitable[tuple[list, str | None]]]
                 ) -> list:
    """Every page of a list: each asked with the continue token of the one before."""
    items: list = []
    token: str | None = None
    while True:
        more, token = await page(query + [("continue", token)] if token else query)
        items += more
        if not token:
            return items


def _chunks(resp: Any) -> Iterator[bytes]:
    """A response's body as it arrives, READ_CHUNK at most at a time."""
    raw = getattr(resp, "response", None)
    if raw is None or getattr(resp, "data", None) is not None:  # another client's response
        yield resp.read()
        return
    empty = True
    for chunk in raw.stream(READ_CHUNK):
        empty = empty and not chunk
        yield chunk
    if empty:  # or read already (a client that preloads keeps it in urllib3's cache)
        yield resp.read()


def _status_message(data: bytes) -> str:
    try:
        return str(json.loads(data).get("message", ""))[:300]
    except (ValueError, AttributeError):
        return data[:200].decode("utf-8", errors="replace")


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and everything behind it: urllib3's `reason`, chained causes and wrapped errors."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if any(e is seen for seen in out):
            continue
        out.append(e)
        nested = [getattr(e, "reason", None), e.__cause__, e.__context__, *e.args]
        todo += [n for n in nested if isinstance(n, BaseException)]
    return out


def _first(causes: list[BaseException], kind: type[BaseException] | tuple[type[BaseException], ...]
           ) -> BaseException | None:
    return next((e for e in causes if isinstance(e, kind)), None)


_NO_SUCH_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
_SSL_NOISE = re.compile(r"^\[SSL(: [A-Z_]+)?\]\s*|\s*\(_ssl\.c:\d+\)$")


def _network_reason(exc: BaseException, host: str) -> str:
    """Why a request never got an answer, in the words an operator checks next.

    urllib3 reports most connect failures as a kind of ConnectTimeoutError (NewConnectionError
    inherits from it), and the kubernetes client turns TLS failures into ApiException(status=0),
    so the cause is found by walking the exception chain, most specific cause first.
    """
    causes = _causes(exc)
    dns = _first(causes, socket.gaierror)
    if dns is not None or _first(causes, urllib3.exceptions.NameResolutionError) is not None:
        name = urlsplit(host).hostname or host
        if dns is not None and dns.errno not in _NO_SUCH_HOST:
            return f"{host}: cannot resolve {name} ({str(dns.strerror or dns).lower()})"
        return f"{host}: no such host ({name} does not resolve)"
    cert = _first(causes, ssl.SSLCertVerificationError)
    if cert is not None:
        problem = getattr(cert, "verify_message", None) or _SSL_NOISE.sub("", str(cert))
        return f"{host}: TLS certificate not accepted: {problem}"
    tls = _first(causes, ssl.SSLError)
    if tls is not None:
        return f"{host}: TLS handshake failed: {_SSL_NOISE.sub('', str(tls.strerror or tls))}"
    if _first(causes, ConnectionRefusedError) is not None:
        return f"{host}: connection refused"
    # ConnectTimeoutError itself, not its NewConnectionError subclass (refused, unreachable)
    if any(isinstance(e, (TimeoutError, urllib3.exceptions.ReadTimeoutError))
           or type(e) is urllib3.exceptions.ConnectTimeoutError for e in causes):
        return f"{host}: timed out"
    os_error = next((e for e in causes if isinstance(e, OSError) and e.strerror), None)
    if os_error is not None:  # connection reset, network unreachable, no route to host
        return f"{host}: {os_error.strerror.lower()}"
    inner = getattr(exc, "reason", None) or exc
    return f"{host}: {str(inner)[:300]}"


def _without_managed_fields(obj: dict) -> dict:
    """Drop server-side-apply bookkeeping: no check reads it, and on a real cluster it is a
    third or more of every object, so thousands of pods cost that much less memory (and
    snapshots that much less disk)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj
