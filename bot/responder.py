"""From an ask to a posted answer: the bot's behaviour, independent of how Slack delivered it.

Slash commands, mentions, buttons and new incident channels all become an `Ask`. Parsing
happens before the ack, so a usage error is answered at once; everything slow (permissions, the
diagnosis, posting) runs in a tracked task after the ack. That task passes the gate (channel
permissions, user groups, the per-user rate limit) before it does anything else, whatever the
entry point, so no button, mention or event reaches a report around it.

A diagnosis posts a root message that says it is running, updates it in place with the verdict,
then posts at most two replies in its thread (bot/answer_blocks.py). A failure inside the
diagnosis still ends as a message that says what failed.

Every asker gets an answer. In a channel the bot has not joined, Slack refuses its posts
(`not_in_channel`): the bot joins the channel where it may (public channels), else answers
through the ask's `response_url` (which needs no membership) without a thread, saying how to
invite it; with neither, it tells the asker in a direct message. Refusals and usage errors are
ephemeral to the asker, through the response_url where an ephemeral post is refused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import structlog
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from bot import logs
from bot.answer_blocks import (DETAILS_FILE, details_view, loading_view, message_view,
                               ping_message, thread)
from bot.blocks import (SlackMessage, escape, failure_message, progress_message,
                        quote_command, text_message)
from bot.gate import Gate
from bot.metrics import Metrics
from bot.pictures import TOPOLOGY_FILE, topology_png, wants_picture
from bot.poster import NOT_IN_CHANNEL, Poster
from diagnostics.model import Report
from diagnostics.render.json_report import render_json
from diagnostics.render.text import render_text
from handlers.base import Request, TextReply
from handlers.commands import parse, usage_text
from handlers.grammar import UsageError
from handlers.run import Answerer

log = logs.get("meshbot.bot")
audit = logs.get("meshbot.audit")
DETAILS_WIDTH = 100  # columns of the Details file (Slack's snippet view wraps nothing)
JOINABLE_TRIGGERS = ("slash", "rerun")  # asks whose asker expects an answer in the channel


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
    response_url: str | None = None  # slash commands and buttons: reaches the asker anywhere
    trigger_id: str | None = None  # buttons: opens the Details view (valid for 3 s)
    bot_user: str | None = None  # the bot's user id, to say how to invite it
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass
class Answering:
    """Where an answer is going: a root message in the channel (updated in place, replies in
    its thread), or the ask's response_url where the bot cannot post."""

    root: str | None = None
    via_url: bool = False


def usage_message(exc: UsageError) -> str:
    return f"{exc}\n```{usage_text(exc.command)}```"


def invite_hint(ask: Ask) -> str:
    who = f"<@{ask.bot_user}>" if ask.bot_user and ask.bot_user.isalnum() else "@meshbot"
    return f"`/invite {who}` in this channel"


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

    # -- telling the asker ------------------------------------------------------------------

    async def tell(self, ask: Ask, text: str) -> None:
        """Something for the asker only (a usage error, a refusal): ephemeral in the channel,
        through the response_url where the bot may not post, by direct message at worst."""
        if await self.poster.ephemeral(ask.channel, ask.user, text, ask.thread_ts):
            return
        if ask.response_url and await self.poster.respond(ask.response_url, text_message(text)):
            return
        await self._direct(ask, text)

    async def _direct(self, ask: Ask, text: str) -> None:
        """The last way to reach the asker: a direct message naming the channel."""
        note = (f"About `/mesh {quote_command(ask.text)}` in <#{ask.channel}>: {text}"
                if ask.channel.isalnum() else text)
        if await self.poster.post(ask.user, text_message(note)) is None:
            log.error("asker_unreachable", user=ask.user, channel=ask.channel)

    # -- after the ack ----------------------------------------------------------------------

    async def _guarded(self, ask: Ask, parsed: Request | TextReply) -> None:
        structlog.contextvars.bind_contextvars(request_id=ask.request_id)
        try:
            if isinstance(parsed, TextReply):  # help: always allowed
                await self._say(ask, text_message(parsed.text))
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
            await self.tell(ask, denial.text)
        self._audit(ask, request, "denied", 0.0)
        return False

    async def _say(self, ask: Ask, message: SlackMessage) -> None:
        """A single message in the channel (or thread), wherever the asker can see it."""
        answering = await self._open(ask, message)
        if answering.via_url:
            await self._respond(ask, [message])

    async def _open(self, ask: Ask, message: SlackMessage) -> Answering:
        """Post the first message of an answer; where the bot is not a member, join the
        channel if it may, else answer through the response_url from now on."""
        ts, error = await self.poster.try_post(ask.channel, message, ask.thread_ts)
        if ts is None and error in NOT_IN_CHANNEL and ask.trigger in JOINABLE_TRIGGERS \
                and await self.poster.join(ask.channel):
            log.info("joined_to_answer", channel=ask.channel)
            ts, error = await self.poster.try_post(ask.channel, message, ask.thread_ts)
        if ts is not None or error not in NOT_IN_CHANNEL:
            return Answering(root=ts)
        return Answering(via_url=True)

    async def _respond(self, ask: Ask, messages: list[SlackMessage]) -> None:
        """The answer through the response_url, in the channel, without a thread: the first
        message says why and how to invite the bot. With no usable response_url, the asker
        hears it by direct message."""
        note = (f"meshbot is not a member of this channel, so this answer comes without a "
                f"thread or attachments: {invite_hint(ask)} for threaded answers.")
        first = SlackMessage(text=messages[0].text, blocks=messages[0].blocks + [
            ContextBlock(elements=[MarkdownTextObject(text=note)]).to_dict()])
        answered = bool(ask.response_url)
        for message in [first, *messages[1:]]:
            if answered:
                answered = await self.poster.respond(ask.response_url, message, in_channel=True)
        if not answered:
            await self._direct(ask, f"meshbot could not answer there: it is not a member of "
                                    f"the channel. Invite it with {invite_hint(ask)}, then ask "
                                    "again.")
        log.info("answered_via_response_url", channel=ask.channel, messages=len(messages),
                 ok=answered)

    async def _diagnose(self, ask: Ask, request: Request) -> None:
        answering = await self._open(ask, progress_message(ask.text, ask.user))
        if answering.via_url and ask.response_url:
            await self.poster.respond(ask.response_url, text_message(
                f":hourglass_flowing_sand: Diagnosing `/mesh {quote_command(ask.text)}`… "
                f"(meshbot is not in this channel: {invite_hint(ask)} for threaded answers)"))
        if answering.root:
            self.roots[ask.request_id] = (ask, answering.root)
        started = time.perf_counter()
        self.metrics.in_flight.inc()
        fresh = ask.fresh or request.command == "ping"  # a ping proves a read now
        try:
            report = await asyncio.wait_for(self.answerer.answer(request, fresh=fresh),
                                            self.overall_timeout)
        except UsageError as exc:
            await self._finish(ask, answering, [text_message(usage_message(exc))])
            return
        except asyncio.TimeoutError:
            await self._failed(ask, request, answering,
                               f"the diagnosis took longer than {self.overall_timeout:g}s")
            return
        except Exception as exc:  # noqa: BLE001 - report it in Slack, then keep serving
            log.exception("diagnosis_failed", command=request.command)
            await self._failed(ask, request, answering, f"{type(exc).__name__}: {exc}")
            return
        finally:
            self.metrics.in_flight.dec()
            self.roots.pop(ask.request_id, None)
        messages = [ping_message(report, ask.text, ask.user)] if request.command == "ping" \
            else thread(report, ask.text, ask.user)
        thread_ts = await self._finish(ask, answering, messages)
        self._record(ask, request, report, time.perf_counter() - started)
        if thread_ts and wants_picture(report):  # after the text, never before it
            await self._picture(ask.channel, thread_ts, report)

    async def _picture(self, channel: str, thread_ts: str, report: Report) -> None:
        png = await topology_png(report)
        if png is None:
            return
        try:
            await self.poster.upload(channel, thread_ts, [(TOPOLOGY_FILE, png)])
        except (asyncio.TimeoutError, OSError) as exc:  # the text is posted; say it in the log
            log.warning("picture_not_uploaded", channel=channel, error=type(exc).__name__)

    async def _finish(self, ask: Ask, answering: Answering, messages: list[SlackMessage]
                      ) -> str | None:
        """The root replaced by the answer's first message, the rest in its thread; the
        thread's ts (None where the answer went through the response_url or was refused)."""
        if answering.via_url:
            await self._respond(ask, messages)
            return None
        root = answering.root
        if root is None or not await self.poster.update(ask.channel, root, messages[0]):
            root = await self.poster.post(ask.channel, messages[0], ask.thread_ts)
        thread_ts = ask.thread_ts or root
        if thread_ts is None:
            return None  # Slack refused even the root message; the error is logged and counted
        for message in messages[1:]:
            await self.poster.post(ask.channel, message, thread_ts)
        log.info("answered", channel=ask.channel, thread_ts=thread_ts, messages=len(messages))
        return thread_ts

    async def _failed(self, ask: Ask, request: Request, answering: Answering, what: str) -> None:
        detail = text_message(f"What failed: {what}\nThe clusters were only read; press "
                              "Re-run to try again, or run the same command in a terminal "
                              "with `meshbot mesh ...` to see more.")
        await self._finish(ask, answering, [failure_message(ask.text, what, ask.user), detail])
        self.metrics.commands.labels(request.command, "failed", ask.trigger).inc()
        self._audit(ask, request, "failed", 0.0)

    async def _digest(self, ask: Ask, request: Request) -> None:
        started = time.perf_counter()

        async def publish() -> str:
            return await self.digests.publish(ask.channel, trigger=f"Asked by <@{ask.user}>",
                                              thread_ts=ask.thread_ts)
        outcome = await publish()
        if outcome == "not_posted" and ask.trigger in JOINABLE_TRIGGERS \
                and await self.poster.join(ask.channel):
            outcome = await publish()
        if outcome == "not_posted":
            await self.tell(ask, f"meshbot could not post the digest here: it is not a member "
                                 f"of this channel. Invite it with {invite_hint(ask)}.")
        self.metrics.commands.labels("digest", outcome, ask.trigger).inc()
        self._audit(ask, request, outcome, (time.perf_counter() - started) * 1000)

    async def _details(self, ask: Ask, request: Request) -> None:
        """Every step's evidence in a modal for the one who clicked (a loading view first:
        the click's trigger_id lasts 3 s); what the modal cannot hold, or the whole report
        when no modal opens, as files in the answer's thread."""
        view_id = await self.poster.open_view(ask.trigger_id, loading_view(ask.text)) \
            if ask.trigger_id else None
        try:
            report = await asyncio.wait_for(self.answerer.answer(request), self.overall_timeout)
        except Exception as exc:  # noqa: BLE001 - say it where the asker is looking
            what = f"Details unavailable: {type(exc).__name__}: {exc}"
            if not (view_id and await self.poster.update_view(view_id,
                                                              message_view(escape(what)))):
                await self.tell(ask, what)
            return
        view, overflow = details_view(report, ask.text)
        shown = view_id is not None and await self.poster.update_view(view_id, view)
        files = [] if shown and overflow is None else \
            [(DETAILS_FILE, render_text(report, width=DETAILS_WIDTH, verbose=True))]
        if not shown:
            files.append(("meshbot-report.json", render_json(report)))
        if files and not (ask.thread_ts and await self.poster.upload(ask.channel, ask.thread_ts,
                                                                     files)):
            if not shown:
                await self.tell(ask, "Details could not be shown here; run "
                                f"`meshbot mesh {quote_command(ask.text)} -v` in a terminal.")

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
