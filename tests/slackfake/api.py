"""FakeSlackAPI: the Slack Web API on 127.0.0.1 (aiohttp), contract §5 and §10.1.

Routes: `/{method}` (and `/api/{method}`), `/_upload/{file_id}` (files.getUploadURLExternal's
upload_url; keeps the bytes), `/_response/{id}` (response_url webhooks: 5 uses, 30 min) and
`/_files/{id}/{name}` (url_private of files people share, see files.py).
Point a client at it with `AsyncWebClient(token=..., base_url=api.url + "/")`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .blockkit import DEFAULT_TEXT_BUDGET
from .clock import SystemClock
from .content import ApiError
from .faults import Delay, Failure, FaultPlan
from .files import download, sign_in
from .methods import METHOD_SCOPES, Methods, missing_scope
from .ratelimit import TokenBucket
from .responses import deliver
from .server import LocalServer
from .state import Call, Ephemeral, Message, SlackState, UploadedFile
from .waiting import wait_for

APP_TOKEN_METHODS = {"apps.connections.open"}
ANY_TOKEN_METHODS = {"auth.test"}


class FakeSlackAPI:
    """Fake Slack Web API.

    Args:
        state: the workspace (default: SlackState.default(), see its docstring).
        bot_token / app_token: the tokens it accepts (xoxb- for methods, xapp- for
            apps.connections.open); more can be added to `bot_tokens` / `app_tokens`.
        clock: drives the rate limiter and trigger_id/response_url expiry (ManualClock in tests).
        post_rate / post_burst: chat.postMessage limit per channel (tokens per second, bucket size).
        rate_limit_enabled: False turns the 429s off.
        text_budget: cumulative block text above which messages get msg_blocks_too_long.
    """

    def __init__(self, state: SlackState | None = None, *, bot_token: str = "xoxb-meshbot-test",
                 app_token: str | None = "xapp-1-A0MESHAPP-test", clock: Any = None,
                 post_rate: float = 1.0, post_burst: int = 5, rate_limit_enabled: bool = True,
                 text_budget: int = DEFAULT_TEXT_BUDGET) -> None:
        self.clock = clock or (state.clock if state is not None else SystemClock())
        self.state = state or SlackState.default(clock=self.clock)
        self.state.clock = self.clock
        self.bot_tokens = {bot_token}
        self.app_tokens = {app_token} if app_token else set()
        self.limiter = TokenBucket(post_rate, post_burst, clock=self.clock)
        self.faults = FaultPlan()
        self.socket_url_factory: Callable[[], str] | None = None
        self.methods = Methods(self.state, limiter=self.limiter, base_url=lambda: self.url,
                               socket_url=self._socket_url, rate_limit_enabled=rate_limit_enabled,
                               text_budget=text_budget)
        app = web.Application()
        app.router.add_route("*", "/_upload/{file_id}", self._upload)
        app.router.add_route("*", "/_response/{rid}", self._response)
        app.router.add_route("GET", "/_files/{file_id}/{name}", self._download)
        app.router.add_route("GET", "/_signin", sign_in)
        app.router.add_route("*", "/api/{method}", self._dispatch)
        app.router.add_route("*", "/{method}", self._dispatch)
        self._server = LocalServer(app)
        self._closing = asyncio.Event()

    # ---- lifecycle

    async def start(self) -> "FakeSlackAPI":
        await self._server.start()
        return self

    async def close(self) -> None:
        self._closing.set()  # cut injected delays short so shutdown does not wait for them
        await self._server.close()

    async def __aenter__(self) -> "FakeSlackAPI":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port> — pass `url + "/"` as AsyncWebClient(base_url=...)."""
        return self._server.url

    @property
    def rate_limit_enabled(self) -> bool:
        return self.methods.rate_limit_enabled

    @rate_limit_enabled.setter
    def rate_limit_enabled(self, value: bool) -> None:
        self.methods.rate_limit_enabled = value

    def _socket_url(self) -> str | None:
        return self.socket_url_factory() if self.socket_url_factory else None

    # ---- fault injection

    def fail(self, method: str, error: str = "internal_error", *, status: int = 200,
             times: int | None = 1, retry_after: int | None = None, **extra: Any) -> None:
        """The next `times` calls of `method` (None: all until clear_faults) answer
        HTTP `status` with {"ok": false, "error": error, **extra}. Methods include "_upload"
        and "_response"."""
        self.faults.add_failure(method, Failure(error=error, status=status, times=times,
                                                retry_after=retry_after, extra=extra))

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls of `method` get 429 + Retry-After + ratelimited."""
        self.fail(method, "ratelimited", status=429, times=times, retry_after=retry_after)

    def delay(self, method: str, seconds: float, *, times: int | None = None) -> None:
        """Answer `method` `seconds` late (for `times` calls; None: until clear_faults)."""
        self.faults.add_delay(method, Delay(seconds=seconds, times=times))

    def clear_faults(self, method: str | None = None) -> None:
        self.faults.clear(method)

    # ---- response_url / ack display (used by the inbound fakes)

    def issue_response_url(self, *, channel: str, user: str, kind: str = "command",
                           original: tuple[str, str, bool] | None = None,
                           thread_ts: str | None = None) -> str:
        r = self.state.issue_response_url(channel=channel, user=user, kind=kind,
                                          original=original, thread_ts=thread_ts)
        return f"{self.url}/_response/{r.id}"

    def show_ack(self, response_url: str | None, body: Any) -> None:
        """Show a slash-command ack body as Slack would (JSON message or plain text)."""
        r = self._response_record(response_url)
        if r is None or body in (None, "", {}):
            return
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                body = {"text": body}
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            deliver(self.methods, r, body, source="ack", count_use=False)

    def _response_record(self, response_url: str | None) -> Any:
        if not response_url or "/_response/" not in response_url:
            return None
        return self.state.response_urls.get(response_url.rsplit("/", 1)[-1])

    # ---- query helpers for assertions

    def messages(self, channel: str | None = None, *, include_replies: bool = False) -> list[Message]:
        return self.state.messages(channel, include_replies=include_replies)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.state.thread(channel, ts)

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        return self.state.ephemerals(channel, user)

    def calls(self, method: str | None = None) -> list[Call]:
        return self.state.calls(method)

    def files(self) -> list[UploadedFile]:
        return self.state.files()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0,
                       message: str | None = None) -> Any:
        return await wait_for(predicate, timeout=timeout, message=message)

    # ---- HTTP

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                raw = await request.read()
                if raw.strip():
                    try:
                        data = json.loads(raw)
                    except ValueError:
                        raise ApiError("invalid_json") from None
                    if not isinstance(data, dict):
                        raise ApiError("invalid_json")
                    args.update(data)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        return args

    def _authorize(self, method: str, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        if token not in self.bot_tokens | self.app_tokens:
            raise ApiError("invalid_auth")
        if method in ANY_TOKEN_METHODS:
            return
        is_app = token in self.app_tokens
        if is_app != (method in APP_TOKEN_METHODS):
            raise ApiError("not_allowed_token_type")
        needed = METHOD_SCOPES.get(method)
        if needed and needed not in self.state.scopes:
            raise missing_scope(needed, self.state.scopes)

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = {}
        token: str | None = None
        headers: dict[str, str] = {}
        try:
            args = await self._read_args(request)
            auth = request.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.startswith("Bearer ") else None
            body_token = args.pop("token", None)
            token = token or body_token
            await self._apply_delay(method)
            failure = self.faults.take_failure(method)
            if failure is not None:
                status, body, headers = failure.response()
            else:
                handler = self.methods.table.get(method)
                if handler is None:
                    raise ApiError("unknown_method")
                self._authorize(method, token)
                status, body = 200, handler(args)
        except ApiError as e:
            status, body, headers = e.status, e.body(), e.headers
        self.state.record(Call(method=method, args=args, token=token, status=status,
                               http_method=request.method, response=body))
        resp = web.json_response(body, status=status, headers=headers)
        if method == "auth.test" and body.get("ok"):
            resp.headers["x-oauth-scopes"] = ",".join(sorted(self.state.scopes))
        return resp

    async def _apply_delay(self, method: str) -> None:
        seconds = self.faults.take_delay(method)
        if seconds > 0:
            try:
                await asyncio.wait_for(self._closing.wait(), timeout=seconds)
            except asyncio.TimeoutError:
                pass

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        await self._apply_delay("_upload")
        failure = self.faults.take_failure("_upload")
        f = self.state.file(file_id)
        if failure is not None:
            status, text = failure.status, failure.error
        elif f is None or request.method != "POST":
            status, text = 404, "not_found"
        else:
            f.content = data
            status, text = 200, f"OK - {len(data)}"
        self.state.record(Call(method="_upload", args={"file_id": file_id, "bytes": len(data)},
                               token=None, status=status, http_method=request.method,
                               response={"ok": status == 200, "body": text}))
        return web.Response(status=status, text=text, content_type="text/plain")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        return await download(self, request)

    async def _response(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = None
        await self._apply_delay("_response")
        failure = self.faults.take_failure("_response")
        r = self.state.response_urls.get(rid)
        if failure is not None:
            status, result, headers = failure.response()
        elif request.method != "POST" or not isinstance(body, dict):
            status, result, headers = 400, {"ok": False, "error": "invalid_payload"}, {}
        elif r is None:
            status, result, headers = 404, {"ok": False, "error": "invalid_url"}, {}
        else:
            (status, result), headers = deliver(self.methods, r, body), {}
        self.state.record(Call(method="_response", args={"id": rid, **(body or {})}, token=None,
                               status=status, http_method=request.method, response=result))
        return web.json_response(result, status=status, headers=headers)
