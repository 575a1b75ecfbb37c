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
from typing import Any
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
    return ws


def _exchange(ws, request: bytes) -> tuple[bytes, bytes]:
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
        channel, payload = frame[0], frame[1:]
        if channel in seen_port and not seen_port[channel]:
            seen_port[channel] = True  # the first frame of a channel carries the port number
            payload = payload[2:]
        (data if channel == DATA else error).extend(payload)
    return bytes(data), bytes(error)


def http_get(api: client.ApiClient, namespace: str, pod: str, port: int, path: str,
             timeout: float) -> tuple[int, bytes]:
    """GET `path` on `pod:port`; returns (HTTP status, body)."""
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
    response = http.client.HTTPResponse(_BytesSocket(data))  # type: ignore[arg-type]
    try:
        response.begin()
        return response.status, response.read()
    except (http.client.HTTPException, ValueError) as exc:
        raise PortForwardError(f"no HTTP response from {pod}:{port} ({exc})") from None
