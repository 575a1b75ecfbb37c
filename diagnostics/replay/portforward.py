"""The pod `portforward` subresource over WebSocket (`v4.channel.k8s.io`).

Wire protocol, as the kubelet speaks it and the kubernetes Python client expects it
(kubernetes/stream/ws_client.py, PortForward): for the i-th requested port, channel 2i carries
data and 2i+1 errors. The server first sends `[channel, port & 0xff, port >> 8]` on each
channel; afterwards every binary frame is `[channel] + payload`. Each port carries one HTTP
exchange with the replayed server behind it (podports.py). Like the kubelet, which ends the
stream once every port's connection has ended, the WebSocket closes when every port is done,
so a client reading one port to EOF gets EOF once the response is written.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from diagnostics.debug_auth import DebugCaller
from diagnostics.replay.httpwire import (
    MalformedRequest,
    TunnelResponse,
    format_response,
    parse_request,
    text,
)
from diagnostics.replay.podports import Handler, port_handler, refused_message
from diagnostics.replay.responses import ApiError, bad_request
from diagnostics.snapshot import ClusterSnapshot

PROTOCOL = "v4.channel.k8s.io"
_CHUNK = 64 * 1024
_MAX_PORTS = 127  # two channels per port, numbered in one byte
log = logging.getLogger("meshbot.replay.portforward")


@dataclass
class _Port:
    """One forwarded port: its channels, the server behind it and the bytes received so far."""

    index: int
    number: int
    handler: Handler | None
    buffer: bytearray = field(default_factory=bytearray)
    done: bool = False

    @property
    def data_channel(self) -> int:
        return 2 * self.index

    @property
    def error_channel(self) -> int:
        return 2 * self.index + 1


def requested_ports(values: list[str]) -> list[int]:
    """`ports=15014,15000` or `ports=15014&ports=15000`; 400 for anything else."""
    ports: list[int] = []
    for value in values:
        for item in value.split(","):
            if not item.strip().isdigit() or not 0 < int(item) < 65536:
                raise bad_request(f"invalid port {item!r}")
            if int(item) in ports:
                raise bad_request(f"duplicate port {item}")
            ports.append(int(item))
    if not ports:
        raise bad_request("at least one port must be specified")
    if len(ports) > _MAX_PORTS:
        raise bad_request(f"at most {_MAX_PORTS} ports can be forwarded at once")
    return ports


async def serve_portforward(request: web.Request, cluster: ClusterSnapshot,
                            pod: dict, caller: DebugCaller | None = None
                            ) -> web.WebSocketResponse:
    """Upgrade to WebSocket and replay the pod's ports until every port has answered."""
    ports = [_Port(i, n, port_handler(cluster, pod, n, caller))
             for i, n in enumerate(requested_ports(request.query.getall("ports", [])))]
    ws = web.WebSocketResponse(protocols=(PROTOCOL,), compress=False)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "BadRequest", "Upgrade request required")
    await ws.prepare(request)
    for port in ports:
        await _announce(ws, port)
    for port in ports:
        if port.handler is None:
            await _send(ws, port.error_channel, refused_message(pod, port.number).encode())
            port.done = True
    if not all(p.done for p in ports):
        await _pump(ws, ports)
    await ws.close()
    return ws


async def _announce(ws: web.WebSocketResponse, port: _Port) -> None:
    header = bytes([port.number & 0xFF, port.number >> 8])
    await ws.send_bytes(bytes([port.data_channel]) + header)
    await ws.send_bytes(bytes([port.error_channel]) + header)


async def _send(ws: web.WebSocketResponse, channel: int, payload: bytes) -> None:
    for start in range(0, len(payload), _CHUNK):
        await ws.send_bytes(bytes([channel]) + payload[start:start + _CHUNK])


async def _pump(ws: web.WebSocketResponse, ports: list[_Port]) -> None:
    """Feed client bytes to each port's server until every port is done or the client leaves."""
    by_channel = {p.data_channel: p for p in ports}
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        port = by_channel.get(msg.data[0])
        if port is None or port.done:
            continue
        port.buffer.extend(msg.data[1:])
        await _maybe_answer(ws, port)
        if all(p.done for p in ports):
            return


async def _maybe_answer(ws: web.WebSocketResponse, port: _Port) -> None:
    """Answer the port's request once it has fully arrived."""
    try:
        req = parse_request(bytes(port.buffer))
    except MalformedRequest as exc:
        await _reply(ws, port, "?", text(400, f"400 Bad Request: {exc}\n"))
        return
    if req is not None and port.handler is not None:
        response = await asyncio.to_thread(port.handler, req)
        await _reply(ws, port, req.target, response, head=req.method == "HEAD")


async def _reply(ws: web.WebSocketResponse, port: _Port, target: str, response: TunnelResponse,
                 head: bool = False) -> None:
    log.debug("port-forward %d: %s -> %d", port.number, target, response.status)
    await _send(ws, port.data_channel, format_response(response, head=head))
    port.done = True
