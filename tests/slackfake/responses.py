"""What Slack does with a response_url POST, or with the body of a slash-command ack
(contract §1.3, §1.4): ephemeral by default, `in_channel` posts, replace/delete the original."""

from __future__ import annotations

from typing import Any

from .content import ApiError, read_content, truthy
from .methods import Methods
from .state import Ephemeral, ResponseUrl


def deliver(methods: Methods, r: ResponseUrl, body: dict[str, Any], *, source: str = "response_url",
            count_use: bool = True) -> tuple[int, dict[str, Any]]:
    """Apply one response (a response_url POST, or an ack body with count_use=False)."""
    st = methods.state
    if count_use:
        if st.clock.now() > r.expires_at:
            return 404, {"ok": False, "error": "expired_url"}
        if r.uses_left <= 0:
            return 404, {"ok": False, "error": "used_url"}
        r.uses_left -= 1
    r.posts.append(body)
    original = r.original
    try:
        if truthy(body.get("delete_original")):
            if original is None:
                raise ApiError("message_not_found", status=404)
            channel, ts, ephemeral = original
            if ephemeral:
                e = st.find_ephemeral(channel, ts)
                if e is not None:
                    e.deleted = True
            else:
                st.remove_message(channel, ts)
            return 200, {"ok": True}
        content = read_content(body, text_budget=methods.text_budget)
        if truthy(body.get("replace_original")) and original is not None:
            channel, ts, ephemeral = original
            target: Any = st.find_ephemeral(channel, ts) if ephemeral else st.message(channel, ts)
            if target is None:
                raise ApiError("message_not_found", status=404)
            if not ephemeral:
                target.edits.append({"text": target.text, "blocks": target.blocks,
                                     "attachments": target.attachments, "edited_ts": st.next_ts()})
            target.text = content.text or ""
            target.blocks = content.blocks
            target.attachments = content.attachments
            return 200, {"ok": True}
        channel = st.channels.get(r.channel)
        if channel is None:
            raise ApiError("channel_not_found", status=404)
        thread_ts = body.get("thread_ts") or r.thread_ts
        if body.get("response_type") == "in_channel":
            root = methods.thread_root(channel, thread_ts)
            methods.bot_message(channel, content, body, thread_ts=root, source=source)
        else:
            st.add_ephemeral(Ephemeral(channel=channel.id, user=r.user, ts=st.next_ts(),
                                       text=content.text or "", blocks=content.blocks,
                                       attachments=content.attachments,
                                       thread_ts=thread_ts or None, source=source))
        return 200, {"ok": True}
    except ApiError as e:
        return (400 if e.status == 200 else e.status), e.body()
