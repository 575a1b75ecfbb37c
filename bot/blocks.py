"""Slack messages within Block Kit's limits: the pieces every message of meshbot is built from.

Built with slack_sdk's block models so Slack's schema is checked where we build, and within
Block Kit's limits (50 blocks a message, 3000 characters a section text): evidence that does
not fit is cut at a line boundary and carried whole in a file to upload with the reply. Every
`SlackMessage` is also brought within the limits when it is made, whoever built it, so a message
Slack would refuse cannot be constructed: a command is quoted by a short prefix, a button whose
value would not fit is left out, and text beyond the limits is cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from slack_sdk.models.blocks import (ActionsBlock, Block, ButtonElement, ContextBlock,
                                     MarkdownTextObject, SectionBlock)

from bot.alerts import Notification

# Block Kit's limits (reference/slack-contract.md §6)
MAX_BLOCKS = 50
MAX_SECTION = 3000  # a section's text, a context element's text
MAX_MESSAGE_TEXT = 11_000  # Slack refuses ~12k characters of block text in one message
MAX_FALLBACK = 3000  # a message's `text` (Slack advises at most 4,000)
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ELEMENTS = {"context": 10, "actions": 25}
MAX_QUOTED = 200  # characters of a command that a message quotes
RERUN_ACTION = "mesh_rerun"
DETAILS_ACTION = "mesh_details"

VERDICT_EMOJI = {"problem": ":red_circle:", "healthy": ":large_green_circle:",
                 "expected": ":large_blue_circle:", "inconclusive": ":white_circle:"}
STATUS_EMOJI = {"pass": ":white_check_mark:", "fail": ":x:", "warn": ":warning:",
                "skip": ":heavy_minus_sign:", "error": ":grey_question:"}


@dataclass
class SlackMessage:
    """One message to post: fallback text, blocks, and files too long for blocks."""

    text: str
    blocks: list[dict[str, Any]]
    files: list[tuple[str, str]] = field(default_factory=list)  # (filename, content)

    def __post_init__(self) -> None:
        """Within Block Kit's limits by construction: what a builder let through is cut here
        (the builders cut more kindly, at line boundaries, with the whole text in a file)."""
        self.text = cut(self.text, MAX_FALLBACK)
        fitted = [b for b in (_fit_block(b) for b in self.blocks) if b is not None]
        self.blocks, spill = within_message_limits(fitted)
        if spill:
            self.files.append(("message-more.txt", spill))


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit_text_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = cut(obj["text"], limit)


def _fit_block(block: dict[str, Any]) -> dict[str, Any] | None:
    """One block within its limits; None when nothing of it can be kept (a button whose value
    does not fit would run a different command than the one shown, so it is dropped)."""
    kind = block.get("type")
    if kind == "section":
        _fit_text_object(block.get("text"), MAX_SECTION)
    elif kind == "header":
        _fit_text_object(block.get("text"), MAX_HEADER)
    elif kind in MAX_ELEMENTS:
        elements = [e for e in block.get("elements") or []
                    if len(str(e.get("value", ""))) <= MAX_BUTTON_VALUE]
        block["elements"] = elements[: MAX_ELEMENTS[kind]]
        for element in block["elements"]:
            if element.get("type") == "button":
                _fit_text_object(element.get("text"), MAX_BUTTON_TEXT)
            else:
                _fit_text_object(element, MAX_SECTION)
        if not block["elements"]:
            return None
    return block


def escape(text: str) -> str:
    """Slack mrkdwn control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote_command(command_text: str) -> str:
    """A command as a message quotes it: one line, at most MAX_QUOTED characters, escaped."""
    line = " ".join(command_text.split())
    return escape(line if len(line) <= MAX_QUOTED else line[:MAX_QUOTED] + "…")


def command_buttons(command_text: str, *, details: bool = True) -> list[Block]:
    """Re-run (and Details) carrying the command; none when the command does not fit in a
    button's value, since a cut command would run something else."""
    if len(command_text) > MAX_BUTTON_VALUE:
        return []
    buttons = [ButtonElement(text="Re-run", action_id=RERUN_ACTION, value=command_text)]
    if details:
        buttons.append(ButtonElement(text="Details", action_id=DETAILS_ACTION,
                                     value=command_text))
    return [ActionsBlock(block_id="mesh_actions", elements=buttons)]


def section(text: str) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=text))


def fit_text(text: str, limit: int = MAX_SECTION) -> tuple[str, bool]:
    """Cut `text` at a line boundary to fit `limit`; True when something was cut."""
    if len(text) <= limit:
        return text, False
    marker = "\n… (cut; the whole text is in the attached file)"
    head = text[: limit - len(marker)]
    head = head[: head.rfind("\n")] if "\n" in head else head
    return head + marker, True


def code_block(lines: list[str], limit: int = MAX_SECTION) -> tuple[str, bool]:
    body = escape("\n".join(lines))
    text, cut = fit_text(f"```{body}```", limit)
    if cut and not text.rstrip().endswith("```"):
        text, cut = fit_text(f"```{body}", limit - 3)
        text = text.replace("\n… (cut;", "```\n… (cut;", 1)
    return text, cut


def asked_by_line(user: str | None) -> str:
    """A user mention (ids are plain alphanumerics, so no escaping is needed)."""
    return f" · asked by <@{user}>" if user and user.isalnum() else ""


def within_message_limits(blocks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Keep blocks while both Slack limits hold (50 blocks, ~12k characters of text); the rest
    goes into the text of a file, announced by a last block."""
    kept: list[dict[str, Any]] = []
    used = 0
    for i, block in enumerate(blocks):
        size = len(_block_text(block))
        last = i == len(blocks) - 1
        if (len(kept) == MAX_BLOCKS - 1 and not last) or used + size > MAX_MESSAGE_TEXT - 100:
            spill = "\n\n".join(_block_text(b) for b in blocks[i:])
            return kept + [section("… more in the attached file").to_dict()], spill
        kept.append(block)
        used += size
    return kept, ""


def _block_text(block: dict[str, Any]) -> str:
    text = block.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    parts = [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)


def progress_message(command_text: str, asked_by: str | None = None) -> SlackMessage:
    """The root message while a diagnosis runs; replaced in place by the verdict."""
    who = asked_by_line(asked_by)
    quoted = quote_command(command_text)
    text = f":hourglass_flowing_sand: Diagnosing `/mesh {quoted}` across the mesh…"
    return SlackMessage(text=f"Diagnosing /mesh {quoted}…", blocks=[
        section(text).to_dict(),
        ContextBlock(elements=[MarkdownTextObject(text=f"started{who}")]).to_dict()])


def failure_message(command_text: str, what: str, asked_by: str | None = None) -> SlackMessage:
    """The root message when the diagnosis itself failed: say what failed, offer Re-run."""
    who = asked_by_line(asked_by)
    quoted = quote_command(command_text)
    text, _ = fit_text(f":warning: *meshbot could not finish* `/mesh {quoted}`\n{escape(what)}")
    blocks = [section(text),
              ContextBlock(elements=[MarkdownTextObject(text=f"nothing was changed in any "
                                                             f"cluster{who}")]),
              *command_buttons(command_text, details=False)]
    return SlackMessage(text=f"meshbot could not finish /mesh {quoted}: {what}",
                        blocks=[b.to_dict() for b in blocks])


def text_message(text: str) -> SlackMessage:
    """Plain information (help, notices) as one section, cut to Block Kit's limit."""
    body, cut = fit_text(text)
    files = [("message.txt", text)] if cut else []
    return SlackMessage(text=text, blocks=[section(body).to_dict()], files=files)


def incident_message(notification: Notification, state: dict[str, Any]) -> SlackMessage:
    """The root of an alert group's thread: what fires, what meshbot found, what triggered it."""
    firing = state.get("status") == "firing"
    head = ":rotating_light: *FIRING*" if firing else ":white_check_mark: *RESOLVED*"
    alerts = notification.firing_count if firing else len(notification.alerts)
    since = datetime.fromtimestamp(state.get("first_seen", 0), timezone.utc).strftime("%H:%M UTC")
    verdict = state.get("verdict") or ""
    found = (f"{VERDICT_EMOJI.get(verdict, ':hourglass_flowing_sand:')} meshbot: "
             f"*{verdict.upper() or 'CHECKING'}* — {escape(state.get('summary') or '')}")
    text, _ = fit_text(f"{head} · {escape(notification.title)} ({alerts} alert"
                   f"{'s' if alerts != 1 else ''}, since {since})\n{found}")
    group = ", ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items()))
    notified = state.get("notified", 1)
    context = (f"Triggered by Alertmanager{' (' + notification.receiver + ')' if notification.receiver else ''}"
               f" · group {group or notification.group_key} · notified {notified} time"
               f"{'s' if notified != 1 else ''}")
    if state.get("flaps"):
        context += f" · flapped {state['flaps']} time{'s' if state['flaps'] != 1 else ''}"
    if notification.incomplete:
        context += f" · {notification.incomplete}"
    commands = state.get("commands") or []
    context, _ = fit_text(escape(context))
    blocks: list[Block] = [section(text), ContextBlock(elements=[MarkdownTextObject(text=context)])]
    if commands:
        blocks += command_buttons(commands[0], details=False)
    fallback = f"{'FIRING' if firing else 'RESOLVED'}: {notification.title}"
    return SlackMessage(text=fallback, blocks=[b.to_dict() for b in blocks])
