"""One entry point for tests:

    async with slack_harness() as slack:
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api.url + "/")
        async with slack.serve(bolt_app.web_app(path="/slack/events")) as base_url:
            resp = await slack.client(base_url).slash_command("check svc/foo")
        async with slack.socket_mode(bolt_app):            # AsyncSocketModeHandler
            eid = await slack.socket.send_slash_command("check svc/foo")
            await slack.socket.wait_for_ack(eid)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from .api import FakeSlackAPI
from .inbound import SignedClient
from .server import serve as _serve
from .socket_mode import FakeSocketMode
from .state import SlackState
from .waiting import wait_for

DEFAULT_SIGNING_SECRET = "test-signing-secret"
DEFAULT_BOT_TOKEN = "xoxb-meshbot-test"
DEFAULT_APP_TOKEN = "xapp-1-A0MESHAPP-test"


class SlackHarness:
    """`.api` FakeSlackAPI, `.socket` FakeSocketMode, `.client(base_url)` SignedClient,
    `.state` the workspace, `.clock` the injectable clock."""

    def __init__(self, api: FakeSlackAPI, socket: FakeSocketMode, *, signing_secret: str,
                 bot_token: str, app_token: str) -> None:
        self.api = api
        self.socket = socket
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self._clients: list[SignedClient] = []

    @property
    def state(self) -> SlackState:
        return self.api.state

    @property
    def clock(self) -> Any:
        return self.api.clock

    @property
    def api_base_url(self) -> str:
        """What to pass as AsyncWebClient(base_url=...) / SLACK_API_URL (trailing slash)."""
        return self.api.url + "/"

    def env(self, *, socket_mode: bool = False) -> dict[str, str]:
        """Environment for the bot (DESIGN C5): tokens, signing secret, SLACK_API_URL."""
        env = {"SLACK_BOT_TOKEN": self.bot_token, "SLACK_SIGNING_SECRET": self.signing_secret,
               "SLACK_API_URL": self.api_base_url}
        if socket_mode:
            env["SLACK_APP_TOKEN"] = self.app_token
        return env

    def web_client(self, **kwargs: Any) -> Any:
        """An AsyncWebClient on the fake with the bot token (kwargs go to the constructor)."""
        from slack_sdk.web.async_client import AsyncWebClient

        kwargs.setdefault("token", self.bot_token)
        return AsyncWebClient(base_url=self.api_base_url, **kwargs)

    def client(self, base_url: str, *, path: str = "/slack/events",
               signing_secret: str | None = None) -> SignedClient:
        """A SignedClient posting to `<base_url><path>`; closed when the harness exits."""
        c = SignedClient(base_url, signing_secret or self.signing_secret, api=self.api, path=path)
        self._clients.append(c)
        return c

    def serve(self, app: web.Application) -> Any:
        """`async with slack.serve(web_app) as base_url:` — a real TCP server on 127.0.0.1."""
        return _serve(app)

    @asynccontextmanager
    async def socket_mode(self, bolt_app: Any, **handler_kwargs: Any) -> AsyncIterator[Any]:
        """Run a bolt AsyncApp over Socket Mode against the fakes: AsyncSocketModeHandler with
        the app token; apps.connections.open goes to the fake API (through the app's client)."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(bolt_app, self.app_token, **handler_kwargs)
        before = self.socket.total_connections
        try:
            await handler.connect_async()
            await self.socket.wait_for_connections(before + 1)
            yield handler
        finally:
            await handler.close_async()
            await wait_for(lambda: self.socket.open_count == 0, timeout=5.0,
                           message="the Socket Mode client to disconnect")
            await asyncio.sleep(0)

    async def wait_for(self, predicate: Any, timeout: float = 5.0, message: str | None = None) -> Any:
        return await wait_for(predicate, timeout=timeout, message=message)

    async def aclose(self) -> None:
        for c in self._clients:
            await c.close()


@asynccontextmanager
async def slack_harness(*, signing_secret: str = DEFAULT_SIGNING_SECRET,
                        bot_token: str = DEFAULT_BOT_TOKEN, app_token: str = DEFAULT_APP_TOKEN,
                        state: SlackState | None = None, clock: Any = None,
                        scopes: set[str] | None = None, post_rate: float = 1.0,
                        post_burst: int = 5, rate_limit_enabled: bool = True,
                        socket_ack_timeout: float = 3.0, socket_max_retries: int = 3,
                        socket_retry_reason: str = "timeout") -> AsyncIterator[SlackHarness]:
    """Start FakeSlackAPI + FakeSocketMode on ephemeral ports; stop everything on exit."""
    if state is None:
        state = SlackState.default(clock=clock) if clock is not None else SlackState.default()
    if scopes is not None:
        state.scopes = set(scopes)
    api = FakeSlackAPI(state, bot_token=bot_token, app_token=app_token, clock=clock,
                       post_rate=post_rate, post_burst=post_burst,
                       rate_limit_enabled=rate_limit_enabled)
    socket = FakeSocketMode(api, ack_timeout=socket_ack_timeout, max_retries=socket_max_retries,
                            retry_reason=socket_retry_reason)
    await api.start()
    try:
        await socket.start()
        harness = SlackHarness(api, socket, signing_secret=signing_secret, bot_token=bot_token,
                               app_token=app_token)
        try:
            yield harness
        finally:
            await harness.aclose()
            await socket.close()
    finally:
        await api.close()
