"""One HTTP request to a pod port through the API server's port-forward subresource.

The websocket is opened here from the cluster's client Configuration (TLS verification, CA,
client certificate, server name, proxy and the bearer token of every other call), speaking the
`v4.channel.k8s.io` protocol itself. The client's own websocket factory takes no timeout, so an
API server (or a proxy in front of it) that swallows the upgrade would hold a thread forever;
its PortForward helper runs a proxy thread that outlives the request. A request that owns its
websocket from open to close, under one timeout, is simpler, safe across threads, and leaks
nothing.
"""

from __future__ import annotations

import http.client
import io
import ssl
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

import certifi
from kubernetes import client
from kubernetes.stream.ws_client import get_websocket_url
from websocket import ABNF, WebSocket, WebSocketException

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR = 0, 1  # channels of the first (only) forwarded port


class PortForwardError(Exception):
    """The port-forward could not be opened, or the pod side reported an error."""


class _BytesSocket:
    """Just enough of a socket for http.client to parse a response held in memory."""

    def __init__(self, data: bytes):
        self._file = io.BytesIO(data)

    def makefile(self, *_args, **_kwargs) -> io.BytesIO:
        return self._file


def _tls_options(cfg: client.Configuration) -> dict[str, Any]:
    """The TLS settings the REST calls to this API server use."""
    if not cfg.verify_ssl:
        options: dict[str, Any] = {"cert_reqs": ssl.CERT_NONE}
    else:
        options = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": cfg.ssl_ca_cert or certifi.where()}
        if cfg.assert_hostname is not None:
            options["check_hostname"] = cfg.assert_hostname
    if cfg.cert_file:
        options["certfile"] = cfg.cert_file
    if cfg.key_file:
        options["keyfile"] = cfg.key_file
    if cfg.tls_server_name:
        options["server_hostname"] = cfg.tls_server_name
    return options


def _proxy_options(cfg: client.Configuration) -> dict[str, Any]:
    """A kubeconfig `proxy-url` as websocket-client's connect options."""
    if not cfg.proxy:
        return {}
    proxy = urlsplit(cfg.proxy)
    options: dict[str, Any] = {"http_proxy_host": proxy.hostname,
                               "http_proxy_port": proxy.port or 80,
                               "proxy_type": proxy.scheme or "http"}
    if proxy.username:
        options["http_proxy_auth"] = (unquote(proxy.username), unquote(proxy.password or ""))
    if cfg.no_proxy:
        options["http_no_proxy"] = [h.strip() for h in cfg.no_proxy.split(",") if h.strip()]
    return options


def _open(api: client.ApiClient, namespace: str, pod: str, port: int, timeout: float):
    _, url, headers, _, _ = api.param_serialize(
        method="GET", resource_path=f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward",
        query_params=[("ports", str(port))], auth_settings=["BearerToken"])
    header = [f"sec-websocket-protocol: {PROTOCOL}"]
    auth = headers.get("authorization") or headers.get("Authorization")
    if auth:
        header.append(f"authorization: {auth}")
    ws = WebSocket(sslopt=_tls_options(api.configuration), skip_utf8_validation=False)
    try:  # the timeout covers connect, TLS, the upgrade and every later read
        ws.connect(get_websocket_url(url), header=header, timeout=timeout,
                   **_proxy_options(api.configuration))
    except (WebSocketException, OSError) as exc:
        ws.shutdown()
        raise PortForwardError(f"cannot open port-forward: {exc or 'timed out'}") from None
    ws.sock = _BufferedReads(ws.sock)
    return ws


class _BufferedReads:
    """The websocket's socket, its reads served from large ones.

    websocket-client asks the socket for exactly what it parses next: two bytes of a frame's
    header, its length, then the payload 16 kB at a time, each a system call. Port-forwarded
    config dumps and syncz bodies are tens of megabytes: on ten clusters that was 40,000
    reads and a fifth of a second of system time (bench/mesh_scale.py, 2,000 pods x 10).
    Everything else (send, timeouts, close) is the socket's own."""

    READ = 256 * 1024

    def __init__(self, sock: Any):
        self._sock, self._buffer, self._at = sock, b"", 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._buffer):
            self._buffer, self._at = self._sock.recv(max(size, self.READ)), 0
        chunk = self._buffer[self._at:self._at + size]
        self._at += len(chunk)
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _exchange(ws, request: bytes) -> tuple[bytearray, bytearray]:
    """Send the request on the data channel; collect data and error channels until close."""
    data, error = bytearray(), bytearray()
    seen_port = {DATA: False, ERROR: False}
    ws.send(bytes([DATA]) + request, opcode=ABNF.OPCODE_BINARY)
    while True:
        try:
            opcode, frame = ws.recv_data()
        except WebSocketException:
            break  # the server closed the stream: the response is complete
        if opcode == ABNF.OPCODE_CLOSE:
            break
        if opcode != ABNF.OPCODE_BINARY or not frame:
            continue
        channel = frame[0]
        skip = 1
        if channel in seen_port and not seen_port[channel]:
            seen_port[channel] = True  # the first frame of a channel carries the port number
            skip = 3
        with memoryview(frame) as view:  # appended without copying the frame first
            (data if channel == DATA else error).extend(view[skip:])
    return data, error


def _response(data: bytearray) -> tuple[int, memoryview]:
    """Status and body of the HTTP response held in `data`, the body as a view into it.

    http.client reads the status line and headers; the body's chunks (if it has several) are
    moved together inside `data`, and the body is handed on as it is, bytes: the JSON decoders
    read bytes, so a body of megabytes is neither copied nor decoded to text first.
    http.client's own read copied it into a bytes object, from a copy of the whole buffer, and
    the text was a third copy: each copy is fresh memory, and those page faults were most of a
    diagnosis' system time."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("the response ends inside its headers")
    head = http.client.HTTPResponse(_BytesSocket(bytes(data[:end + 4])))  # type: ignore[arg-type]
    head.begin()
    ranges = list(_body_ranges(data, end + 4, head))
    view = memoryview(data)
    start = stop = ranges[0][0] if ranges else 0
    for a, b in ranges:
        if a != stop:  # a later chunk moves down over the framing (memmove, in place)
            view[stop:stop + b - a] = view[a:b]
        stop += b - a
    return head.status, view[start:stop]


def text_of(body: bytes | bytearray | memoryview) -> str:
    """A body as text, undecodable bytes replaced (what a message quotes)."""
    return str(body, "utf-8", "replace")


def _body_ranges(data: bytearray, start: int,
                 head: http.client.HTTPResponse) -> Iterator[tuple[int, int]]:
    """Where the body's bytes are in `data`: one range, or one a chunk when it is chunked."""
    if not head.chunked:
        stop = len(data) if head.length is None else start + head.length
        if stop > len(data):
            raise http.client.IncompleteRead(b"", stop - len(data))
        yield start, stop
        return
    while True:
        eol = data.find(b"\r\n", start)
        if eol < 0:
            raise http.client.IncompleteRead(b"")
        size = int(bytes(data[start:eol]).split(b";", 1)[0], 16)  # ValueError if malformed
        start = eol + 2
        if size == 0:
            return  # trailers, if any, are not read
        if start + size > len(data):
            raise http.client.IncompleteRead(b"", start + size - len(data))
        yield start, start + size
        start += size + 2  # the chunk's closing CRLF


def http_get(api: client.ApiClient, namespace: str, pod: str, port: int, path: str,
             timeout: float) -> tuple[int, memoryview]:
    """GET `path` on `pod:port`; returns (HTTP status, body bytes: see text_of)."""
    ws = _open(api, namespace, pod, port, timeout)
    try:
        request = (f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n"
                   "Accept: application/json\r\nConnection: close\r\n\r\n").encode()
        try:
            data, error = _exchange(ws, request)
        except OSError as exc:  # includes socket timeouts
            raise PortForwardError(f"{exc or 'timed out'}") from None
    finally:
        ws.close(timeout=1)
        ws.shutdown()  # close() returns early once the server has closed: free the socket here
    if error and not data:
        raise PortForwardError(error.decode("utf-8", errors="replace").strip())
    try:
        return _response(data)
    except (http.client.HTTPException, ValueError) as exc:
        raise PortForwardError(f"no HTTP response from {pod}:{port} ({exc})") from None
