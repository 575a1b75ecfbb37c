"""`meshbot serve`'s HTTP server against clients that are slow, many, unsigned or malformed.

Each test drives the real bot (bot.serve.Bot) over real sockets; limits are made small so the
behaviour shows quickly, and no assertion is about how long anything took.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
import structlog

from bot.http_guard import HttpLimits, _evictable
from tests.bot_support import fast_slack, running_bot, url
from tests.slackfake.payloads import form_body
from tests.slackfake.signing import sign

SAFETY = 30.0  # seconds a test waits for something that must happen, before failing


async def _open(bot, first_bytes: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", bot.port)
    writer.write(first_bytes)
    await writer.drain()
    return reader, writer


HALF_HEAD = b"POST /slack/events HTTP/1.1\r\nHost: meshbot\r\nContent-Ty"
HALF_BODY = (b"POST /slack/events HTTP/1.1\r\nHost: meshbot\r\nContent-Length: 100000\r\n"
             b"Content-Type: application/json\r\n\r\n{\"type\":")


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent before closing the connection (raises if it never does)."""
    return await asyncio.wait_for(reader.read(), SAFETY)


async def _until(condition) -> None:
    async with asyncio.timeout(SAFETY):
        while not condition():
            await asyncio.sleep(0.01)


async def _healthz(bot) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SAFETY)) as http:
        async with http.get(url(bot) + "/healthz") as resp:
            return resp.status


async def test_slow_idle_and_excess_clients_are_closed_while_slack_is_still_answered():
    """Three times the connection cap in half-sent request heads, plus bodies that never
    finish: /healthz and a signed slash command are answered, and every slow socket is closed
    by the server (evicted at the cap, or timed out)."""
    limits = HttpLimits(idle_seconds=2, body_seconds=2, max_connections=40)
    async with fast_slack() as slack, running_bot(slack, http_limits=limits) as bot:
        bodies = [await _open(bot, HALF_BODY) for _ in range(10)]
        heads = [await _open(bot, HALF_HEAD) for _ in range(3 * limits.max_connections)]
        assert await _healthz(bot) == 200
        answer = await slack.client(url(bot)).slash_command("help")
        assert answer.status == 200 and "why-local-only" in answer.json()["text"]
        assert bot.site.cap.evicted > 0  # the cap was reached, idle heads made room
        for reader, _ in heads:
            assert await _closed_by_server(reader) == b""  # no answer to half a request
        for reader, _ in bodies:
            assert b" 408 " in (await _closed_by_server(reader)).split(b"\r\n")[0]
        for _, writer in heads + bodies:
            writer.close()
        assert await _healthz(bot) == 200


async def test_when_every_connection_is_busy_a_new_one_is_refused_not_queued():
    limits = HttpLimits(idle_seconds=5, body_seconds=5, max_connections=5)
    async with fast_slack() as slack, running_bot(slack, http_limits=limits) as bot:
        bodies = [await _open(bot, HALF_BODY) for _ in range(limits.max_connections)]
        await _until(lambda: not any(_evictable(c) for c in bot.site.cap.server.connections))
        reader, writer = await _open(bot, b"GET /healthz HTTP/1.1\r\nHost: m\r\n\r\n")
        assert (await _closed_by_server(reader)).startswith(b"HTTP/1.1 503 ")
        assert bot.site.cap.refused == 1
        for r, w in bodies + [(reader, writer)]:
            w.close()


async def test_a_keep_alive_connection_serves_requests_one_after_another():
    """The timeouts close slow clients, not ordinary ones reusing a connection."""
    async with fast_slack() as slack, running_bot(slack) as bot:
        async with aiohttp.ClientSession() as http:
            for _ in range(5):
                async with http.get(url(bot) + "/healthz") as resp:
                    assert resp.status == 200
            assert len(bot.site.cap.server.connections) == 1


# -- point 7: signature first ------------------------------------------------------------------


def _signed(secret: str, body: bytes, **headers: str) -> dict[str, str]:
    stamp = str(int(__import__("time").time()))
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sign(secret, stamp, body),
            **headers}


UNSIGNED = [
    ("application/json", b"{not json", {}),
    ("application/json", b'["a list"]', {}),
    ("application/x-www-form-urlencoded", b"payload=%7Bbroken", {}),
    ("application/x-www-form-urlencoded", b"\xff\xfe\x00not utf-8", {}),
    ("application/json", b"{}", {"X-Slack-Request-Timestamp": "soon",
                                 "X-Slack-Signature": "v0=abc"}),
    ("application/json", b"{}", {"X-Slack-Request-Timestamp": "9" * 40,
                                 "X-Slack-Signature": "v0=" + "0" * 64}),
    ("text/plain", b"\r\n\x1b[31mforged log line", {"X-Slack-Signature": "v0=" + "g" * 64}),
]


async def test_unsigned_malformed_bodies_get_401_and_at_most_one_log_line(caplog):
    async with fast_slack() as slack, running_bot(slack) as bot:
        with structlog.testing.capture_logs() as events, caplog.at_level(logging.DEBUG):
            async with aiohttp.ClientSession() as http:
                for _ in range(5):
                    for content_type, body, headers in UNSIGNED:
                        async with http.post(url(bot) + "/slack/events", data=body, headers={
                                "Content-Type": content_type, **headers}) as resp:
                            assert resp.status == 401, (body, await resp.text())
        refused = [e for e in events if e["event"] == "request_refused"]
        assert len(refused) == 1 and refused[0]["status"] == 401
        assert not [e for e in events if e["log_level"] in ("error", "critical")]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not bot.responder.tasks and not slack.api.calls("chat.postMessage")


async def test_a_signed_body_that_is_not_a_slack_payload_gets_400_not_500():
    async with fast_slack() as slack, running_bot(slack) as bot:
        async with aiohttp.ClientSession() as http:
            for content_type, body in (("application/json", b"{not json"),
                                       ("application/json", b'["a list"]'),
                                       ("application/x-www-form-urlencoded", b"\xff\xfe")):
                headers = {"Content-Type": content_type,
                           **_signed(slack.signing_secret, body)}
                async with http.post(url(bot) + "/slack/events", data=body,
                                     headers=headers) as resp:
                    assert resp.status == 400, (body, resp.status)
        answer = await slack.client(url(bot)).slash_command("help")  # and Slack still works
        assert answer.status == 200


async def test_malformed_http_is_one_quiet_line_not_a_traceback_each(caplog):
    async with fast_slack() as slack, running_bot(slack) as bot:
        with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
            for _ in range(5):
                reader, writer = await _open(bot, b"POST /slack/events HTTP/1.1\r\nHost: m\r\n"
                                                  b"Content-Length: x\r\n\r\n")
                assert b" 400 " in (await _closed_by_server(reader)).split(b"\r\n")[0]
                writer.close()
        lines = [r for r in caplog.records if r.name == "aiohttp.server"]
        assert len(lines) == 1 and lines[0].levelno == logging.WARNING
        assert lines[0].exc_info is None and "malformed HTTP request" in lines[0].getMessage()


# -- point 8: a huge signed command ------------------------------------------------------------


async def test_a_signed_600k_character_command_is_refused_unread_while_others_are_served():
    """The body arrives in parts; between parts /healthz and another user's command are
    answered, and the huge command gets a short usage message, not a parse of its text."""
    async with fast_slack() as slack, running_bot(slack) as bot:
        client = slack.client(url(bot))
        fields = slack.socket.payloads.slash_command("check svc/" + "a" * 600_000)
        body = form_body(fields).encode()
        headers = (f"POST /slack/events HTTP/1.1\r\nHost: meshbot\r\nContent-Length: {len(body)}"
                   f"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   + "".join(f"{k}: {v}\r\n" for k, v in _signed(slack.signing_secret,
                                                                 body).items())
                   + "\r\n").encode()
        reader, writer = await _open(bot, headers)
        parts = [body[i:i + len(body) // 8 + 1] for i in range(0, len(body), len(body) // 8 + 1)]
        for part in parts:
            writer.write(part)
            await writer.drain()
            assert await _healthz(bot) == 200
            other = await client.slash_command("help", user="U0BOB")
            assert other.status == 200
        head, _, payload = (await asyncio.wait_for(reader.readuntil(b"}"), SAFETY)).partition(
            b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        answer = json.loads(payload)
        assert answer["response_type"] == "ephemeral"
        assert "600,010 characters long" in answer["text"] and len(answer["text"]) < 2000
        writer.close()
        assert not bot.responder.tasks


@pytest.mark.parametrize("limits", [HttpLimits()])
def test_the_defaults_are_what_the_readme_says(limits):
    from pathlib import Path

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert (f"{limits.idle_seconds:g} s to send a request head" in readme
            and f"{limits.body_seconds:g} s for its body" in readme
            and f"{limits.max_connections} connections" in readme)


# -- point 10: console log lines cannot be forged ----------------------------------------------


async def test_text_from_a_request_cannot_forge_a_console_log_line():
    """bolt logs a request it has no listener for, with the action id in it; a newline or an
    escape sequence there must not start a line of its own in the console log."""
    from tests.bot_support import DEMO, free_port, start_serve, stop_serve, wait_healthy

    forged = "2026-12-06T01:00:00Z [critical ] forged_line"
    async with fast_slack() as slack:
        port = free_port()
        proc = start_serve({**slack.env(), "MESHBOT_HTTP_PORT": str(port), "LOG_FORMAT":
                            "console", "MESHBOT_SNAPSHOT": str(DEMO)})
        try:
            await wait_healthy(port, proc)
            payload = {"type": "block_actions", "user": {"id": "U0ALICE"}, "team": {"id": "T0MESH"},
                       "api_app_id": "A0MESHBOT", "channel": {"id": "C0GENERAL"},
                       "actions": [{"type": "button", "block_id": "b", "action_ts": "1.0",
                                    "action_id": f"x\n{forged}\x1b[2K\r"}]}
            client = slack.client(f"http://127.0.0.1:{port}")
            resp = await client.interaction(payload)
            assert resp.status == 404  # unhandled, as bolt answers it
        finally:
            logs = stop_serve(proc)
    assert "forged_line" in logs, "the unhandled request was logged"
    assert not [line for line in logs.splitlines() if line.startswith(forged[:20])]
    assert "\x1b[2K" not in logs and "\\x1b[2K" in logs


async def test_a_mention_of_40000_characters_is_answered_with_a_short_usage_message():
    """Slack's longest message, made of unclosed mentions: stripping them stays linear and the
    asker hears that the text is too long."""
    async with fast_slack() as slack, running_bot(slack) as bot:
        resp = await slack.client(url(bot)).app_mention("<@U0A|" * 6666 + "trust")
        assert resp.status == 200
        (notice,) = await slack.api.wait_for(
            lambda: slack.api.ephemerals("C0GENERAL", "U0ALICE"), timeout=SAFETY)
        assert "characters long" in notice.text and len(notice.text) < 2000
