"""New incident channels get a mesh health snapshot within seconds of being created.

A `channel_created` event whose name matches `incidents.channel_name_patterns` (shell-style,
e.g. `inc-*`): meshbot joins the channel and posts the digest's short form, saying what
triggered it and offering Re-run and Details.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from bot import logs
from bot.answer_blocks import findings_digest, root_message
from bot.poster import Poster
from handlers.base import Request
from handlers.commands import parse
from handlers.run import Answerer

log = logs.get("meshbot.incidents")
SNAPSHOT_COMMAND = "digest"


class IncidentChannels:
    def __init__(self, patterns: list[str], poster: Poster, answerer: Answerer):
        self.patterns, self.poster, self.answerer = patterns, poster, answerer

    def matches(self, name: str) -> bool:
        return any(fnmatchcase(name, p) for p in self.patterns)

    async def welcome(self, channel: str, name: str) -> None:
        if not await self.poster.join(channel):
            log.warning("incident_channel_not_joined", channel=channel, name=name)
            return
        request = parse(SNAPSHOT_COMMAND, terminal=False)
        assert isinstance(request, Request)
        report = await self.answerer.answer(request)
        root = await self.poster.post(channel, root_message(
            report, SNAPSHOT_COMMAND, trigger=f"Mesh health snapshot for new incident channel #{name}"))
        if root:
            await self.poster.post(channel, findings_digest(report), root)
        log.info("incident_channel_snapshot", channel=channel, name=name, verdict=report.verdict)
