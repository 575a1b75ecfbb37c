"""Slack messages as a terminal would show them: what people in the channel would read."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from bot.blocks import SlackMessage

EMOJI = {":red_circle:": "🔴", ":large_green_circle:": "🟢", ":large_blue_circle:": "🔵",
         ":white_circle:": "⚪", ":white_check_mark:": "✅", ":x:": "❌", ":warning:": "⚠️ ",
         ":heavy_minus_sign:": "➖", ":grey_question:": "❔",
         ":hourglass_flowing_sand:": "⏳"}
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
THREAD = "  │ "
CODE = "    "  # how code lines start; they are never wrapped (commands stay copyable)


def _plain(mrkdwn: str, color: bool) -> str:
    for code, glyph in EMOJI.items():
        mrkdwn = mrkdwn.replace(code, glyph)
    mrkdwn = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    parts = re.split(r"(```.*?```)", mrkdwn, flags=re.DOTALL)
    out = []
    for part in parts:
        if part.startswith("```"):
            out.append("\n".join(CODE + line for line in part[3:-3].splitlines()))
        else:
            bold = (lambda m: f"\033[1m{m.group(1)}\033[0m") if color else (lambda m: m.group(1))
            out.append(_ITALIC.sub(lambda m: m.group(1), _BOLD.sub(bold, part)))
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
    if kind == "divider":
        return [""]
    return []


def _wrap(lines: list[str], width: int) -> list[str]:
    """Prose wrapped to `width`, continuation lines indented under their first word; code
    lines as they are."""
    out: list[str] = []
    for line in lines:
        if line.startswith(CODE):
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                             break_on_hyphens=False) or [""]
    return out


def thread_as_text(messages: list[SlackMessage], color: bool = False, width: int = 80) -> str:
    """The root message, then each reply indented under a thread marker, wrapped to `width`."""
    out: list[str] = []
    for i, message in enumerate(messages):
        lines = [line for block in message.blocks for line in _block_lines(block, color)]
        lines += [f"  📎 {name} (uploaded with this reply)" for name, _ in message.files]
        if i == 0:
            out += _wrap(lines, width) + ["", f"  └ thread ({len(messages) - 1} replies)"]
        else:
            out.append("")
            out += [(THREAD + line).rstrip() for line in _wrap(lines, width - len(THREAD))]
    return "\n".join(out) + "\n"
