"""Archives uploaded to Slack, diagnosed in the file's thread.

`@meshbot why-local-only helloworld -n sample` with an istioctl bug-report (or a meshbot
snapshot) attached, in a channel where meshbot is or in its DM, asks about the mesh in the
archive instead of the mesh meshbot watches. The message sharing the files becomes an upload
ask; after the gate (`Responder._admitted`, like every ask), each file is looked up with
`files.info` and downloaded from its `url_private` with the bot token (scope `files:read`)
into a private temporary folder, within the size limit. The archives are read as one mesh
(`Snapshot.open_many`: a bug-report is translated, its secrets redacted on read), diagnosed
without the report cache (an upload is not the watched mesh, and nothing of it should outlive
the answer), and answered in the file's thread. The folder is removed whatever happens.

A bad upload (not gzip, a member outside the archive, a link, too big, too many files,
neither a bug-report nor a snapshot) gets an ephemeral answer saying what is wrong. The bot
token is sent to Slack's file host or the configured Web API host only, never to another
address a file record might carry.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.answer_blocks import thread
from bot.blocks import SlackMessage, escape, failure_message, progress_message, text_message
from bot.metrics import Metrics
from bot.poster import Poster
from diagnostics.config import UploadsConfig
from diagnostics.model import Report
from diagnostics.snapshot import MIB, ArchiveLimits, Snapshot, SnapshotError
from diagnostics.sources.snapshot import SnapshotSource
from handlers.base import Request
from handlers.grammar import UsageError, shown
from handlers.run import Answerer

log = logs.get("meshbot.uploads")
audit = logs.get("meshbot.audit")
MAX_FILES = 8  # archives in one message (one per cluster)
MAX_CONCURRENT = 2  # uploads read at once: each may unpack and translate up to the limits
DEFAULT_COMMAND = "digest"  # an archive shared without a command: the mesh's health
DOWNLOAD_TIMEOUT = 120.0
SLACK_FILE_HOST = ("https", "files.slack.com")
_CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


class UploadError(Exception):
    """What is wrong with an upload, said to the person who shared it."""


def shared_files(event: dict) -> tuple[str, ...]:
    """The ids of the files a message event shares (Slack sends full or partial file
    objects; only the id is trusted, the rest is asked of files.info)."""
    files = event.get("files") if isinstance(event.get("files"), list) else []
    return tuple(str(f["id"]) for f in files if isinstance(f, dict) and f.get("id"))


def with_files(ask: Any, event: dict) -> Any:
    """The ask of a message that shares files becomes an upload ask (its command defaults to
    the health digest); any other ask is returned as it is."""
    files = shared_files(event)
    if not files:
        return ask
    return replace(ask, trigger="upload", files=files, text=ask.text.strip() or DEFAULT_COMMAND)


@dataclass(frozen=True)
class UploadLimits:
    archive_bytes: int
    unpacked_bytes: int
    files: int

    @classmethod
    def of(cls, config: UploadsConfig) -> "UploadLimits":
        return cls(config.max_archive_mib * MIB, config.max_unpacked_mib * MIB, config.max_files)

    def archive(self) -> ArchiveLimits:
        return ArchiveLimits(members=self.files, member_bytes=min(self.unpacked_bytes, 512 * MIB),
                             total_bytes=self.unpacked_bytes)


class Uploads:
    """Downloads, reads and diagnoses the archives of an upload ask, then posts the answer."""

    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession, poster: Poster,
                 metrics: Metrics, config: UploadsConfig, *, api_base_url: str | None,
                 timeout: float, overall_timeout: float, root: Path | None = None):
        self.client, self.session, self.poster, self.metrics = client, session, poster, metrics
        self.enabled, self.limits = config.enabled, UploadLimits.of(config)
        self.timeout, self.overall_timeout, self.root = timeout, overall_timeout, root
        api = urlsplit(api_base_url or "https://slack.com/api/")
        self.hosts = {SLACK_FILE_HOST, (api.scheme, api.hostname)}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    async def answer(self, ask: Any, request: Request) -> None:
        """Diagnose the uploaded archives and answer in the file's thread."""
        started = time.perf_counter()
        if not self.enabled:
            await self._refuse(ask, request, "meshbot is set not to read uploaded archives "
                               "(uploads.enabled: false in its config)")
            return
        async with self._slots:
            folder = Path(tempfile.mkdtemp(prefix="meshbot-upload-", dir=self.root))
            try:
                try:
                    snapshot = await self._read(ask.files, folder)
                except UploadError as exc:
                    await self._refuse(ask, request, str(exc))
                    return
                await self._diagnose(ask, request, snapshot, started)
            finally:
                await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _refuse(self, ask: Any, request: Request, why: str) -> None:
        await self.poster.ephemeral(ask.channel, ask.user, f":warning: {why}", ask.thread_ts)
        self.metrics.commands.labels(request.command, "refused", "upload").inc()
        audit.info("command", user=ask.user, channel=ask.channel, trigger="upload",
                   command=request.command, args=request.args, verdict="refused",
                   files=len(ask.files))

    # -- files ------------------------------------------------------------------------------

    async def _read(self, files: tuple[str, ...], folder: Path) -> Snapshot:
        if len(files) > MAX_FILES:
            raise UploadError(f"{len(files)} files were shared; meshbot reads at most "
                              f"{MAX_FILES} archives at once (one per cluster)")
        paths, names = [], {}
        for i, file_id in enumerate(files):
            path, names[f"upload-{i}"] = await self._download(file_id, folder / f"upload-{i}")
            paths.append(path)
        work = folder / "work"
        work.mkdir()
        try:
            return await asyncio.to_thread(Snapshot.open_many, paths, self.limits.archive(), work)
        except SnapshotError as exc:
            raise UploadError(_readable(str(exc), folder, names)) from None

    async def _info(self, file_id: str) -> dict:
        try:
            resp = await self.client.files_info(file=file_id)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown")
            hint = " (the app needs the files:read scope)" if error == "missing_scope" else ""
            raise UploadError(f"Slack would not describe the shared file: {error}{hint}") \
                from None
        except SlackClientError as exc:
            raise UploadError(f"Slack could not be asked about the shared file: {exc}") from None
        return resp.get("file") or {}

    async def _download(self, file_id: str, path: Path) -> tuple[Path, str]:
        """The file saved at `path` (a name of meshbot's, never the uploader's), and its name
        as the uploader sees it, quoted for a message."""
        info = await self._info(file_id)
        name = escape(shown(str(info.get("name") or file_id)))
        size = int(info.get("size") or 0)
        if size > self.limits.archive_bytes:
            raise UploadError(f"{name} is {size / MIB:,.0f} MiB; meshbot reads archives of at "
                              f"most {self.limits.archive_bytes // MIB:,} MiB")
        url = str(info.get("url_private_download") or info.get("url_private") or "")
        parts = urlsplit(url)
        if (parts.scheme, parts.hostname) not in self.hosts:
            raise UploadError(f"Slack gave no download address for {name} on its own file host")
        await self._fetch(url, path, name)
        with path.open("rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                raise UploadError(f"{name} is not a gzip-compressed archive: upload the "
                                  "bug-report.tar.gz that `istioctl bug-report` wrote (one per "
                                  "cluster), or a snapshot from `meshbot snapshot --out x.tar.gz`")
        return path, name

    async def _fetch(self, url: str, path: Path, name: str) -> None:
        headers = {"Authorization": f"Bearer {self.client.token}"}
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        try:
            async with self.session.get(url, headers=headers, allow_redirects=False,
                                        timeout=timeout) as resp:
                if resp.status in _REDIRECTS or resp.content_type == "text/html":
                    raise UploadError(f"Slack did not hand over {name} (it answered with a "
                                      "sign-in page): the app needs the files:read scope")
                if resp.status != 200:
                    raise UploadError(f"downloading {name} failed: HTTP {resp.status}")
                await self._save(resp, path, name)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise UploadError(f"downloading {name} failed: {type(exc).__name__}") from None

    async def _save(self, resp: aiohttp.ClientResponse, path: Path, name: str) -> None:
        written = 0
        with path.open("wb") as fh:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                written += len(chunk)
                if written > self.limits.archive_bytes:
                    raise UploadError(f"{name} is larger than {self.limits.archive_bytes // MIB:,}"
                                      " MiB, the most meshbot reads")
                fh.write(chunk)

    # -- the answer -------------------------------------------------------------------------

    async def _diagnose(self, ask: Any, request: Request, snapshot: Snapshot,
                        started: float) -> None:
        root = await self.poster.post(ask.channel, progress_message(ask.text, ask.user),
                                      ask.thread_ts)
        answerer = Answerer(SnapshotSource(snapshot), None, self.timeout)
        try:
            report = await asyncio.wait_for(answerer.answer(request), self.overall_timeout)
        except UsageError as exc:
            await self._replace(ask, root, text_message(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - say it in the thread, keep serving
            log.exception("upload_diagnosis_failed", command=request.command)
            what = "the diagnosis took too long" if isinstance(exc, asyncio.TimeoutError) \
                else f"{type(exc).__name__}: {exc}"
            await self._replace(ask, root, _without_buttons(failure_message(ask.text, what,
                                                                            ask.user)))
            return
        await self._post(ask, root, upload_thread(report, ask, snapshot))
        seconds = time.perf_counter() - started
        self.metrics.commands.labels(request.command, report.verdict, "upload").inc()
        audit.info("command", user=ask.user, channel=ask.channel, trigger="upload",
                   command=request.command, args=request.args, verdict=report.verdict,
                   duration_ms=round(seconds * 1000, 1), files=len(ask.files))

    async def _replace(self, ask: Any, root: str | None, message: SlackMessage) -> None:
        if root is None or not await self.poster.update(ask.channel, root, message):
            await self.poster.post(ask.channel, message, ask.thread_ts)

    async def _post(self, ask: Any, root: str | None, messages: list[SlackMessage]) -> None:
        await self._replace(ask, root, messages[0])
        for message in messages[1:]:
            await self.poster.post(ask.channel, message, ask.thread_ts)
        log.info("upload_answered", channel=ask.channel, thread_ts=ask.thread_ts,
                 messages=len(messages), files=len(ask.files))


def _readable(message: str, folder: Path, names: dict[str, str]) -> str:
    """A SnapshotError as the uploader reads it: the file's own name, not this host's paths."""
    text = escape(message.replace(f"{folder}/", ""))
    for ours, theirs in names.items():
        text = text.replace(ours, theirs)
    return text


def _without_buttons(message: SlackMessage) -> SlackMessage:
    """Re-run and Details would ask the watched mesh, not the archive: an upload's answer
    has none (upload the archive again to ask again)."""
    blocks = [b for b in message.blocks if b.get("type") != "actions"]
    return SlackMessage(message.text, blocks, list(message.files))


def upload_thread(report: Report, ask: Any, snapshot: Snapshot) -> list[SlackMessage]:
    """The thread of an answer about uploaded archives: the usual thread, its root saying
    where the clusters came from and without buttons."""
    messages = thread(report, ask.text, ask.user)
    root = _without_buttons(messages[0])
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(
        describe(snapshot))[:2900]}]}
    return [SlackMessage(root.text, root.blocks + [note], root.files), *messages[1:]]


def describe(snapshot: Snapshot) -> str:
    """One line per cluster read: what it came from and what it lacks."""
    lines = []
    for key, cs in snapshot.clusters.items():
        report = snapshot.bug_reports.get(key)
        if report is None:
            lines.append(f"{key}: a meshbot snapshot")
            continue
        made = f"istioctl {report.get('istioctl') or '?'} bug-report"
        gaps = [k for k in ("secrets", "events", "endpoints") if not cs.captured(k)]
        lacks = f"; not captured: {', '.join(gaps)}" if gaps else ""
        lines.append(f"context {cs.context or key}: {made}{lacks}")
    hint = " · Secrets are not in a bug-report without --full-secrets: the remote-secret steps " \
        "were skipped (a `meshbot snapshot` has them, redacted)" \
        if any(not cs.captured("secrets") for k, cs in snapshot.clusters.items()
               if k in snapshot.bug_reports) else ""
    return "Read from the uploaded archives (upload again to ask again) · " + \
        " · ".join(lines) + hint
