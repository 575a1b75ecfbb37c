"""From an ask to a posted answer: the bot's behaviour, independent of how Slack delivered it.

Slash commands, mentions, buttons and new incident channels all become an `Ask`. Parsing
happens before the ack, so a usage error is answered at once; everything slow (permissions, the
diagnosis, posting) runs in a tracked task after the ack. That task passes the gate (channel
permissions, user groups, the per-user rate limit) before it does anything else, whatever the
entry point, so no button, mention or event reaches a report around it. A diagnosis posts a root
message that says it is running, updates it in place with the verdict, then posts one reply per
step in its thread. A failure inside the diagnosis still ends as a reply that says what failed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import structlog

from bot import logs
from bot.blocks import SlackMessage, failure_message, progress_message, text_message, thread
from bot.gate import Gate
from bot.metrics import Metrics
from bot.poster import Poster
from diagnostics.model import Report
from diagnostics.render.json_report import render_json
from diagnostics.render.text import render_text
from handlers.base import Request, TextReply
from handlers.commands import parse, usage_text
from handlers.grammar import UsageError
from handlers.run import Answerer

log = logs.get("meshbot.bot")
audit = logs.get("meshbot.audit")


@dataclass
class Ask:
    """One request from Slack, whatever surface it came from."""

    text: str
    user: str
    channel: str
    trigger: str  # slash | mention | rerun | details | welcome (a new incident channel) | upload
    thread_ts: str | None = None  # answer inside this thread (mentions, re-runs in threads)
    fresh: bool = False  # bypass the report cache (Re-run)
    channel_name: str = ""  # welcome: the new channel's name
    files: tuple[str, ...] = ()  # upload: the ids of the shared archives (bot/uploads.py)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def usage_message(exc: UsageError) -> str:
    return f"{exc}\n```{usage_text(exc.command)}```"


class Responder:
    def __init__(self, answerer: Answerer, poster: Poster, gate: Gate, metrics: Metrics,
                 overall_timeout: float = 60.0):
        self.answerer, self.poster, self.gate, self.metrics = answerer, poster, gate, metrics
        self.overall_timeout = overall_timeout
        self.tasks: set[asyncio.Task] = set()
        self.roots: dict[str, tuple[Ask, str]] = {}  # request id -> (ask, root ts) while running
        self.digests = None  # bot.digest.DigestPublisher: `/mesh digest` posts the real digest
        self.channels = None  # bot.incident_channels.IncidentChannels: welcomes new channels
        self.uploads = None  # bot.uploads.Uploads: diagnoses archives shared with a command

    # -- before the ack ---------------------------------------------------------------------

    def parse(self, ask: Ask) -> Request | TextReply:
        """Parse the ask's text; raises UsageError with a message fit to show the asker."""
        return parse(ask.text, terminal=False)

    def spawn(self, ask: Ask, parsed: Request | TextReply) -> asyncio.Task:
        """Run the slow part after the ack, tracked so shutdown can wait for it.

        The "accepted" line carries the request id that every later line of this answer (posts,
        audit, failures) carries too: one id to grep from the ack to the last message."""
        log.info("accepted", request_id=ask.request_id, trigger=ask.trigger, user=ask.user,
                 channel=ask.channel)
        return self.track(self._guarded(ask, parsed), f"ask-{ask.request_id}")

    def track(self, coro, name: str) -> asyncio.Task:
        """Run background work (an answer, an alert, a digest) that shutdown waits for."""
        task = asyncio.create_task(self._logged(coro, name), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _logged(self, coro, name: str) -> None:
        try:
            await coro
        except Exception:  # noqa: BLE001 - background work must never die silently
            log.exception("background_task_failed", task=name)

    # -- after the ack ----------------------------------------------------------------------

    async def _guarded(self, ask: Ask, parsed: Request | TextReply) -> None:
        structlog.contextvars.bind_contextvars(request_id=ask.request_id)
        try:
            if isinstance(parsed, TextReply):  # help: always allowed
                await self.poster.post(ask.channel, text_message(parsed.text), ask.thread_ts)
            elif not await self._admitted(ask, parsed):
                return
            elif ask.trigger == "welcome" and self.channels is not None:
                await self.channels.welcome(ask.channel, ask.channel_name)
            elif ask.trigger == "upload" and self.uploads is not None:
                await self.uploads.answer(ask, parsed)
            elif ask.trigger == "details":
                await self._details(ask, parsed)
            elif parsed.command == "digest" and self.digests is not None:
                await self._digest(ask, parsed)
            else:
                await self._diagnose(ask, parsed)
        except Exception:  # noqa: BLE001 - the task must never die silently
            log.exception("ask_failed", user=ask.user, channel=ask.channel)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    async def _admitted(self, ask: Ask, request: Request) -> bool:
        """The one gate every ask passes: may this user run this command here, now? A refusal
        is ephemeral to the asker; a new channel's welcome, which nobody asked for, is only
        logged."""
        denial = await self.gate.check(ask.user, ask.channel, request.command)
        if denial is None:
            return True
        if ask.trigger != "welcome":
            await self.poster.ephemeral(ask.channel, ask.user, denial.text, ask.thread_ts)
        self._audit(ask, request, "denied", 0.0)
        return False

    async def _diagnose(self, ask: Ask, request: Request) -> None:
        root = await self.poster.post(ask.channel, progress_message(ask.text, ask.user), ask.thread_ts)
        if root:
            self.roots[ask.request_id] = (ask, root)
        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            report = await asyncio.wait_for(self.answerer.answer(request, fresh=ask.fresh),
                                            self.overall_timeout)
        except UsageError as exc:
            await self._replace_root(ask, root, text_message(usage_message(exc)))
            return
        except asyncio.TimeoutError:
            await self._failed(ask, request, root,
                               f"the diagnosis took longer than {self.overall_timeout:g}s")
            return
        except Exception as exc:  # noqa: BLE001 - report it in Slack, then keep serving
            log.exception("diagnosis_failed", command=request.command)
            await self._failed(ask, request, root, f"{type(exc).__name__}: {exc}")
            return
        finally:
            self.metrics.in_flight.dec()
            self.roots.pop(ask.request_id, None)
        await self._post_report(ask, root, report)
        self._record(ask, request, report, time.perf_counter() - started)

    async def _digest(self, ask: Ask, request: Request) -> None:
        started = time.perf_counter()
        outcome = await self.digests.publish(ask.channel, trigger=f"Asked by <@{ask.user}>",
                                             thread_ts=ask.thread_ts)
        self.metrics.commands.labels("digest", outcome, ask.trigger).inc()
        self._audit(ask, request, outcome, (time.perf_counter() - started) * 1000)

    async def _post_report(self, ask: Ask, root: str | None, report: Report) -> None:
        messages = thread(report, ask.text, ask.user)
        if root is None or not await self.poster.update(ask.channel, root, messages[0]):
            root = await self.poster.post(ask.channel, messages[0], ask.thread_ts)
        thread_ts = ask.thread_ts or root
        if thread_ts is None:
            return  # Slack refused even the root message; the error is logged and counted
        for message in messages[1:]:
            await self.poster.post(ask.channel, message, thread_ts)
        log.info("answered", channel=ask.channel, thread_ts=thread_ts, messages=len(messages))

    async def _replace_root(self, ask: Ask, root: str | None, message: SlackMessage) -> None:
        if root is None or not await self.poster.update(ask.channel, root, message):
            await self.poster.post(ask.channel, message, ask.thread_ts)

    async def _failed(self, ask: Ask, request: Request, root: str | None, what: str) -> None:
        await self._replace_root(ask, root, failure_message(ask.text, what, ask.user))
        thread_ts = ask.thread_ts or root
        if thread_ts:
            detail = text_message(f"What failed: {what}\nThe clusters were only read; press "
                                  "Re-run to try again, or run the same command in a terminal "
                                  "with `meshbot mesh ...` to see more.")
            await self.poster.post(ask.channel, detail, thread_ts)
        self.metrics.commands.labels(request.command, "failed", ask.trigger).inc()
        self._audit(ask, request, "failed", 0.0)

    async def _details(self, ask: Ask, request: Request) -> None:
        """The full report as files in the answer's thread (from the cache when still fresh)."""
        try:
            report = await asyncio.wait_for(self.answerer.answer(request), self.overall_timeout)
        except Exception as exc:  # noqa: BLE001
            await self.poster.ephemeral(ask.channel, ask.user, f"Details unavailable: {exc}",
                                        ask.thread_ts)
            return
        if ask.thread_ts:
            await self.poster.upload(ask.channel, ask.thread_ts, [
                ("meshbot-report.txt", render_text(report)),
                ("meshbot-report.json", render_json(report))])

    def _record(self, ask: Ask, request: Request, report: Report, seconds: float) -> None:
        self.metrics.commands.labels(request.command, report.verdict, ask.trigger).inc()
        self._audit(ask, request, report.verdict, seconds * 1000, cached=report.cached)

    def _audit(self, ask: Ask, request: Request, verdict: str, duration_ms: float,
               **extra: object) -> None:
        audit.info("command", user=ask.user, channel=ask.channel, trigger=ask.trigger,
                   command=request.command, args=request.args, verdict=verdict,
                   duration_ms=round(duration_ms, 1), **extra)

    async def drain(self, timeout: float) -> int:
        """Let in-flight answers finish; those still running after `timeout` are cancelled and
        their root message says they were interrupted. Returns how many were interrupted."""
        pending = set(self.tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout)
        interrupted = list(self.roots.values())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        for ask, root in interrupted:
            await self.poster.update(ask.channel, root, failure_message(
                ask.text, "interrupted: meshbot was restarting; press Re-run", ask.user))
        return len(pending)
