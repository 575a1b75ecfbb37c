"""A report as a Slack thread: a root message with the verdict, then one reply per step.

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
from diagnostics.checking import REGISTRY
from diagnostics.model import RenderedFinding, Report, Step
from diagnostics.render.grouping import group_findings
from diagnostics.render.text import command_line

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
STATUS_MARK = {"pass": "✔", "fail": "✖", "warn": "!", "skip": "–", "error": "?"}  # inside code


@dataclass
class SlackMessage:
    """One message to post: fallback text, blocks, and files too long for blocks."""

    text: str
    blocks: list[dict[str, Any]]
    files: list[tuple[str, str]] = field(default_factory=list)  # (filename, content)

    def __post_init__(self) -> None:
        """Within Block Kit's limits by construction: what a builder let through is cut here
        (the builders cut more kindly, at line boundaries, with the whole text in a file)."""
        self.text = _cut(self.text, MAX_FALLBACK)
        fitted = [b for b in (_fit_block(b) for b in self.blocks) if b is not None]
        self.blocks, spill = within_message_limits(fitted)
        if spill:
            self.files.append(("message-more.txt", spill))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit_text_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = _cut(obj["text"], limit)


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


def _code(lines: list[str], limit: int = MAX_SECTION) -> tuple[str, bool]:
    body = escape("\n".join(lines))
    text, cut = fit_text(f"```{body}```", limit)
    if cut and not text.rstrip().endswith("```"):
        text, cut = fit_text(f"```{body}", limit - 3)
        text = text.replace("\n… (cut;", "```\n… (cut;", 1)
    return text, cut


def _asked_by(user: str | None) -> str:
    """A user mention (ids are plain alphanumerics, so no escaping is needed)."""
    return f" · asked by <@{user}>" if user and user.isalnum() else ""


def _age(generated_at: str, now: datetime | None) -> str:
    try:
        then = datetime.strptime(generated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "earlier"
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - then).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def root_message(report: Report, command_text: str | None = None, asked_by: str | None = None,
                 now: datetime | None = None, trigger: str | None = None) -> SlackMessage:
    """The answer's root: verdict, summary, clusters, and (for auto-posts) what triggered it."""
    cmd = command_text or command_line(report)
    verdict = report.verdict.upper()
    reach = "  ".join(f"{c.label} {'✓' if c.reachable else '✗ unreachable'}"
                      for c in report.clusters)
    meta = f"{reach} · {report.api_calls} API calls · {report.duration_ms:.0f} ms"
    if report.cached:
        meta = f"from {_age(report.generated_at, now)} — Re-run for fresh · {reach}"
    meta = escape(meta) + _asked_by(asked_by)
    if trigger:
        meta = f"{escape(trigger)} · {meta}"
    summary, _ = fit_text(f"{VERDICT_EMOJI[report.verdict]} *{verdict}* "
                          f"`/mesh {quote_command(cmd)}`\n{escape(report.summary)}")
    buttons = command_buttons(cmd)
    if not buttons:
        meta += " · the command is too long for Re-run and Details buttons: ask again instead"
    meta, _ = fit_text(meta)
    blocks = [section(summary), ContextBlock(elements=[MarkdownTextObject(text=meta)]), *buttons]
    return SlackMessage(text=f"{verdict}: {report.summary}", blocks=[b.to_dict() for b in blocks])


STATUS_ORDER = ("error", "fail", "warn", "pass", "skip")  # a group shows its most alarming


def worst_status(steps: list[Step]) -> str:
    """The status a group of steps shows: the most alarming of its members."""
    return min((s.status for s in steps), key=STATUS_ORDER.index)


def step_message(index: int, steps: list[Step], findings: list[RenderedFinding]) -> SlackMessage:
    """One threaded reply for one runbook step: a line of evidence per cluster it ran on, then
    the cause, fix and why of each finding worth acting on."""
    first = steps[0]
    where = f" — `{escape(first.cluster)}`" if len(steps) == 1 and first.cluster else ""
    status = worst_status(steps)
    title = first.title
    if any(s.title != title for s in steps):
        spec = REGISTRY.get(first.check)
        title = spec.title if spec else title
    blocks: list[Block] = [section(f"{STATUS_EMOJI[status]} *{index}. "
                                    f"{escape(title)}*{where}")]
    files: list[tuple[str, str]] = []
    for step in steps:
        lines = step.evidence
        if len(steps) > 1:
            head = step.cluster or "mesh"
            if step.title != title:
                head += f": {step.title}"
            lines = [f"{STATUS_MARK[step.status]} {head}"] + [f"  {line}" for line in step.evidence]
        if not lines:
            continue
        text, cut = _code(lines)
        blocks.append(section(text))
        if cut:
            suffix = f"-{step.cluster}" if len(steps) > 1 and step.cluster else ""
            files.append((f"step-{index}{suffix}-evidence.txt", "\n".join(step.evidence) + "\n"))
    for group in group_findings(findings):
        blocks += _finding_blocks(group.head)
        if group.more:
            lines = group.member_lines()
            more, cut = _code(lines)
            blocks += [section(f"*{escape(group.more_heading())}*"), section(more)]
            if cut:
                files.append((f"step-{index}-{group.head.id}.txt", "\n".join(lines) + "\n"))
    kept, spill = within_message_limits([b.to_dict() for b in blocks])
    if spill:
        files.append((f"step-{index}-more.txt", spill))
    fallback = f"{index}. {first.title}: {status}"
    return SlackMessage(text=fallback, blocks=kept, files=files)


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


def _finding_blocks(f: RenderedFinding) -> list[Block]:
    where = f" in `{escape(f.cluster)}`" if f.cluster else ""
    head, _ = fit_text(f"*{escape(f.title)}*{where}  `{f.id}` ({f.severity})\n{escape(f.cause)}")
    blocks: list[Block] = [section(head)]
    if f.fix:
        fix, _ = fit_text("*Fix*\n" + "\n".join(f"{n}. {escape(s)}" for n, s in enumerate(f.fix, 1)))
        blocks.append(section(fix))
    for cmd in f.commands:
        text, _ = _code(cmd.splitlines())
        blocks.append(section(text))
    why, _ = fit_text(f"*Why it works:* {escape(f.why)} · <{f.docs}|docs>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=why)]))
    return blocks


def _block_text(block: dict[str, Any]) -> str:
    text = block.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    parts = [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)


def progress_message(command_text: str, asked_by: str | None = None) -> SlackMessage:
    """The root message while a diagnosis runs; replaced in place by the verdict."""
    who = _asked_by(asked_by)
    quoted = quote_command(command_text)
    text = f":hourglass_flowing_sand: Diagnosing `/mesh {quoted}` across the mesh…"
    return SlackMessage(text=f"Diagnosing /mesh {quoted}…", blocks=[
        section(text).to_dict(),
        ContextBlock(elements=[MarkdownTextObject(text=f"started{who}")]).to_dict()])


def failure_message(command_text: str, what: str, asked_by: str | None = None) -> SlackMessage:
    """The root message when the diagnosis itself failed: say what failed, offer Re-run."""
    who = _asked_by(asked_by)
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


def findings_digest(report: Report, limit: int = 15) -> SlackMessage:
    """The short form of an answer: one line per finding (or per id that repeats), most
    important first."""
    groups = group_findings(report.findings)
    lines = [f"{VERDICT_EMOJI['problem'] if g.head.severity == 'error' else ':warning:'} "
             f"`{g.head.id}` {escape(g.head.title)}"
             + (f" (and {len(g.more)} more like it)" if g.more else "") for g in groups[:limit]]
    more = len(groups) - limit
    if more > 0:
        lines.append(f"… and {more} more: press Details for the full report")
    return text_message("\n".join(lines) if lines else "No findings: every check passed.")


def thread(report: Report, command_text: str | None = None, asked_by: str | None = None,
           now: datetime | None = None) -> list[SlackMessage]:
    """The whole answer: root message first, then one reply per step in order."""
    messages = [root_message(report, command_text, asked_by, now)]
    for number, group in enumerate(step_groups(report), 1):
        shown: list[RenderedFinding] = []
        for i in group:
            step = report.steps[i]
            shown += [f for f in report.step_findings(i)
                      if (step.status in ("fail", "warn") or f.by_design) and f not in shown]
        messages.append(step_message(number, [report.steps[i] for i in group], shown))
    return messages


def step_groups(report: Report) -> list[list[int]]:
    """Consecutive steps of one check (its per-cluster runs) form one runbook step."""
    groups: list[list[int]] = []
    for i, step in enumerate(report.steps):
        prev = report.steps[i - 1] if i else None
        if prev is not None and step.check and prev.check == step.check:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


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
