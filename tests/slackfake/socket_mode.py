"""FakeSocketMode: Slack's Socket Mode server (contract §3) on 127.0.0.1.

`apps.connections.open` on the FakeSlackAPI hands out `ws://127.0.0.1:<port>/link/?ticket=...`
(a fresh single-use URL per call). On connect the server sends `hello`; it pushes envelopes
(`events_api`, `slash_commands`, `interactive`), records acks by envelope_id with their latency
and payload, re-delivers unacked events after `ack_timeout` with retry_attempt+1 (a new envelope_id,
same payload and event_id), sends `disconnect` messages, drops connections, and counts clients.
`refuse_connections()` makes the URLs it hands out point at a port that refuses connections (the
Socket Mode endpoint unreachable) until `accept_connections()`, or for a number of URLs.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from .payloads import WorkspacePayloads, envelope
from .server import LocalServer
from .waiting import wait_for

if TYPE_CHECKING:
    from .api import FakeSlackAPI

ACK_DEADLINE = 3.0
DISCONNECT_REASONS = ("refresh_requested", "warning", "too_many_websockets", "link_disabled")


@dataclass
class Connection:
    id: int
    ticket: str | None
    ws: web.WebSocketResponse
    connected_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    received: list[str] = field(default_factory=list)  # raw text frames from the client
    transport: Any = None

    @property
    def open(self) -> bool:
        return self.closed_at is None and not self.ws.closed


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    latency_ms: float
    connection_id: int
    raw: str


@dataclass
class Delivery:
    """One envelope sent to one connection (a retry is a new Delivery)."""

    envelope: dict[str, Any]
    connection_id: int
    sent_at: float
    first_envelope_id: str  # the original delivery's envelope_id (itself for first deliveries)
    ack: Ack | None = None

    @property
    def envelope_id(self) -> str:
        return self.envelope["envelope_id"]

    @property
    def type(self) -> str:
        return self.envelope["type"]

    @property
    def retry_attempt(self) -> int | None:
        return self.envelope.get("retry_attempt")

    @property
    def timed_out(self) -> bool:
        """No ack within Slack's 3 s (the user would see an error; events are retried)."""
        if self.ack is not None:
            return self.ack.latency_ms > ACK_DEADLINE * 1000
        return time.monotonic() - self.sent_at > ACK_DEADLINE


class FakeSocketMode:
    """Args: api (FakeSlackAPI: apps.connections.open then returns this server's URLs, and
    payloads use its workspace); ack_timeout before an unacked event is re-delivered;
    max_retries (Slack: 3); retry_reason put on re-deliveries; max_connections (Slack: 10; the
    one above gets `disconnect` too_many_websockets); require_ticket (reject reused or unknown
    URLs, as Slack's single-use tickets); send_timeout to wait for a client before pushing."""

    def __init__(self, api: "FakeSlackAPI | None" = None, *, app_id: str | None = None,
                 ack_timeout: float = ACK_DEADLINE, max_retries: int = 3,
                 retry_reason: str = "timeout", max_connections: int = 10,
                 approximate_connection_time: int = 18060, require_ticket: bool = True,
                 send_timeout: float = 5.0) -> None:
        self.api = api
        self.payloads = WorkspacePayloads(api)
        self.app_id = app_id or self.payloads.state.app_id
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.retry_reason = retry_reason
        self.max_connections = max_connections
        self.approximate_connection_time = approximate_connection_time
        self.require_ticket = require_ticket
        self.send_timeout = send_timeout
        self.connections: list[Connection] = []
        self.deliveries: list[Delivery] = []
        self.acks: dict[str, Ack] = {}
        self.rejected_handshakes = 0
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self._by_id: dict[str, Delivery] = {}
        self._ids = count(1)
        self._rr = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refusing: int | None = 0  # URLs still to hand out unreachable (None: all)
        self.refused_urls = 0  # URLs handed out that refused connections
        self._dead: socket.socket | None = None
        app = web.Application()
        app.router.add_get("/link", self._link)
        app.router.add_get("/link/", self._link)
        self._server = LocalServer(app)

    # ---- lifecycle

    async def start(self) -> "FakeSocketMode":
        await self._server.start()
        if self.api is not None:
            self.api.socket_url_factory = self.issue_url
        return self

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        await self._server.close()
        if self._dead is not None:
            self._dead.close()
            self._dead = None

    async def __aenter__(self) -> "FakeSocketMode":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def refuse_connections(self, times: int | None = None) -> None:
        """The next `times` URLs handed out (None: every one until accept_connections) point at
        a port that refuses connections, as when Slack's Socket Mode endpoint is unreachable."""
        self._refusing = times

    def accept_connections(self) -> None:
        """URLs handed out from now on reach this server again."""
        self._refusing = 0

    def _refused_url(self) -> str:
        if self._dead is None:
            # Bound but not listening: connecting gets "connection refused", and no other server
            # can take the port while this socket holds it.
            self._dead = socket.socket()
            self._dead.bind(("127.0.0.1", 0))
        port = self._dead.getsockname()[1]
        self.refused_urls += 1
        return f"ws://127.0.0.1:{port}/link/?ticket={secrets.token_hex(8)}&app_id={self.app_id}"

    def issue_url(self) -> str:
        """A fresh single-use WebSocket URL (what apps.connections.open returns)."""
        if self._refusing is None or self._refusing > 0:
            if self._refusing is not None:
                self._refusing -= 1
            return self._refused_url()
        ticket = secrets.token_hex(8)
        self._tickets[ticket] = False
        host = self._server.url.removeprefix("http://")
        return f"ws://{host}/link/?ticket={ticket}&app_id={self.app_id}"

    # ---- connections

    @property
    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if c.open]

    @property
    def open_count(self) -> int:
        return len(self.open_connections)

    @property
    def total_connections(self) -> int:
        return len(self.connections)

    async def wait_for_connections(self, n: int, timeout: float = 5.0) -> list[Connection]:
        """Wait until `n` connections have been accepted in total (reconnections count) and
        one is open; returns all connections so far."""
        await wait_for(lambda: self.total_connections >= n and self.open_count > 0, timeout=timeout,
                       message=f"{n} Socket Mode connection(s) (have {self.total_connections})")
        return list(self.connections)

    async def wait_for_open(self, n: int, timeout: float = 5.0) -> None:
        """Wait until exactly `n` connections are open."""
        await wait_for(lambda: self.open_count == n, timeout=timeout,
                       message=f"{n} open Socket Mode connection(s) (have {self.open_count})")

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket")
        if self.require_ticket and (ticket is None or self._tickets.get(ticket, True)):
            self.rejected_handshakes += 1
            return web.Response(status=401, text="invalid or used ticket")
        if ticket is not None:
            self._tickets[ticket] = True
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(id=next(self._ids), ticket=ticket, ws=ws, transport=request.transport)
        self.connections.append(conn)
        try:
            await ws.send_json(self._hello())
            if self.open_count > self.max_connections:
                await self._send_disconnect(conn, "too_many_websockets")
                await ws.close()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received.append(msg.data)
                    self._on_text(conn, msg.data)
        finally:
            conn.closed_at = time.monotonic()
        return ws

    def _hello(self) -> dict[str, Any]:
        return {"type": "hello", "num_connections": self.open_count,
                "debug_info": {"host": "applink-fake-1", "build_number": 1,
                               "approximate_connection_time": self.approximate_connection_time},
                "connection_info": {"app_id": self.app_id}}

    def _on_text(self, conn: Connection, data: str) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            return
        eid = msg.get("envelope_id") if isinstance(msg, dict) else None
        if not eid or eid in self.acks:
            return
        delivery = self._by_id.get(eid)
        latency = (time.monotonic() - delivery.sent_at) * 1000 if delivery else 0.0
        ack = Ack(envelope_id=eid, payload=msg.get("payload"), latency_ms=latency,
                  connection_id=conn.id, raw=data)
        self.acks[eid] = ack
        if delivery is not None:
            delivery.ack = ack
            if delivery.type == "slash_commands" and ack.payload and self.api is not None:
                self.api.show_ack(delivery.envelope["payload"].get("response_url"), ack.payload)

    # ---- server -> client messages

    async def _pick(self) -> Connection:
        await wait_for(lambda: self.open_count > 0, timeout=self.send_timeout,
                       message="an open Socket Mode connection")
        conns = self.open_connections
        self._rr += 1
        return conns[self._rr % len(conns)]

    async def _deliver(self, env: dict[str, Any], first_id: str | None = None) -> Delivery:
        conn = await self._pick()
        delivery = Delivery(envelope=env, connection_id=conn.id, sent_at=time.monotonic(),
                            first_envelope_id=first_id or env["envelope_id"])
        self.deliveries.append(delivery)
        self._by_id[delivery.envelope_id] = delivery
        await conn.ws.send_str(json.dumps(env))
        if env["type"] == "events_api":
            self._spawn(self._redeliver_if_unacked(delivery))
        return delivery

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _redeliver_if_unacked(self, delivery: Delivery) -> None:
        await asyncio.sleep(self.ack_timeout)
        attempt = delivery.retry_attempt or 0
        if delivery.ack is not None or attempt >= self.max_retries:
            return
        env = envelope("events_api", delivery.envelope["payload"], retry_attempt=attempt + 1,
                       retry_reason=self.retry_reason)
        await self._deliver(env, first_id=delivery.first_envelope_id)

    async def send_envelope(self, type_: str, payload: dict[str, Any], *,
                            accepts_response_payload: bool | None = None) -> str:
        """Push any envelope; returns its envelope_id."""
        env = envelope(type_, payload, accepts_response_payload=accepts_response_payload)
        return (await self._deliver(env)).envelope_id

    async def send_event(self, event: dict[str, Any], *, event_id: str | None = None) -> str:
        """An `events_api` envelope. `event` is an inner event, or a full event_callback."""
        callback = event if event.get("type") == "event_callback" else self.payloads.event(
            event, event_id=event_id)
        return await self.send_envelope("events_api", callback)

    async def send_app_mention(self, text: str = "", *, user: str = "U0ALICE",
                               channel: str = "C0GENERAL", thread_ts: str | None = None) -> str:
        return await self.send_event(self.payloads.app_mention(text, user=user, channel=channel,
                                                               thread_ts=thread_ts))

    async def send_slash_command(self, text: str = "", *, command: str = "/mesh",
                                 user: str = "U0ALICE", channel: str = "C0GENERAL") -> str:
        fields = self.payloads.slash_command(text, command=command, user=user, channel=channel)
        return await self.send_envelope("slash_commands", fields)

    async def send_interaction(self, payload: dict[str, Any]) -> str:
        return await self.send_envelope("interactive", payload)

    async def click(self, *, channel: str, message_ts: str, action_id: str, user: str = "U0ALICE",
                    selected_value: str | None = None, ephemeral: bool = False) -> str:
        """`user` clicks `action_id` in a stored message: an `interactive` block_actions envelope."""
        return await self.send_interaction(self.payloads.block_actions(
            channel=channel, message_ts=message_ts, action_id=action_id, user=user,
            selected_value=selected_value, ephemeral=ephemeral))

    async def _send_disconnect(self, conn: Connection, reason: str) -> None:
        await conn.ws.send_json({"type": "disconnect", "reason": reason,
                                 "num_connections": self.open_count,
                                 "debug_info": {"host": "applink-fake-1"},
                                 "connection_info": {"app_id": self.app_id}})

    async def disconnect(self, reason: str = "refresh_requested", *,
                         connection: Connection | None = None) -> None:
        """Send a `disconnect` message to one connection (default: every open one)."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"unknown disconnect reason {reason!r}")
        for conn in [connection] if connection else self.open_connections:
            await self._send_disconnect(conn, reason)

    async def drop(self, connection: Connection | None = None, *, graceful: bool = False) -> None:
        """Kill connections: graceful sends a close frame (1001), otherwise the TCP connection
        is cut without one (what a network failure looks like)."""
        for conn in [connection] if connection else self.open_connections:
            if graceful:
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"going away")
            else:
                if conn.transport is not None:
                    conn.transport.abort()

    # ---- queries

    def delivery(self, envelope_id: str) -> Delivery | None:
        return self._by_id.get(envelope_id)

    def chain(self, envelope_id: str) -> list[Delivery]:
        """The delivery and its re-deliveries, in order."""
        first = self._by_id[envelope_id].first_envelope_id if envelope_id in self._by_id else envelope_id
        return [d for d in self.deliveries if d.first_envelope_id == first]

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0, *,
                           include_retries: bool = True) -> Ack:
        """The ack of this envelope (or, with include_retries, of any of its re-deliveries)."""
        def acked() -> Ack | None:
            if not include_retries:
                return self.acks.get(envelope_id)
            return next((d.ack for d in self.chain(envelope_id) if d.ack is not None), None)
        return await wait_for(acked, timeout=timeout, message=f"ack of envelope {envelope_id}")

    async def wait_for_delivery(self, envelope_id: str, *, retry_attempt: int,
                                timeout: float = 5.0) -> Delivery:
        """Wait for the re-delivery number `retry_attempt` of an event envelope."""
        return await wait_for(
            lambda: next((d for d in self.chain(envelope_id) if d.retry_attempt == retry_attempt), None),
            timeout=timeout, message=f"retry {retry_attempt} of envelope {envelope_id}")
