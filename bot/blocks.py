"""A report as a Slack thread: a root message with the verdict, then one reply per step.

Built with slack_sdk's block models so Slack's schema is checked where we build, and within
Block Kit's limits (50 blocks a message, 3000 characters a section text): evidence that does
not fit is cut at a line boundary and carried whole in a file to upload with the reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (ActionsBlock, Block, ButtonElement, ContextBlock,
                                     MarkdownTextObject, SectionBlock)

from diagnostics.model import RenderedFinding, Report, Step
from diagnostics.render.text import command_line

MAX_BLOCKS = 50
MAX_SECTION = 3000
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


def escape(text: str) -> str:
    """Slack mrkdwn control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _fit(text: str, limit: int = MAX_SECTION) -> tuple[str, bool]:
    """Cut `text` at a line boundary to fit `limit`; True when something was cut."""
    if len(text) <= limit:
        return text, False
    marker = "\n… (cut; the whole text is in the attached file)"
    head = text[: limit - len(marker)]
    head = head[: head.rfind("\n")] if "\n" in head else head
    return head + marker, True


def _code(lines: list[str], limit: int = MAX_SECTION) -> tuple[str, bool]:
    body = escape("\n".join(lines))
    text, cut = _fit(f"```{body}```", limit)
    if cut and not text.rstrip().endswith("```"):
        text, cut = _fit(f"```{body}", limit - 3)
        text = text.replace("\n… (cut;", "```\n… (cut;", 1)
    return text, cut


def root_message(report: Report, command_text: str | None = None) -> SlackMessage:
    cmd = command_text or command_line(report)
    verdict = report.verdict.upper()
    reach = "  ".join(f"{c.name} {'✓' if c.reachable else '✗ unreachable'}" for c in report.clusters)
    meta = f"{reach} · {report.api_calls} API calls · {report.duration_ms:.0f} ms"
    if report.cached:
        meta += " · cached"
    summary, _ = _fit(f"{VERDICT_EMOJI[report.verdict]} *{verdict}* `/mesh {escape(cmd)}`\n"
                      f"{escape(report.summary)}")
    blocks = [
        _section(summary),
        ContextBlock(elements=[MarkdownTextObject(text=escape(meta))]),
        ActionsBlock(block_id="mesh_actions", elements=[
            ButtonElement(text="Re-run", action_id=RERUN_ACTION, value=cmd[:2000]),
            ButtonElement(text="Details", action_id=DETAILS_ACTION, value=cmd[:2000]),
        ]),
    ]
    text = f"{verdict}: {report.summary}"
    return SlackMessage(text=text[:3000], blocks=[b.to_dict() for b in blocks])


def step_message(index: int, step: Step, findings: list[RenderedFinding]) -> SlackMessage:
    """One threaded reply: the step's status and evidence, then each failed finding's fix."""
    where = f" — `{escape(step.cluster)}`" if step.cluster else ""
    blocks: list[Block] = [_section(f"{STATUS_EMOJI[step.status]} *{index}. "
                                    f"{escape(step.title)}*{where}")]
    files: list[tuple[str, str]] = []
    if step.evidence:
        text, cut = _code(step.evidence)
        blocks.append(_section(text))
        if cut:
            files.append((f"step-{index}-evidence.txt", "\n".join(step.evidence) + "\n"))
    for finding in findings:
        blocks += _finding_blocks(finding)
    if len(blocks) > MAX_BLOCKS:
        spill = "\n\n".join(_block_text(b) for b in blocks[MAX_BLOCKS - 1:])
        blocks = blocks[: MAX_BLOCKS - 1] + [_section("… more in the attached file")]
        files.append((f"step-{index}-more.txt", spill))
    fallback = f"{index}. {step.title}: {step.status}"
    return SlackMessage(text=fallback, blocks=[b.to_dict() for b in blocks], files=files)


def _finding_blocks(f: RenderedFinding) -> list[Block]:
    where = f" in `{escape(f.cluster)}`" if f.cluster else ""
    head, _ = _fit(f"*{escape(f.title)}*{where}  `{f.id}` ({f.severity})\n{escape(f.cause)}")
    blocks: list[Block] = [_section(head)]
    if f.fix:
        fix, _ = _fit("*Fix*\n" + "\n".join(f"{n}. {escape(s)}" for n, s in enumerate(f.fix, 1)))
        blocks.append(_section(fix))
    for cmd in f.commands:
        text, _ = _code(cmd.splitlines())
        blocks.append(_section(text))
    why, _ = _fit(f"*Why it works:* {escape(f.why)} · <{f.docs}|docs>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=why)]))
    return blocks


def _block_text(block: Block) -> str:
    d = block.to_dict()
    if "text" in d:
        return d["text"]["text"]
    return "\n".join(e.get("text", "") for e in d.get("elements", []))


def thread(report: Report, command_text: str | None = None) -> list[SlackMessage]:
    """The whole answer: root message first, then one reply per step in order."""
    messages = [root_message(report, command_text)]
    for i, step in enumerate(report.steps):
        findings = report.step_findings(i)
        shown = [f for f in findings if step.status in ("fail", "warn") or f.by_design]
        messages.append(step_message(i + 1, step, shown))
    return messages
