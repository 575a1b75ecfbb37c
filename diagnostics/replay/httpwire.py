"""The HTTP/1.x exchange carried inside a port-forward stream.

A port-forward delivers raw TCP bytes; the replayed pod port behaves like the HTTP server behind
it (istiod's monitoring port, Envoy's admin port), answering one request per connection with
`Connection: close`, so a client that reads to EOF gets exactly one response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

MAX_REQUEST_BYTES = 1 << 20


class MalformedRequest(ValueError):
    """Bytes that are not an HTTP/1.x request; answered with 400 as Go's net/http does."""


@dataclass(frozen=True)
class TunnelRequest:
    method: str
    target: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """First value of a query parameter ("" when present without a value), None if absent."""
        values = self.query.get(name)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return name in self.query


@dataclass(frozen=True)
class TunnelResponse:
    status: int
    body: bytes
    content_type: str = "application/json"


def parse_request(buffer: bytes) -> TunnelRequest | None:
    """Parse one request from the bytes received so far; None while it is incomplete."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        if len(buffer) > MAX_REQUEST_BYTES:
            raise MalformedRequest("request header too large")
        return None
    lines = buffer[:head_end].decode("latin-1").split("\r\n")
    method, target = _request_line(lines[0])
    headers = _headers(lines[1:])
    body = buffer[head_end + 4:]
    length = _content_length(headers)
    if len(body) < length:
        return None
    split = urlsplit(target)
    return TunnelRequest(method, target, split.path or "/",
                         parse_qs(split.query, keep_blank_values=True), headers, body[:length])


def _request_line(line: str) -> tuple[str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise MalformedRequest(f"malformed request line {line[:80]!r}")
    return parts[0].upper(), parts[1]


def _headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise MalformedRequest(f"malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def _content_length(headers: dict[str, str]) -> int:
    raw = headers.get("content-length", "0")
    if not raw.isdigit():
        raise MalformedRequest(f"bad Content-Length {raw!r}")
    return int(raw)


def format_response(response: TunnelResponse, *, head: bool = False) -> bytes:
    """Serialize an HTTP/1.1 response that closes the connection after itself."""
    reason = HTTPStatus(response.status).phrase
    head_lines = [f"HTTP/1.1 {response.status} {reason}",
                  f"Content-Type: {response.content_type}",
                  f"Content-Length: {len(response.body)}",
                  "Connection: close", "", ""]
    return "\r\n".join(head_lines).encode("latin-1") + (b"" if head else response.body)


def text(status: int, message: str) -> TunnelResponse:
    """A plain-text answer, as Go's http.Error writes one."""
    return TunnelResponse(status, message.encode(), "text/plain; charset=utf-8")
