"""One HTTP request to a pod port through the API server's port-forward subresource.

Built on the kubernetes client's own websocket factory (so TLS, client certificates and bearer
tokens come from the same Configuration as every other call) but speaking the
`v4.channel.k8s.io` protocol itself. The client's PortForward helper runs a proxy thread that
outlives the request and patches the shared ApiClient while connecting; a request that owns its
websocket from open to close is simpler, safe across threads, and leaks nothing.
"""

from __future__ import annotations

import http.client
import io

from kubernetes import client
from kubernetes.stream.ws_client import create_websocket, get_websocket_url
from websocket import ABNF, WebSocketException

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


def _open(api: client.ApiClient, namespace: str, pod: str, port: int, timeout: float):
    _, url, headers, _, _ = api.param_serialize(
        method="GET", resource_path=f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward",
        query_params=[("ports", str(port))], auth_settings=["BearerToken"])
    ws_headers = {"sec-websocket-protocol": PROTOCOL}
    auth = headers.get("authorization") or headers.get("Authorization")
    if auth:
        ws_headers["authorization"] = auth
    try:
        ws = create_websocket(api.configuration, get_websocket_url(url), ws_headers)
    except (WebSocketException, OSError) as exc:
        raise PortForwardError(f"cannot open port-forward: {exc}") from None
    ws.settimeout(timeout)
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
