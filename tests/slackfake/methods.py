"""Web API method implementations over SlackState (no HTTP here; api.py does the transport).

Each method takes the parsed arguments and returns the success body, or raises ApiError.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from .blockkit import DEFAULT_TEXT_BUDGET, validate_view
from .content import ApiError, read_content, truthy
from .files import files_info
from .ratelimit import TokenBucket
from .state import Channel, Ephemeral, Message, SlackState, UploadedFile, View

# Scope each method needs (the bot token's scopes are SlackState.scopes).
METHOD_SCOPES = {
    "chat.postMessage": "chat:write", "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write", "chat.delete": "chat:write",
    "conversations.info": "channels:read", "conversations.join": "channels:join",
    "conversations.members": "channels:read", "users.info": "users:read",
    "usergroups.users.list": "usergroups:read", "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write", "reactions.add": "reactions:write",
    "files.info": "files:read",
}


class Methods:
    def __init__(self, state: SlackState, *, limiter: TokenBucket, base_url: Callable[[], str],
                 socket_url: Callable[[], str | None], rate_limit_enabled: bool = True,
                 text_budget: int = DEFAULT_TEXT_BUDGET) -> None:
        self.state = state
        self.limiter = limiter
        self.rate_limit_enabled = rate_limit_enabled
        self.text_budget = text_budget
        self._base_url = base_url
        self._socket_url = socket_url
        self.table: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "apps.connections.open": self.apps_connections_open,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.delete": self.chat_delete,
            "conversations.info": self.conversations_info,
            "conversations.join": self.conversations_join,
            "conversations.members": self.conversations_members,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
            "views.open": self.views_open,
            "views.update": self.views_update,
            "reactions.add": self.reactions_add,
            "files.info": lambda args: files_info(self.state, self._base_url(), args),
        }

    # ---- shared checks

    def channel(self, ref: Any) -> Channel:
        channel = self.state.resolve_channel(ref if isinstance(ref, str) else None)
        if channel is None:
            raise ApiError("channel_not_found")
        if channel.is_private and self.state.bot_user_id not in channel.members:
            raise ApiError("channel_not_found")  # private channels are invisible to non-members
        return channel

    def postable(self, ref: Any) -> Channel:
        """A channel the bot may post in: member, or public + chat:write.public."""
        channel = self.channel(ref)
        if channel.is_archived:
            raise ApiError("is_archived")
        if self.state.bot_user_id not in channel.members:
            if channel.is_private or channel.is_im or "chat:write.public" not in self.state.scopes:
                raise ApiError("not_in_channel")
        return channel

    def thread_root(self, channel: Channel, thread_ts: Any) -> str | None:
        """thread_ts must name a root message of this channel (never a reply)."""
        if thread_ts in (None, ""):
            return None
        root = self.state.message(channel.id, str(thread_ts))
        if root is None or root.is_reply:
            raise ApiError("thread_not_found")
        return root.ts

    def bot_message(self, channel: Channel, content: Any, args: dict[str, Any], *,
                    thread_ts: str | None, source: str = "api") -> Message:
        st = self.state
        msg = Message(channel=channel.id, ts=st.next_ts(), text=content.text or "",
                      blocks=content.blocks, attachments=content.attachments, user=st.bot_user_id,
                      bot_id=st.bot_id, app_id=st.app_id, team=st.team_id, thread_ts=thread_ts,
                      reply_broadcast=truthy(args.get("reply_broadcast")) and thread_ts is not None,
                      metadata=_json_obj(args.get("metadata")), source=source)
        return st.add_message(msg)

    # ---- methods

    def auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        st = self.state
        return {"ok": True, "url": f"https://{st.team_domain}.slack.com/", "team": st.team_name,
                "user": st.bot_name, "team_id": st.team_id, "user_id": st.bot_user_id,
                "bot_id": st.bot_id, "is_enterprise_install": False}

    def apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        url = self._socket_url()
        if url is None:
            raise ApiError("socket_mode_not_enabled")
        return {"ok": True, "url": url}

    def chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.postable(args.get("channel"))
        if self.rate_limit_enabled:
            wait = self.limiter.take(("chat.postMessage", channel.id))
            if wait > 0:
                raise ApiError("ratelimited", status=429,
                               headers={"Retry-After": str(TokenBucket.retry_after(wait))})
        content = read_content(args, text_budget=self.text_budget)
        thread_ts = self.thread_root(channel, args.get("thread_ts"))
        msg = self.bot_message(channel, content, args, thread_ts=thread_ts)
        return {"ok": True, "channel": channel.id, "ts": msg.ts, "message": msg.to_dict()}

    def chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"))
        ts = args.get("ts")
        msg = self.state.message(channel.id, str(ts)) if ts else None
        if msg is None:
            raise ApiError("message_not_found")
        if msg.user != self.state.bot_user_id:
            raise ApiError("cant_update_message")
        content = read_content(args, text_budget=self.text_budget)
        msg.edits.append({"text": msg.text, "blocks": msg.blocks, "attachments": msg.attachments,
                          "edited_ts": self.state.next_ts()})
        if content.text is not None:
            msg.text = content.text
        if content.blocks is not None:
            msg.blocks = content.blocks
        if content.attachments is not None:
            msg.attachments = content.attachments
        return {"ok": True, "channel": channel.id, "ts": msg.ts, "text": msg.text,
                "message": msg.to_dict()}

    def chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.postable(args.get("channel"))
        user = args.get("user")
        if user not in self.state.users:
            raise ApiError("user_not_found")
        if user not in channel.members:
            raise ApiError("user_not_in_channel")
        content = read_content(args, text_budget=self.text_budget)
        thread_ts = self.thread_root(channel, args.get("thread_ts"))
        e = self.state.add_ephemeral(Ephemeral(
            channel=channel.id, user=user, ts=self.state.next_ts(), text=content.text or "",
            blocks=content.blocks, attachments=content.attachments, thread_ts=thread_ts))
        return {"ok": True, "message_ts": e.ts}

    def chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"))
        ts = str(args.get("ts") or "")
        msg = self.state.message(channel.id, ts)
        if msg is None:
            raise ApiError("message_not_found")
        if msg.user != self.state.bot_user_id:
            raise ApiError("cant_delete_message")
        self.state.remove_message(channel.id, ts)
        return {"ok": True, "channel": channel.id, "ts": ts}

    def conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"))
        if channel.is_private and "groups:read" not in self.state.scopes:
            raise missing_scope("groups:read", self.state.scopes)
        return {"ok": True, "channel": channel.to_dict(
            self.state.bot_user_id, include_num_members=truthy(args.get("include_num_members")))}

    def conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"))
        if channel.is_private or channel.is_im:
            raise ApiError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise ApiError("is_archived")
        body: dict[str, Any] = {"ok": True}
        if self.state.bot_user_id in channel.members:
            body["warning"] = "already_in_channel"
            body["response_metadata"] = {"warnings": ["already_in_channel"]}
        channel.members.add(self.state.bot_user_id)
        body["channel"] = channel.to_dict(self.state.bot_user_id)
        return body

    def conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"))
        return {"ok": True, "members": sorted(channel.members),
                "response_metadata": {"next_cursor": ""}}

    def users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.state.users.get(args.get("user"))
        if user is None:
            raise ApiError("user_not_found")
        return {"ok": True, "user": user.to_dict()}

    def usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = args.get("usergroup")
        if group not in self.state.usergroups:
            raise ApiError("no_such_subteam")
        return {"ok": True, "users": list(self.state.usergroups[group])}

    def files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = args.get("filename"), args.get("length")
        try:
            n = int(length)
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None
        if not filename or n < 0:
            raise ApiError("invalid_arguments")
        f = self.state.add_file(UploadedFile(id=self.state.new_id("F"), filename=str(filename),
                                             length=n, alt_txt=args.get("alt_txt"),
                                             snippet_type=args.get("snippet_type")))
        return {"ok": True, "upload_url": f"{self._base_url()}/_upload/{f.id}", "file_id": f.id}

    def files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            items = json.loads(args["files"]) if isinstance(args.get("files"), str) else args.get("files")
        except ValueError:
            raise ApiError("invalid_arguments") from None
        if not isinstance(items, list) or not items:
            raise ApiError("invalid_arguments")
        files = []
        for item in items:
            f = self.state.file(item.get("id")) if isinstance(item, dict) else None
            if f is None or f.content is None:
                raise ApiError("file_not_found")
            files.append((f, item))
        channel_ref = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        channel = self.postable(channel_ref) if channel_ref else None
        thread_ts = self.thread_root(channel, args.get("thread_ts")) if channel else None
        comment = args.get("initial_comment")
        message_ts = None
        if channel is not None:
            content = read_content({"text": comment, "blocks": args.get("blocks")}, require=False,
                                   text_budget=self.text_budget)
            msg = self.bot_message(channel, content, {}, thread_ts=thread_ts, source="file_share")
            msg.files = [f.id for f, _ in files]
            message_ts = msg.ts
        for f, item in files:
            f.title = item.get("title") or f.filename
            f.completed = True
            f.channel = channel.id if channel else None
            f.thread_ts, f.initial_comment, f.message_ts = thread_ts, comment, message_ts
        return {"ok": True, "files": [f.to_dict() for f, _ in files]}

    def views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json_obj(args.get("view"))
        error = self.state.consume_trigger_id(args.get("trigger_id"))
        if error:
            raise ApiError(error)
        problems = validate_view(view)
        if problems:
            raise ApiError("invalid_arguments",
                           response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        v = View(id=self.state.new_id("V"), hash=_view_hash(), view=view or {},
                 trigger_id=args.get("trigger_id"))
        self.state.views[v.id] = v
        return {"ok": True, "view": self._view_body(v)}

    def views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json_obj(args.get("view"))
        v = self.state.views.get(args.get("view_id") or "")
        if v is None and args.get("external_id"):
            v = next((x for x in self.state.views.values()
                      if x.view.get("external_id") == args["external_id"]), None)
        if v is None:
            raise ApiError("not_found")
        if args.get("hash") and args["hash"] != v.hash:
            raise ApiError("hash_conflict")
        problems = validate_view(view)
        if problems:
            raise ApiError("invalid_arguments",
                           response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        v.view, v.hash, v.updates = view or {}, _view_hash(), v.updates + 1
        return {"ok": True, "view": self._view_body(v)}

    def reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"))
        msg = self.state.message(channel.id, str(args.get("timestamp") or ""))
        if msg is None:
            raise ApiError("message_not_found")
        name = args.get("name")
        if not name:
            raise ApiError("invalid_name")
        users = msg.reactions.setdefault(str(name), [])
        if self.state.bot_user_id in users:
            raise ApiError("already_reacted")
        users.append(self.state.bot_user_id)
        return {"ok": True}

    def _view_body(self, v: View) -> dict[str, Any]:
        return v.to_dict(self.state.team_id, self.state.app_id, self.state.bot_id)


def _json_obj(value: Any) -> Any:
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError("invalid_arguments") from None
    return value


def _view_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def missing_scope(needed: str, provided: set[str]) -> ApiError:
    return ApiError("missing_scope", needed=needed, provided=",".join(sorted(provided)))
