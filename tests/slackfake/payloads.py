"""Payload builders in the shapes of contract Appendix A (slash command, event_callback,
app_mention, url_verification, block_actions, Socket Mode envelopes).

Pure functions take every field explicitly; `WorkspacePayloads` fills them from a FakeSlackAPI's
state and has the side effects Slack has: it issues response_urls and trigger_ids, creates the
human message an `app_mention` refers to, and builds block_actions from a stored message.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .state import Message, SlackState

if TYPE_CHECKING:
    from .api import FakeSlackAPI

VERIFICATION_TOKEN = "fakeVerificationToken0001"


def new_event_id() -> str:
    return "Ev0" + secrets.token_hex(5).upper()


def new_envelope_id() -> str:
    return str(uuid.uuid4())


def form_body(fields: dict[str, Any]) -> str:
    """URL-encoded form, spaces as '+', in the given field order (what Slack signs)."""
    return urlencode({k: v for k, v in fields.items() if v is not None})


def interactive_form_body(payload: dict[str, Any]) -> str:
    """`payload=<url-encoded JSON>` (interactivity over HTTP)."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def slash_command(*, command: str, text: str, team_id: str, team_domain: str, channel_id: str,
                  channel_name: str, user_id: str, user_name: str, response_url: str,
                  trigger_id: str, api_app_id: str, token: str = VERIFICATION_TOKEN,
                  enterprise_id: str | None = None, enterprise_name: str | None = None,
                  is_enterprise_install: bool = False) -> dict[str, str]:
    """Slash-command fields (contract §1.1, A.1), all strings, in Slack's order."""
    fields = {"token": token, "team_id": team_id, "team_domain": team_domain,
              "enterprise_id": enterprise_id, "enterprise_name": enterprise_name,
              "channel_id": channel_id, "channel_name": channel_name, "user_id": user_id,
              "user_name": user_name, "command": command, "text": text, "api_app_id": api_app_id,
              "is_enterprise_install": "true" if is_enterprise_install else "false",
              "response_url": response_url, "trigger_id": trigger_id}
    return {k: v for k, v in fields.items() if v is not None}


def event_callback(event: dict[str, Any], *, team_id: str, api_app_id: str, bot_user_id: str,
                   event_id: str | None = None, event_time: int | None = None,
                   token: str = VERIFICATION_TOKEN) -> dict[str, Any]:
    """The Events API envelope (contract §2.2, A.2) around an inner event."""
    return {
        "token": token, "team_id": team_id, "api_app_id": api_app_id, "event": event,
        "type": "event_callback", "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [{"type": "rich_text", "block_id": secrets.token_hex(2),
             "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]


def app_mention_event(*, text: str, user: str, channel: str, ts: str, team: str,
                      thread_ts: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"client_msg_id": str(uuid.uuid4()), "type": "app_mention", "text": text,
                             "user": user, "ts": ts, "team": team, "blocks": _rich_text(text),
                             "channel": channel, "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message_event(*, text: str, user: str, channel: str, ts: str, team: str,
                  thread_ts: str | None = None, channel_type: str = "channel") -> dict[str, Any]:
    event: dict[str, Any] = {"client_msg_id": str(uuid.uuid4()), "type": "message", "text": text,
                             "user": user, "ts": ts, "team": team, "blocks": _rich_text(text),
                             "channel": channel, "event_ts": ts, "channel_type": channel_type}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def channel_created_event(*, channel_id: str, name: str, creator: str, team: str) -> dict[str, Any]:
    now = int(time.time())
    return {"type": "channel_created",
            "channel": {"id": channel_id, "is_channel": True, "name": name, "name_normalized": name,
                        "created": now, "creator": creator, "is_shared": False,
                        "is_org_shared": False, "context_team_id": team},
            "event_ts": f"{now}.000100"}


def url_verification(challenge: str | None = None, token: str = VERIFICATION_TOKEN) -> dict[str, Any]:
    return {"token": token, "challenge": challenge or secrets.token_urlsafe(36),
            "type": "url_verification"}


def find_action(blocks: list[dict[str, Any]] | None, action_id: str) -> tuple[str, dict[str, Any]]:
    """(block_id, element) of the interactive element with this action_id in a message's blocks."""
    for block in blocks or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for el in elements:
            if isinstance(el, dict) and el.get("action_id") == action_id:
                return block.get("block_id") or secrets.token_hex(3), el
    raise LookupError(f"no element with action_id {action_id!r} in the message")


def action_from_element(element: dict[str, Any], block_id: str, *,
                        selected_value: str | None = None) -> dict[str, Any]:
    """The `actions[]` entry Slack sends when a user uses this element."""
    action: dict[str, Any] = {"action_id": element.get("action_id"), "block_id": block_id,
                              "type": element.get("type"), "action_ts": f"{time.time():.6f}"}
    etype = element.get("type")
    if etype == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
    elif etype in ("static_select", "overflow", "radio_buttons"):
        options = element.get("options") or []
        chosen = next((o for o in options if o.get("value") == selected_value), options[0] if options else None)
        action["selected_option"] = chosen
    return action


def block_actions(*, user: dict[str, Any], team: dict[str, Any], api_app_id: str,
                  channel: dict[str, Any], message: dict[str, Any], actions: list[dict[str, Any]],
                  response_url: str, trigger_id: str, is_ephemeral: bool = False,
                  token: str = VERIFICATION_TOKEN) -> dict[str, Any]:
    """A block_actions payload for a message surface (contract §4.2, A.4)."""
    return {
        "type": "block_actions", "user": user, "api_app_id": api_app_id, "token": token,
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel["id"],
                      "is_ephemeral": is_ephemeral},
        "trigger_id": trigger_id, "team": team, "enterprise": None, "is_enterprise_install": False,
        "channel": channel, "message": message, "state": {"values": {}},
        "response_url": response_url, "actions": actions,
    }


def envelope(type_: str, payload: dict[str, Any], *, envelope_id: str | None = None,
             accepts_response_payload: bool | None = None, retry_attempt: int | None = None,
             retry_reason: str | None = None) -> dict[str, Any]:
    """A Socket Mode envelope (contract §3.2, A.3); events carry retry_attempt/retry_reason."""
    if accepts_response_payload is None:
        accepts_response_payload = type_ == "slash_commands" or (
            type_ == "interactive" and payload.get("type") in ("view_submission", "block_suggestion"))
    env: dict[str, Any] = {"envelope_id": envelope_id or new_envelope_id(), "payload": payload,
                           "type": type_, "accepts_response_payload": accepts_response_payload}
    if type_ == "events_api":
        env["retry_attempt"] = retry_attempt or 0
        env["retry_reason"] = retry_reason or ""
    return env


class WorkspacePayloads:
    """Builders bound to a fake workspace. With `api`, response_urls point at the fake's
    `/_response/{id}`, trigger_ids are valid for views.open, mentions exist as messages."""

    def __init__(self, api: "FakeSlackAPI | None" = None, state: SlackState | None = None) -> None:
        self.api = api
        self.state = api.state if api is not None else (state or SlackState.default())

    def _user(self, user_id: str) -> tuple[str, str]:
        u = self.state.users.get(user_id)
        return user_id, (u.name if u else user_id.lower())

    def _channel_name(self, channel_id: str) -> str:
        c = self.state.channels.get(channel_id)
        return c.name if c else channel_id.lower()

    def response_url(self, *, channel: str, user: str, kind: str = "command",
                     original: tuple[str, str, bool] | None = None) -> str:
        if self.api is not None:
            return self.api.issue_response_url(channel=channel, user=user, kind=kind, original=original)
        return (f"https://hooks.slack.com/{'commands' if kind == 'command' else 'actions'}/"
                f"{self.state.team_id}/{int(time.time())}/{secrets.token_urlsafe(18)}")

    def slash_command(self, text: str = "", *, command: str = "/mesh", user: str = "U0ALICE",
                      channel: str = "C0GENERAL") -> dict[str, str]:
        st = self.state
        user_id, user_name = self._user(user)
        return slash_command(command=command, text=text, team_id=st.team_id,
                             team_domain=st.team_domain, channel_id=channel,
                             channel_name=self._channel_name(channel), user_id=user_id,
                             user_name=user_name,
                             response_url=self.response_url(channel=channel, user=user),
                             trigger_id=st.issue_trigger_id(), api_app_id=st.app_id)

    def event(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        st = self.state
        return event_callback(event, team_id=st.team_id, api_app_id=st.app_id,
                              bot_user_id=st.bot_user_id, event_id=event_id)

    def _human(self, channel: str, user: str, text: str, thread_ts: str | None) -> Message:
        return self.state.post_human_message(channel, user, text, thread_ts=thread_ts)

    def app_mention(self, text: str = "", *, user: str = "U0ALICE", channel: str = "C0GENERAL",
                    thread_ts: str | None = None, event_id: str | None = None) -> dict[str, Any]:
        """An app_mention event_callback; the message is also stored in the channel (so the bot
        can reply in its thread). `text` gets the `<@BOT>` prefix if it lacks one."""
        mention = f"<@{self.state.bot_user_id}>"
        if mention not in text:
            text = f"{mention} {text}".rstrip()
        msg = self._human(channel, user, text, thread_ts)
        inner = app_mention_event(text=text, user=user, channel=channel, ts=msg.ts,
                                  team=self.state.team_id, thread_ts=thread_ts)
        return self.event(inner, event_id=event_id)

    def message(self, text: str, *, user: str = "U0ALICE", channel: str = "C0GENERAL",
                thread_ts: str | None = None, event_id: str | None = None) -> dict[str, Any]:
        msg = self._human(channel, user, text, thread_ts)
        inner = message_event(text=text, user=user, channel=channel, ts=msg.ts,
                              team=self.state.team_id, thread_ts=thread_ts)
        return self.event(inner, event_id=event_id)

    def block_actions(self, *, channel: str, message_ts: str, action_id: str, user: str = "U0ALICE",
                      selected_value: str | None = None, ephemeral: bool = False) -> dict[str, Any]:
        """The payload of `user` clicking `action_id` in a stored message (or ephemeral)."""
        st = self.state
        if ephemeral:
            e = st.find_ephemeral(channel, message_ts)
            if e is None:
                raise LookupError(f"no ephemeral {message_ts} in {channel}")
            message: dict[str, Any] = {"type": "message", "ts": e.ts, "text": e.text,
                                       "blocks": e.blocks or [], "is_ephemeral": True}
            blocks = e.blocks
        else:
            m = st.message(channel, message_ts)
            if m is None:
                raise LookupError(f"no message {message_ts} in {channel}")
            message, blocks = m.to_dict(), m.blocks
        block_id, element = find_action(blocks, action_id)
        user_id, user_name = self._user(user)
        return block_actions(
            user={"id": user_id, "username": user_name, "name": user_name, "team_id": st.team_id},
            team={"id": st.team_id, "domain": st.team_domain}, api_app_id=st.app_id,
            channel={"id": channel, "name": self._channel_name(channel)}, message=message,
            actions=[action_from_element(element, block_id, selected_value=selected_value)],
            response_url=self.response_url(channel=channel, user=user, kind="action",
                                           original=(channel, message_ts, ephemeral)),
            trigger_id=st.issue_trigger_id(), is_ephemeral=ephemeral)
