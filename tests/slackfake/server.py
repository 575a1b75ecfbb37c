"""Serve an aiohttp Application on 127.0.0.1 with an ephemeral port, and stop it cleanly."""

from __future__ import annotations

from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

from aiohttp import web


class LocalServer:
    """One aiohttp Application listening on 127.0.0.1:<ephemeral port>."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> "LocalServer":
        self._runner = web.AppRunner(self.app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port> (no trailing slash)."""
        return f"http://{self.host}:{self._port}"

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """`async with serve(web_app) as base_url:` — e.g. a bolt `app.web_app()` or the bot's app."""
    server = await LocalServer(app).start()
    try:
        yield server.url
    finally:
        await server.close()
