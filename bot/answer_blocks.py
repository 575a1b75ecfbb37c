"""A report as a Slack answer: a root message, at most two replies, and a Details view.

The root says the verdict, the first cause in one sentence and the first fix, with Re-run and
Details. Its thread holds one reply with every step that needs attention in full (evidence,
cause, fix, commands, why) and one reply listing the other steps one line each; steps are
numbered as in the terminal (diagnostics/render/steps.py). A typical answer is therefore three
messages, however many steps the runbook has. Details opens a modal with every step's evidence.

What does not fit Block Kit's limits is cut at a line boundary and carried whole in a file
uploaded with the reply (bot/blocks.py brings every message within the limits).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, MarkdownTextObject

from bot.blocks import (MAX_SECTION, STATUS_EMOJI, VERDICT_EMOJI, SlackMessage, asked_by_line, code_block, command_buttons,
                        cut, escape, fit_text, quote_command, section, text_message,
                        within_message_limits)
from diagnostics.model import RenderedFinding, Report
from diagnostics.render.grouping import group_findings
from diagnostics.render.steps import STATUS_WORD, RunbookStep, first_fix, runbook_steps
from diagnostics.render.text import STATUS_MARK, clusters_line, command_line

MAX_ROOT_FIX = 700  # characters of the first fix the root quotes (the thread has it whole)
# Modals (reference/slack-contract.md §4.4): 100 blocks, a 24-character title. Slack documents
# no total for a view's text; the budget keeps a view about as large as eight messages.
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TEXT = 90_000
DETAILS_TITLE = "meshbot details"
DETAILS_FILE = "meshbot-details.txt"


def _age(generated_at: str, now: datetime | None) -> str:
    try:
        then = datetime.strptime(generated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "earlier"
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - then).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def _meta(report: Report, asked_by: str | None, now: datetime | None,
          trigger: str | None) -> str:
    meta = clusters_line(report).removeprefix("clusters: ")
    if report.cached:
        meta = f"from {_age(report.generated_at, now)} — Re-run for fresh · {meta}"
    meta = escape(meta) + asked_by_line(asked_by)
    return f"{escape(trigger)} · {meta}" if trigger else meta


def root_message(report: Report, command_text: str | None = None, asked_by: str | None = None,
                 now: datetime | None = None, trigger: str | None = None) -> SlackMessage:
    """The answer's root: the verdict with the first cause in one sentence, the first fix, the
    clusters read, and the Re-run and Details buttons (for auto-posts, what triggered it)."""
    cmd = command_text or command_line(report)
    verdict = report.verdict.upper()
    summary, _ = fit_text(f"{VERDICT_EMOJI[report.verdict]} *{verdict}* "
                          f"`/mesh {quote_command(cmd)}`\n{escape(report.summary)}")
    blocks: list[Block] = [section(summary)]
    fix = first_fix(report) if report.verdict in ("problem", "expected") else None
    if fix:  # by design (expected), the first step says what to do, if anything
        label = "Fix first" if report.verdict == "problem" else "What to do"
        text, _ = fit_text(f"*{label}:* {escape(fix)}", MAX_ROOT_FIX)
        blocks.append(section(text))
    meta = _meta(report, asked_by, now, trigger)
    buttons = command_buttons(cmd)
    if not buttons:
        meta += " · the command is too long for Re-run and Details buttons: ask again instead"
    meta, _ = fit_text(meta)
    blocks += [ContextBlock(elements=[MarkdownTextObject(text=meta)]), *buttons]
    return SlackMessage(text=f"{verdict}: {report.summary}", blocks=[b.to_dict() for b in blocks])


def problems_message(steps: list[RunbookStep]) -> SlackMessage:
    """One reply with every step that needs attention, in full: the evidence of each of its
    runs, then each finding's cause, fix, commands and why; repeated findings grouped."""
    blocks: list[Block] = []
    files: list[tuple[str, str]] = []
    for n, step in enumerate(steps):
        blocks += ([DividerBlock()] if n else []) + _step_blocks(step, files)
    kept, spill = within_message_limits([b.to_dict() for b in blocks])
    if spill:
        files.append(("steps-more.txt", spill))
    names = ", ".join(f"{s.number}. {s.title}" for s in steps)
    return SlackMessage(text=f"Needs attention: {names}", blocks=kept, files=files)


def _step_head(step: RunbookStep) -> str:
    where = f" — `{escape(step.cluster)}`" if step.cluster else ""
    return f"{STATUS_EMOJI[step.status]} *{step.number}. {escape(step.title)}*{where}"


def _run_lines(step: RunbookStep, run) -> list[str]:
    if len(step.runs) == 1:
        return list(run.evidence)
    return [f"{STATUS_MARK[run.status]} {step.run_label(run)}"] + [f"  {x}" for x in run.evidence]


def _step_blocks(step: RunbookStep, files: list[tuple[str, str]]) -> list[Block]:
    """A step in full: every run's evidence (a cluster that passed is the contrast to the one
    that failed), then its findings."""
    head, _ = fit_text(_step_head(step))
    blocks: list[Block] = [section(head)]
    for run in step.runs:
        lines = _run_lines(step, run)
        if not run.evidence:
            continue
        text, was_cut = code_block(lines)
        blocks.append(section(text))
        if was_cut:
            suffix = f"-{run.cluster}" if len(step.runs) > 1 and run.cluster else ""
            files.append((f"step-{step.number}{suffix}-evidence.txt",
                          "\n".join(run.evidence) + "\n"))
    for group in group_findings(step.findings):
        blocks += _finding_blocks(group.head)
        if group.more:
            lines = group.member_lines()
            more, was_cut = code_block(lines)
            blocks += [section(f"*{escape(group.more_heading())}*"), section(more)]
            if was_cut:
                files.append((f"step-{step.number}-{group.head.id}.txt", "\n".join(lines) + "\n"))
    return blocks


def _finding_blocks(f: RenderedFinding) -> list[Block]:
    """A finding: what and where, the cause, the fix steps, its commands in one copyable
    block, and why the fix works with the docs."""
    where = f" in `{escape(f.cluster)}`" if f.cluster else ""
    head, _ = fit_text(f"*{escape(f.title)}*{where}  `{f.id}` ({f.severity})\n{escape(f.cause)}")
    blocks: list[Block] = [section(head)]
    if f.fix:
        fix, _ = fit_text("*Fix*\n" + "\n".join(f"{n}. {escape(s)}" for n, s in enumerate(f.fix, 1)))
        blocks.append(section(fix))
    if f.commands:
        text, _ = code_block([line for cmd in f.commands for line in cmd.splitlines()])
        blocks.append(section(text))
    why, _ = fit_text(f"*Why it works:* {escape(f.why)} · <{f.docs}|docs>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=why)]))
    return blocks


def passed_message(steps: list[RunbookStep]) -> SlackMessage:
    """One reply listing the steps that passed or were skipped, one line each."""
    lines = []
    for step in steps:
        note = step.note()
        lines.append(f"{STATUS_EMOJI[step.status]} {step.number}. {escape(step.title)}"
                     + (f" — _{escape(note)}_" if note else ""))
    blocks = [section(chunk).to_dict() for chunk in _chunks(lines, MAX_SECTION)]
    counts = Counter(s.status for s in steps)
    summary = ", ".join(f"{n} {STATUS_WORD[k]}" for k, n in counts.items())
    return SlackMessage(text=f"Other steps: {summary}", blocks=blocks)


def _chunks(lines: list[str], limit: int) -> list[str]:
    """Lines joined into texts of at most `limit` characters (a longer line is cut)."""
    out: list[str] = []
    for line in lines:
        line = cut(line, limit)
        if out and len(out[-1]) + 1 + len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def thread(report: Report, command_text: str | None = None, asked_by: str | None = None,
           now: datetime | None = None) -> list[SlackMessage]:
    """The whole answer: the root, one reply with the steps that need attention (if any), one
    reply listing the others (if any)."""
    steps = runbook_steps(report)
    messages = [root_message(report, command_text, asked_by, now)]
    notable = [s for s in steps if s.notable]
    if notable:
        messages.append(problems_message(notable))
    rest = [s for s in steps if not s.notable]
    if rest:
        messages.append(passed_message(rest))
    return messages


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


# -- the Details view ---------------------------------------------------------------------------

def loading_view(command_text: str) -> dict[str, Any]:
    """What Details shows at once (a click's trigger_id lasts 3 s; the report may take longer)."""
    return message_view(f":hourglass_flowing_sand: Gathering the evidence of "
                        f"`/mesh {quote_command(command_text)}`…")


def message_view(mrkdwn: str) -> dict[str, Any]:
    """A Details view that only says something (loading, or what went wrong)."""
    return _view([section(fit_text(mrkdwn)[0]).to_dict()])


def details_view(report: Report, command_text: str) -> tuple[dict[str, Any], str | None]:
    """Every step's full evidence as a modal, and the whole text when the modal cannot hold it
    (to upload as a file): each step is its title and one code block per run."""
    head, _ = fit_text(f"{VERDICT_EMOJI[report.verdict]} *{report.verdict.upper()}* "
                       f"`/mesh {quote_command(command_text)}`\n{escape(report.summary)}")
    meta, _ = fit_text(escape(clusters_line(report)))
    blocks = [section(head).to_dict(),
              ContextBlock(elements=[MarkdownTextObject(text=meta)]).to_dict()]
    whole = [head, meta]
    was_cut = False
    for step in runbook_steps(report):
        title = _step_head(step)
        blocks.append(section(cut(title, MAX_SECTION)).to_dict())
        whole.append(title)
        for run in step.runs:
            if run.evidence:
                text, cut_here = code_block(_run_lines(step, run))
                blocks.append(section(text).to_dict())
                whole.append("\n".join(_run_lines(step, run)))
                was_cut = was_cut or cut_here
    kept, complete = _within_view(blocks)
    if complete and not was_cut:
        return _view(kept), None
    note = section(f"The whole evidence is in `{DETAILS_FILE}`, uploaded to the answer's "
                   "thread (in a terminal: `meshbot mesh ... -v`).").to_dict()
    return _view(kept + [note]), "\n\n".join(whole) + "\n"


def _within_view(blocks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """The blocks a modal holds (one kept free for a note), and whether they are all of them."""
    texts = [_text_of(b) for b in blocks]
    used, kept = 0, []
    for block, text in zip(blocks, texts):
        if len(kept) >= MAX_VIEW_BLOCKS - 1 or used + len(text) > MAX_VIEW_TEXT:
            break
        kept.append(block)
        used += len(text)
    return kept, len(kept) == len(blocks)


def _text_of(block: dict[str, Any]) -> str:
    text = block.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    return "\n".join(str(e.get("text", "")) for e in block.get("elements", []))


def _view(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "modal", "callback_id": "mesh_details",
            "title": {"type": "plain_text", "text": DETAILS_TITLE},
            "close": {"type": "plain_text", "text": "Close"}, "blocks": blocks}


# -- ping ---------------------------------------------------------------------------------------

def ping_message(report: Report, command_text: str = "ping", asked_by: str | None = None
                 ) -> SlackMessage:
    """The answer to `ping`: one message saying what meshbot read in each cluster and how
    long it took; posting it proves meshbot can post here."""
    ok = report.verdict == "healthy"
    head = (":large_green_circle: *pong* — meshbot reads every cluster and posts here" if ok
            else f"{VERDICT_EMOJI[report.verdict]} *pong, partly* — {escape(report.summary)}")
    lines = []
    for step in report.steps:
        where = escape(step.cluster or "mesh")
        seconds = report.read_seconds_by_cluster.get(step.cluster or "")
        took = f" in {seconds * 1000:.0f} ms" if seconds is not None and step.status == "pass" \
            else ""
        said = escape(step.evidence[0]) if step.evidence else step.status
        lines.append(f"{STATUS_EMOJI[step.status]} *{where}*: {said}{took}")
    body, _ = fit_text(head + "\n" + "\n".join(lines))
    meta, _ = fit_text(_meta(report, asked_by, None, None))
    blocks = [section(body), ContextBlock(elements=[MarkdownTextObject(text=meta)]),
              *command_buttons(command_text, details=False)]
    return SlackMessage(text=("pong" if ok else f"pong, partly: {report.summary}"),
                        blocks=[b.to_dict() for b in blocks])
