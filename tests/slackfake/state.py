"""The fake workspace: team, bot identity, channels, users, usergroups, messages, threads,
ephemerals, files, response_urls, trigger_ids, views and the call log.

Plain data, no I/O: FakeSlackAPI mutates it, tests read it through the query helpers.
"""

from __future__ import annotations

import itertools
import secrets
import time as _time
from dataclasses import dataclass, field
from typing import Any

from .clock import SystemClock

RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60.0
TRIGGER_ID_TTL = 3.0

DEFAULT_SCOPES = frozenset({
    "app_mentions:read", "channels:read", "channels:join", "chat:write", "commands",
    "files:read", "files:write", "groups:read", "im:history", "reactions:write",
    "usergroups:read", "users:read",
})


def all_text(blocks: Any) -> str:
    """Every `text` string inside blocks (nested), joined by newlines: handy for assertions."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks or [])
    return "\n".join(out)


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False
    is_admin: bool = False
    deleted: bool = False
    tz: str = "Europe/Paris"
    email: str | None = None
    team_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"display_name": self.name, "real_name": self.real_name or self.name}
        if self.email:
            profile["email"] = self.email
        return {
            "id": self.id, "team_id": self.team_id, "name": self.name, "deleted": self.deleted,
            "real_name": self.real_name or self.name, "tz": self.tz, "is_admin": self.is_admin,
            "is_owner": False, "is_primary_owner": False, "is_restricted": False,
            "is_ultra_restricted": False, "is_bot": self.is_bot, "is_app_user": False,
            "profile": profile,
        }


@dataclass
class Channel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    created: int = 1_700_000_000
    creator: str = ""
    topic: str = ""
    purpose: str = ""

    def to_dict(self, bot_user_id: str, include_num_members: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id, "name": self.name, "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_im, "is_group": self.is_private,
            "is_im": self.is_im, "is_mpim": False, "is_private": self.is_private or self.is_im,
            "is_archived": self.is_archived, "is_general": self.name == "general",
            "is_shared": False, "is_ext_shared": False, "is_org_shared": False,
            "is_member": bot_user_id in self.members, "created": self.created, "creator": self.creator,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }
        if include_num_members:
            d["num_members"] = len(self.members)
        return d


@dataclass
class Message:
    """A message in a channel (root or thread reply), posted by the bot or a human."""

    channel: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    user: str = ""
    bot_id: str | None = None
    app_id: str | None = None
    team: str = ""
    thread_ts: str | None = None
    reply_broadcast: bool = False
    attachments: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edits: list[dict[str, Any]] = field(default_factory=list)
    source: str = "api"  # api | human | response_url | ack | file_share
    posted_at: float = field(default_factory=_time.time)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def all_text(self) -> str:
        """`text` plus every text inside the blocks."""
        parts = [self.text] if self.text else []
        if self.blocks:
            parts.append(all_text(self.blocks))
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "message", "text": self.text, "user": self.user, "ts": self.ts,
                             "team": self.team}
        if self.bot_id:
            d["bot_id"] = self.bot_id
            d["app_id"] = self.app_id
        if self.blocks is not None:
            d["blocks"] = self.blocks
        if self.attachments is not None:
            d["attachments"] = self.attachments
        if self.metadata is not None:
            d["metadata"] = self.metadata
        if self.thread_ts is not None:
            d["thread_ts"] = self.thread_ts
        if self.files:
            d["files"] = [{"id": f} for f in self.files]
            d["upload"] = True
        if self.reactions:
            d["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in self.reactions.items()]
        if self.edits:
            d["edited"] = {"user": self.user, "ts": self.edits[-1]["edited_ts"]}
        return d


@dataclass
class Ephemeral:
    """An ephemeral message: visible to `user` only, never stored in history."""

    channel: str
    user: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    attachments: list[dict[str, Any]] | None = None
    source: str = "api"  # api | response_url | ack
    deleted: bool = False
    posted_at: float = field(default_factory=_time.time)

    @property
    def all_text(self) -> str:
        parts = [self.text] if self.text else []
        if self.blocks:
            parts.append(all_text(self.blocks))
        return "\n".join(parts)


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    title: str | None = None
    content: bytes | None = None
    completed: bool = False
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    message_ts: str | None = None

    @property
    def text(self) -> str:
        return (self.content or b"").decode("utf-8", "replace")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id, "name": self.filename, "title": self.title or self.filename,
            "size": len(self.content or b""), "mimetype": "text/plain", "filetype": "text",
            "user": "", "is_external": False, "shares": {},
        }
        if self.channel and self.message_ts:
            share = {"ts": self.message_ts}
            if self.thread_ts:
                share["thread_ts"] = self.thread_ts
            d["shares"] = {"public": {self.channel: [share]}}
            d["channels"] = [self.channel]
        return d


@dataclass
class Call:
    """One request the fake received (also faults, 429s and the upload/response_url routes)."""

    method: str
    args: dict[str, Any]
    token: str | None
    status: int
    http_method: str
    response: dict[str, Any] | None
    time: float = field(default_factory=_time.time)
    monotonic: float = field(default_factory=_time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")


@dataclass
class ResponseUrl:
    id: str
    channel: str
    user: str
    kind: str  # command | action
    issued_at: float
    uses_left: int = RESPONSE_URL_USES
    expires_at: float = 0.0
    # The message that carried the interaction (block_actions): (channel, ts, is_ephemeral).
    original: tuple[str, str, bool] | None = None
    thread_ts: str | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class View:
    id: str
    hash: str
    view: dict[str, Any]
    user: str | None = None
    trigger_id: str | None = None
    updates: int = 0

    def to_dict(self, team_id: str, app_id: str, bot_id: str) -> dict[str, Any]:
        d = dict(self.view)
        d.update({"id": self.id, "hash": self.hash, "team_id": team_id, "app_id": app_id,
                  "bot_id": bot_id, "state": {"values": {}},
                  "private_metadata": self.view.get("private_metadata", ""),
                  "callback_id": self.view.get("callback_id", "")})
        return d


class SlackState:
    """Everything the fake remembers. `SlackState.default()` builds the standard workspace."""

    def __init__(self, *, team_id: str = "T0MESH", team_domain: str = "meshbot",
                 team_name: str = "Mesh Test", app_id: str = "A0MESHAPP",
                 bot_user_id: str = "U0MESHBOT", bot_id: str = "B0MESHBOT", bot_name: str = "meshbot",
                 scopes: set[str] | frozenset[str] | None = None, clock: Any = None) -> None:
        self.team_id, self.team_domain, self.team_name = team_id, team_domain, team_name
        self.app_id, self.bot_user_id, self.bot_id, self.bot_name = app_id, bot_user_id, bot_id, bot_name
        self.scopes: set[str] = set(DEFAULT_SCOPES if scopes is None else scopes)
        self.clock = clock or SystemClock()
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, list[str]] = {}
        self._messages: dict[tuple[str, str], Message] = {}
        self.deleted: list[Message] = []
        self._ephemerals: list[Ephemeral] = []
        self._files: dict[str, UploadedFile] = {}
        self.shared_files: dict[str, Any] = {}  # files people shared (files.SharedFile)
        self._calls: list[Call] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self.trigger_ids: dict[str, float | None] = {}  # id -> issued at (None once used)
        self.views: dict[str, View] = {}
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self.add_user(bot_user_id, bot_name, is_bot=True)

    @classmethod
    def default(cls, **kwargs: Any) -> "SlackState":
        """Team T0MESH; bot U0MESHBOT/B0MESHBOT; C0GENERAL "general" (bot member),
        C0INCIDENT "inc-42" (bot not a member); users U0ALICE, U0BOB; usergroup S0ONCALL=[U0ALICE]."""
        state = cls(**kwargs)
        state.add_user("U0ALICE", "alice", real_name="Alice Ops", email="alice@example.com")
        state.add_user("U0BOB", "bob", real_name="Bob Dev", email="bob@example.com")
        state.add_channel("C0GENERAL", "general", members={state.bot_user_id, "U0ALICE", "U0BOB"})
        state.add_channel("C0INCIDENT", "inc-42", members={"U0ALICE", "U0BOB"})
        state.add_usergroup("S0ONCALL", ["U0ALICE"])
        return state

    # ---- ids and timestamps

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    def next_ts(self) -> str:
        """A message ts: wall-clock based, strictly increasing, 6 decimals."""
        us = max(int(_time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    # ---- directory

    def add_user(self, user_id: str, name: str, **kwargs: Any) -> User:
        user = User(id=user_id, name=name, team_id=self.team_id, **kwargs)
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, *, members: set[str] | None = None,
                    **kwargs: Any) -> Channel:
        channel = Channel(id=channel_id, name=name, members=set(members or ()), **kwargs)
        self.channels[channel_id] = channel
        return channel

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        self.usergroups[group_id] = list(users)

    def resolve_channel(self, ref: str | None) -> Channel | None:
        """By id, by name (`#general` or `general`), or a user id (opens the bot's DM)."""
        if not ref:
            return None
        if ref in self.channels:
            return self.channels[ref]
        name = ref[1:] if ref.startswith("#") else ref
        for channel in self.channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        if ref in self.users and ref != self.bot_user_id:
            dm_id = "D" + ref[1:]
            if dm_id not in self.channels:
                self.add_channel(dm_id, dm_id, members={self.bot_user_id, ref}, is_im=True)
            return self.channels[dm_id]
        return None

    # ---- messages

    def add_message(self, message: Message) -> Message:
        self._messages[(message.channel, message.ts)] = message
        return message

    def post_human_message(self, channel: str, user: str, text: str, *,
                           thread_ts: str | None = None) -> Message:
        """A message typed by a person (so events can reference a real ts)."""
        return self.add_message(Message(channel=channel, ts=self.next_ts(), text=text, user=user,
                                        team=self.team_id, thread_ts=thread_ts, source="human"))

    def message(self, channel: str, ts: str) -> Message | None:
        return self._messages.get((channel, ts))

    def remove_message(self, channel: str, ts: str) -> Message | None:
        msg = self._messages.pop((channel, ts), None)
        if msg is not None:
            self.deleted.append(msg)
        return msg

    def messages(self, channel: str | None = None, *, include_replies: bool = False) -> list[Message]:
        """Channel history in ts order: root messages (and broadcast replies); all replies too
        with include_replies=True. channel=None: every channel."""
        out = [m for (c, _), m in self._messages.items()
               if (channel is None or c == channel)
               and (include_replies or not m.is_reply or m.reply_broadcast)]
        return sorted(out, key=lambda m: (m.channel, float(m.ts)))

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The root message then its replies, in order ([] if there is no such root)."""
        root = self._messages.get((channel, ts))
        if root is None:
            return []
        replies = [m for (c, _), m in self._messages.items()
                   if c == channel and m.thread_ts == ts and m.ts != ts]
        return [root] + sorted(replies, key=lambda m: float(m.ts))

    def add_ephemeral(self, ephemeral: Ephemeral) -> Ephemeral:
        self._ephemerals.append(ephemeral)
        return ephemeral

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        return [e for e in self._ephemerals if not e.deleted
                and (channel is None or e.channel == channel) and (user is None or e.user == user)]

    def find_ephemeral(self, channel: str, ts: str) -> Ephemeral | None:
        for e in self._ephemerals:
            if e.channel == channel and e.ts == ts and not e.deleted:
                return e
        return None

    # ---- files, calls

    def add_file(self, f: UploadedFile) -> UploadedFile:
        self._files[f.id] = f
        return f

    def file(self, file_id: str) -> UploadedFile | None:
        return self._files.get(file_id)

    def files(self) -> list[UploadedFile]:
        return list(self._files.values())

    def record(self, call: Call) -> None:
        self._calls.append(call)

    def calls(self, method: str | None = None) -> list[Call]:
        return [c for c in self._calls if method is None or c.method == method]

    # ---- response_url, trigger_id

    def issue_response_url(self, *, channel: str, user: str, kind: str = "command",
                           original: tuple[str, str, bool] | None = None,
                           thread_ts: str | None = None) -> ResponseUrl:
        now = self.clock.now()
        r = ResponseUrl(id=secrets.token_hex(12), channel=channel, user=user, kind=kind,
                        issued_at=now, expires_at=now + RESPONSE_URL_TTL, original=original,
                        thread_ts=thread_ts)
        self.response_urls[r.id] = r
        return r

    def issue_trigger_id(self) -> str:
        tid = f"{next(self._ids)}.{int(_time.time())}.{secrets.token_hex(16)}"
        self.trigger_ids[tid] = self.clock.now()
        return tid

    def consume_trigger_id(self, trigger_id: str | None) -> str | None:
        """None if usable (and now used), else the Slack error."""
        if not trigger_id:
            return "invalid_arguments"
        if trigger_id not in self.trigger_ids:
            return "invalid_trigger_id"
        issued = self.trigger_ids[trigger_id]
        if issued is None:
            return "exchanged_trigger_id"
        if self.clock.now() - issued > TRIGGER_ID_TTL:
            return "expired_trigger_id"
        self.trigger_ids[trigger_id] = None
        return None
