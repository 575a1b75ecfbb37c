"""Slack messages as a terminal would show them: what people in the channel would read."""

from __future__ import annotations

import re
from typing import Any

from bot.blocks import SlackMessage

EMOJI = {":red_circle:": "🔴", ":large_green_circle:": "🟢", ":large_blue_circle:": "🔵",
         ":white_circle:": "⚪", ":white_check_mark:": "✅", ":x:": "❌", ":warning:": "⚠️ ",
         ":heavy_minus_sign:": "➖", ":grey_question:": "❔"}
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def _plain(mrkdwn: str, color: bool) -> str:
    for code, glyph in EMOJI.items():
        mrkdwn = mrkdwn.replace(code, glyph)
    mrkdwn = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    parts = re.split(r"(```.*?```)", mrkdwn, flags=re.DOTALL)
    out = []
    for part in parts:
        if part.startswith("```"):
            out.append("\n".join("    " + line for line in part[3:-3].splitlines()))
        else:
            bold = (lambda m: f"\033[1m{m.group(1)}\033[0m") if color else (lambda m: m.group(1))
            out.append(_BOLD.sub(bold, part))
    return "".join(out).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _block_lines(block: dict[str, Any], color: bool) -> list[str]:
    kind = block.get("type")
    if kind == "section":
        return _plain(block["text"]["text"], color).splitlines()
    if kind == "context":
        return ["  " + _plain(e.get("text", ""), color) for e in block.get("elements", [])]
    if kind == "actions":
        return ["  " + "  ".join(f"[{e['text']['text']}]" for e in block.get("elements", []))]
    if kind == "header":
        return [block["text"]["text"]]
    return []


def thread_as_text(messages: list[SlackMessage], color: bool = False) -> str:
    """The root message, then each reply indented under a thread marker."""
    out: list[str] = []
    for i, message in enumerate(messages):
        lines = [line for block in message.blocks for line in _block_lines(block, color)]
        lines += [f"  📎 {name} (uploaded with this reply)" for name, _ in message.files]
        if i == 0:
            out += lines + ["", f"  └ thread ({len(messages) - 1} replies)"]
        else:
            out.append("")
            out += [("  │ " + line).rstrip() for line in lines]
    return "\n".join(out) + "\n"
