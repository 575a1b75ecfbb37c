"""Keeping `meshbot serve`'s HTTP server answering when clients are slow, idle or too many.

aiohttp on its own waits about an hour for a request head and forever for a body, and accepts
connections without limit, so a few hundred half-sent requests hold sockets indefinitely. Here:
- a connection that has not sent a complete request head within `idle_seconds` of connecting,
  or of its previous answer, is closed (aiohttp's keep-alive timer, which covers both);
- a request body must arrive within `body_seconds` (else 408 and the connection closes);
- at most `max_connections` are open; at the cap a new connection evicts the oldest one that is
  not in the middle of a request (a slow or idle client), and only when every connection is busy
  is the newcomer refused with 503, so Slack and health checks keep getting through.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot import logs

log = logs.get("meshbot.http")
_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain"
            b"\r\nContent-Length: 36\r\n\r\ntoo many connections; try again soon")


@dataclass(frozen=True)
class HttpLimits:
    idle_seconds: float = 10.0  # to send a request head, after connecting or an answer
    body_seconds: float = 15.0  # to send a request body once its head arrived
    max_connections: int = 1000
    lingering_seconds: float = 1.0  # reading the rest of an unread body before closing

    def runner_kwargs(self) -> dict[str, float]:
        """What aiohttp's own request handler enforces (see the module docstring)."""
        return {"keepalive_timeout": self.idle_seconds, "lingering_time": self.lingering_seconds}


def body_timeout(limits: HttpLimits) -> Callable:
    """Middleware: the body is read (and cached by aiohttp for the handler) within the limit,
    except for a handler marked `streams_body`, which reads it itself under the same limit."""

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        streams = getattr(request.match_info.handler, "streams_body", False)
        if request.body_exists and not streams:
            try:
                async with asyncio.timeout(limits.body_seconds):
                    await request.read()
            except TimeoutError:
                return body_too_slow(limits)
        return await handler(request)

    return middleware


def body_too_slow(limits: HttpLimits, status: int = 408) -> web.Response:
    response = web.json_response({"error": f"the request body did not arrive within "
                                           f"{limits.body_seconds:g} s"}, status=status)
    response.force_close()
    return response


class _Refuse(asyncio.Protocol):
    """A connection over the cap: told so in one response and closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSED)
        transport.close()


def _evictable(handler: object) -> bool:
    """Open and not in the middle of a request: waiting for a request head (slow or idle).
    aiohttp's RequestHandler marks the time from a complete head to the end of its answer;
    tests/test_http_guard.py fails if a new aiohttp stops doing so."""
    return getattr(handler, "transport", None) is not None and \
        not getattr(handler, "_request_in_progress", False)


class ConnectionCap:
    """The protocol factory given to the listening socket, in place of aiohttp's Server."""

    def __init__(self, server: web.Server, limit: int):
        self.server, self.limit = server, limit
        self.evicted = self.refused = 0
        self._refusals = logs.Throttled(log)

    def __call__(self) -> asyncio.Protocol:
        connections = self.server.connections  # oldest first
        if len(connections) >= self.limit:
            idle = next((c for c in connections if _evictable(c)), None)
            if idle is None:
                self.refused += 1
                self._refusals.warning("http_connection_refused", open=len(connections),
                                       cap=self.limit)
                return _Refuse()
            idle.force_close()
            self.evicted += 1
        return self.server()


class GuardedSite(web.TCPSite):
    """TCPSite whose connections pass through a ConnectionCap."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, limits: HttpLimits):
        super().__init__(runner, host, port)
        self.limits = limits
        self.cap: ConnectionCap | None = None

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self.cap = ConnectionCap(server, self.limits.max_connections)
        self._server = await asyncio.get_running_loop().create_server(
            self.cap, self._host, self._port, backlog=self._backlog)
        self._bound_port = self._server.sockets[0].getsockname()[1]


class _ClientFaults(logging.Filter):
    """aiohttp logs every malformed request (a client's fault, which anyone can send) as an error
    with a traceback. Those become one line, at most once a minute, saying how many there were;
    the server's own errors pass untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.throttle = logs.Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        held = self.throttle.allow()
        if held is None:
            return False
        record.msg = "malformed HTTP request refused (%s %r); %d more since the last such line"
        record.args = (exc.code, str(exc.message)[:200], held)
        record.exc_info, record.exc_text, record.levelno, record.levelname = \
            None, None, logging.WARNING, "WARNING"
        return True


def quiet_client_faults() -> None:
    """Install the filter on aiohttp's server logger, once."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _ClientFaults) for f in logger.filters):
        logger.addFilter(_ClientFaults())
