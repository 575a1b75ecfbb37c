"""Files people share, as the fake Slack keeps them: `files.info` and `url_private`.

A person shares a file with a message (`share`): the fake stores the file, posts the human
message that carries it, and builds the event an app receives for it: an `app_mention` with
`files` in a channel, or a `message` of subtype `file_share` in a DM (`message.im`). Events
carry the file's id and name only; `files.info` (scope `files:read`) describes it in full
(api.slack.com/methods/files.info: `name`, `size`, `mimetype`, `url_private`,
`url_private_download`, `shares`...). The download at `url_private` (`/_files/<id>/<name>`
here) needs the bot token as a bearer token; without it Slack answers with a redirect to its
sign-in page, which is what a download without `files:read` gets too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .content import ApiError
from .payloads import app_mention_event, message_event
from .state import Call

if TYPE_CHECKING:
    from .api import FakeSlackAPI
    from .state import SlackState

SIGN_IN = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"


@dataclass
class SharedFile:
    """A file a person shared; `url` overrides where files.info says it lives."""

    id: str
    name: str
    content: bytes
    user: str
    channel: str
    ts: str = ""
    mimetype: str = "application/x-gzip"
    filetype: str = "gzip"
    url: str | None = None
    size: int | None = None  # what files.info claims (default: the content's length)

    def to_dict(self, base_url: str, team: str) -> dict[str, Any]:
        url = self.url or f"{base_url}/_files/{self.id}/{self.name}"
        return {"id": self.id, "created": int(float(self.ts or 0)), "timestamp":
                int(float(self.ts or 0)), "name": self.name, "title": self.name,
                "mimetype": self.mimetype, "filetype": self.filetype, "pretty_type": "GZip",
                "user": self.user, "user_team": team, "editable": False,
                "size": len(self.content) if self.size is None else self.size,
                "mode": "hosted", "is_external": False, "external_type": "",
                "is_public": not self.channel.startswith("D"), "public_url_shared": False,
                "url_private": url, "url_private_download": f"{url}?download=1" if not self.url
                else url, "permalink": f"https://meshbot.slack.com/files/{self.user}/{self.id}",
                "channels": [] if self.channel.startswith("D") else [self.channel],
                "ims": [self.channel] if self.channel.startswith("D") else [],
                "shares": {"private" if self.channel.startswith("D") else "public": {
                    self.channel: [{"ts": self.ts, "reply_count": 0}]}}}


def _shared(state: "SlackState") -> dict[str, SharedFile]:
    return state.shared_files


def share(api: "FakeSlackAPI", *, user: str, channel: str, text: str,
          files: list[tuple[str, bytes]], mention: bool = True) -> tuple[dict, list[SharedFile]]:
    """A person sharing `files` (name, content) with a message: returns the inner event the
    app receives (app_mention in a channel, message/file_share in a DM) and the files."""
    state = api.state
    shared = [SharedFile(state.new_id("F"), name, content, user, channel) for name, content in files]
    bot = f"<@{state.bot_user_id}>"
    if mention and not channel.startswith("D") and bot not in text:
        text = f"{bot} {text}".rstrip()
    msg = state.post_human_message(channel, user, text)
    msg.files = [f.id for f in shared]
    for f in shared:
        f.ts = msg.ts
        _shared(state)[f.id] = f
    brief = [{"id": f.id, "name": f.name, "mimetype": f.mimetype, "file_access": "visible"}
             for f in shared]
    if channel.startswith("D"):
        event = message_event(text=text, user=user, channel=channel, ts=msg.ts,
                              team=state.team_id, channel_type="im")
        event["subtype"] = "file_share"
    else:
        event = app_mention_event(text=text, user=user, channel=channel, ts=msg.ts,
                                  team=state.team_id)
    event["files"], event["upload"] = brief, True
    return event, shared


def files_info(state: "SlackState", base_url: str, args: dict[str, Any]) -> dict[str, Any]:
    f = _shared(state).get(str(args.get("file") or ""))
    if f is None:
        raise ApiError("file_not_found")
    return {"ok": True, "file": f.to_dict(base_url, state.team_id), "comments": [],
            "response_metadata": {"next_cursor": ""}}


async def download(api: "FakeSlackAPI", request: web.Request) -> web.StreamResponse:
    """`url_private`: the file's bytes for the bot token, the sign-in page for anyone else."""
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.startswith("Bearer ") else None
    f = _shared(api.state).get(request.match_info["file_id"])
    granted = token in api.bot_tokens and "files:read" in api.state.scopes
    api.state.record(Call(method="_files", args={"file": request.match_info["file_id"]},
                          token=token, status=200 if granted and f else 302,
                          http_method=request.method, response={"ok": bool(granted and f)}))
    if f is None or not granted:
        return web.Response(status=302, headers={
            "Location": f"{api.url}/_signin?redir={secrets.token_hex(4)}"})
    return web.Response(body=f.content, content_type=f.mimetype,
                        headers={"Content-Disposition": f'attachment; filename="{f.name}"'})


async def sign_in(_request: web.Request) -> web.Response:
    return web.Response(text=SIGN_IN, content_type="text/html")
