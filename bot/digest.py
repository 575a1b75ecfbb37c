"""The mesh health digest: what is wrong now, what changed since the last one, and the trend.

The content is the `digest` command's report (the mesh-wide checks of control-plane,
remote-clusters, trust and proxy-status). Each digest leaves a small summary in the store; the
next one compares against it (new and resolved problems, counts trending) and draws the last 14
as a chart. The root message is the summary; details go in its thread, within Block Kit limits
at any mesh size. A quiet mesh gets a short green digest, or none with `skip_if_healthy`.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject

from bot import logs
from bot.answer_blocks import findings_digest, problems_message
from bot.blocks import (DETAILS_ACTION, RERUN_ACTION, STATUS_EMOJI, VERDICT_EMOJI, SlackMessage,
                        escape, fit_text, section, text_message)
from bot.pictures import TOPOLOGY_FILE, topology_png
from bot.poster import Poster
from diagnostics.model import Report
from diagnostics.render.steps import runbook_steps
from diagnostics.store.base import KEY_PREFIX, Store, StoreError
from handlers.base import Request
from handlers.commands import parse
from handlers.run import Answerer

log = logs.get("meshbot.digest")
HISTORY_LENGTH = 14
HISTORY_TTL = 60 * 24 * 3600.0
DIGEST_COMMAND = "digest"


@dataclass
class Summary:
    """What one digest remembers, for the next one's change list and the trend chart."""

    at: str
    verdict: str
    errors: int = 0
    warnings: int = 0
    infos: int = 0
    proxies: int = 0
    out_of_sync: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # key -> title


def _problem_key(f) -> str:
    return f"{f.id}|{f.cluster or ''}|{f.resource or ''}"


def summarize(report: Report, at: datetime) -> Summary:
    severities = Counter(f.severity for f in report.findings)
    out = Summary(at=at.strftime("%Y-%m-%dT%H:%M:%SZ"), verdict=report.verdict,
                  errors=severities["error"], warnings=severities["warning"],
                  infos=severities["info"],
                  problems={_problem_key(f): f.title for f in report.findings
                            if f.severity in ("error", "warning")})
    for step in report.steps:
        states = step.data.get("by_state") if step.check == "proxy-sync" else None
        if states:
            out.proxies += sum(states.values())
            out.out_of_sync += sum(n for s, n in states.items() if s in ("STALE", "ERROR"))
    return out


@dataclass
class Changes:
    new: list[str]
    resolved: list[str]
    previous: Summary | None

    def lines(self, current: Summary) -> list[str]:
        if self.previous is None:
            return ["First digest here: nothing to compare with yet."]
        p = self.previous
        out = [f":new: {t}" for t in self.new] + [f":white_check_mark: resolved: {t}"
                                                  for t in self.resolved]
        trend = (f"errors {p.errors} → {current.errors}, warnings {p.warnings} → "
                 f"{current.warnings}, proxies out of sync {p.out_of_sync} → {current.out_of_sync}")
        if not self.new and not self.resolved:
            out.append("No change in problems since the last digest.")
        out.append(f"Since {p.at}: {trend}.")
        return out


def compare(previous: Summary | None, current: Summary) -> Changes:
    if previous is None:
        return Changes([], [], None)
    new = [t for k, t in current.problems.items() if k not in previous.problems]
    resolved = [t for k, t in previous.problems.items() if k not in current.problems]
    return Changes(new, resolved, previous)


class History:
    """The last digests of one digest entry, in the shared store."""

    def __init__(self, store: Store, name: str):
        self.store, self.key = store, f"{KEY_PREFIX}digest-history:{name}"

    async def load(self) -> list[Summary]:
        try:
            raw = await self.store.get(self.key)
        except StoreError:
            return []
        try:
            return [Summary(**s) for s in json.loads(raw)] if raw else []
        except (ValueError, TypeError):
            return []

    async def append(self, summary: Summary) -> list[Summary]:
        items = (await self.load() + [summary])[-HISTORY_LENGTH:]
        try:
            await self.store.set(self.key, json.dumps([asdict(s) for s in items]).encode(),
                                 HISTORY_TTL)
        except StoreError:
            pass
        return items


def chart_png(history: list[Summary]) -> bytes:
    """A small trend chart: findings by severity and proxies out of sync, per digest.

    Built with matplotlib's object API, not pyplot: no global figure state, so it is safe on a
    worker thread (the digest renders it off the event loop; importing matplotlib and drawing
    take long enough to delay Slack acks)."""
    from matplotlib.figure import Figure

    labels = [s.at[5:10] for s in history]
    x = list(range(len(history)))
    fig = Figure(figsize=(6, 2.4), dpi=100)
    ax = fig.subplots()
    ax.plot(x, [s.errors for s in history], marker="o", color="#d62728", label="errors")
    ax.plot(x, [s.warnings for s in history], marker="o", color="#ff7f0e", label="warnings")
    ax.plot(x, [s.out_of_sync for s in history], marker="s", color="#1f77b4",
            label="proxies out of sync")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Mesh health, last {len(history)} digests", fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3,
              frameon=False)  # above the plot, clear of the lines
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _cluster_lines(report: Report) -> list[str]:
    """One line per cluster: the worst status of each part of the digest there."""
    parts: dict[str, dict[str, str]] = {}
    order = ("error", "fail", "warn", "skip", "pass")
    for step in report.steps:
        clusters = [step.cluster] if step.cluster else [c.name for c in report.clusters]
        for c in clusters:
            current = parts.setdefault(c, {}).get(step.title)
            if current is None or order.index(step.status) < order.index(current):
                parts[c][step.title] = step.status
    lines = []
    for c in [c.name for c in report.clusters]:
        statuses = parts.get(c, {})
        bad = [t for t, s in statuses.items() if s in ("fail", "error")]
        mark = STATUS_EMOJI["fail"] if bad else STATUS_EMOJI["pass"]
        lines.append(f"{mark} *{escape(c)}*" + (f": {escape(', '.join(bad))}" if bad else ": all checks pass"))
    return lines


def root_message(report: Report, summary: Summary, changes: Changes, trigger: str) -> SlackMessage:
    head = (f"{VERDICT_EMOJI[report.verdict]} *Mesh health digest* · {report.verdict.upper()} · "
            f"{summary.errors} error{'s' if summary.errors != 1 else ''}, "
            f"{summary.warnings} warning{'s' if summary.warnings != 1 else ''}")
    if summary.proxies:
        head += f", {summary.out_of_sync}/{summary.proxies} proxies out of sync"
    body = [head, escape(report.summary), *_cluster_lines(report)]
    if changes.previous is not None:
        body.append(f"Since the last digest: {len(changes.new)} new, {len(changes.resolved)} "
                    "resolved")
    text, _ = fit_text("\n".join(body))
    blocks = [section(text),
              ContextBlock(elements=[MarkdownTextObject(text=trigger[:2900])]),  # meshbot's text
              ActionsBlock(block_id="mesh_actions", elements=[
                  ButtonElement(text="Re-run", action_id=RERUN_ACTION, value=DIGEST_COMMAND),
                  ButtonElement(text="Details", action_id=DETAILS_ACTION, value=DIGEST_COMMAND)])]
    return SlackMessage(text=f"Mesh health digest: {report.verdict}"[:3000],
                        blocks=[b.to_dict() for b in blocks])


def thread_messages(report: Report, summary: Summary, changes: Changes) -> list[SlackMessage]:
    """The thread: what changed, the findings, then every step that is not clean, in one reply
    (numbered as `meshbot mesh digest` numbers them)."""
    messages = [text_message("\n".join(changes.lines(summary)))]
    if report.findings:
        messages.append(findings_digest(report))
    notable = [s for s in runbook_steps(report) if s.notable]
    if notable:
        messages.append(problems_message(notable))
    return messages


def is_quiet(report: Report) -> bool:
    return report.verdict in ("healthy", "expected") and not report.findings


class DigestPublisher:
    """Runs the digest and posts it: root, thread, chart; remembers it for the next one."""

    def __init__(self, answerer: Answerer, poster: Poster, store: Store,
                 histories: dict[str, str] | None = None):
        self.answerer, self.poster, self.store = answerer, poster, store
        # A channel with a scheduled digest shares its history with on-demand digests there.
        self.histories = histories or {}

    async def publish(self, channel: str, *, trigger: str, history: str | None = None,
                      skip_if_healthy: bool = False, thread_ts: str | None = None,
                      fresh: bool = True) -> str:
        request = parse(DIGEST_COMMAND, terminal=False)
        assert isinstance(request, Request)
        report = await self.answerer.answer(request, fresh=fresh)
        at = datetime.strptime(report.generated_at, "%Y-%m-%dT%H:%M:%SZ")
        summary = summarize(report, at)
        past = History(self.store, history or self.histories.get(channel, f"channel:{channel}"))
        changes = compare((await past.load() or [None])[-1], summary)
        trend = await past.append(summary)
        if skip_if_healthy and is_quiet(report):
            log.info("digest_skipped", channel=channel, reason="healthy")
            return "skipped"
        if is_quiet(report) and not changes.resolved:
            replies: list[SlackMessage] = []  # a quiet mesh: the short green root says it all
        else:
            replies = thread_messages(report, summary, changes)
        root = await self.poster.post(channel, root_message(report, summary, changes, trigger),
                                      thread_ts)
        if root is None:
            return "not_posted"
        where = thread_ts or root
        for message in replies:
            await self.poster.post(channel, message, where)
        if replies and len(trend) >= 2:  # a short green digest needs no picture
            png = await asyncio.to_thread(chart_png, trend)
            await self.poster.upload(channel, where, [("mesh-health-trend.png", png)])
        if replies:  # beside the chart: where the mesh's links stand this morning
            topology = await topology_png(report)
            if topology is not None:
                await self.poster.upload(channel, where, [(TOPOLOGY_FILE, topology)])
        log.info("digest_posted", channel=channel, verdict=report.verdict, replies=len(replies))
        return "posted"
