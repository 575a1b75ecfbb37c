"""The Slack fakes (tests/slackfake) are faithful: checked with the real slack_sdk and slack_bolt.

Spec: /work/shared/reference/slack-contract.md. Every wait is a poll on observable state
(wait_for / wait_for_ack); timing assertions use the fakes' own logs.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.slackfake import (
    TEST_VECTOR,
    FakeSocketMode,
    ManualClock,
    SignedClient,
    SlackHarness,
    sign,
    slack_harness,
    wait_for,
)
from tests.slackfake.inbound import InboundRequest

SECRET = "test-signing-secret"


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt reads SLACK_* variables when arguments are missing; keep tests hermetic."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def harness():
    async with slack_harness(signing_secret=SECRET) as h:
        yield h


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# ---------------------------------------------------------------- signing


def test_signature_test_vector_reproduces():
    v = TEST_VECTOR
    assert sign(v["signing_secret"], v["timestamp"], v["body"]) == v["signature"]
    sdk = SignatureVerifier(v["signing_secret"])
    assert sdk.generate_signature(timestamp=v["timestamp"], body=v["body"]) == v["signature"]


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_sdk_verifier_accepts_signed_client_and_rejects_tampered_or_stale():
    client = SignedClient("http://127.0.0.1:9", SECRET)
    req = client.command_request("status eu-west")
    now = int(time.time())
    verifier = SignatureVerifier(SECRET)
    headers = client.headers_for(req)
    assert verifier.is_valid_request(req.body, headers)
    assert not verifier.is_valid_request(req.body.replace("eu-west", "eu-east"), headers)
    assert not verifier.is_valid_request(req.body, client.headers_for(req, signing_secret="nope"))
    assert not verifier.is_valid_request(req.body, client.headers_for(req, timestamp=now - 301))
    assert not verifier.is_valid_request(req.body, client.headers_for(req, timestamp=now + 301))
    # The window is inclusive: exactly 300 s old is still valid (contract §1.2).
    pinned = SignatureVerifier(SECRET, clock=_FixedClock(now))
    assert pinned.is_valid_request(req.body, client.headers_for(req, timestamp=now - 300))
    # Slash-command bodies are URL-encoded forms with every documented field.
    fields = parse_qs(req.body, keep_blank_values=True)
    for name in ("token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
                 "user_name", "command", "text", "api_app_id", "is_enterprise_install",
                 "response_url", "trigger_id"):
        assert name in fields, name
    assert "status+eu-west" in req.body


# ---------------------------------------------------------------- Web API through AsyncWebClient


async def test_auth_test_and_post_in_thread(harness: SlackHarness):
    web_client = harness.web_client()
    auth = await web_client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0MESH", "U0MESHBOT", "B0MESHBOT")
    assert "chat:write" in auth.headers["x-oauth-scopes"]

    root = await web_client.chat_postMessage(channel="C0GENERAL", text="verdict",
                                             blocks=[section("*verdict*")])
    r1 = await web_client.chat_postMessage(channel="C0GENERAL", text="step 1", thread_ts=root["ts"])
    r2 = await web_client.chat_postMessage(channel="C0GENERAL", text="step 2", thread_ts=root["ts"])
    assert float(root["ts"]) < float(r1["ts"]) < float(r2["ts"])
    assert r1["message"]["thread_ts"] == root["ts"]
    assert [m.text for m in harness.api.thread("C0GENERAL", root["ts"])] == ["verdict", "step 1", "step 2"]
    assert [m.ts for m in harness.api.messages("C0GENERAL")] == [root["ts"]]
    assert harness.api.messages("C0GENERAL")[0].all_text == "verdict\n*verdict*"

    with pytest.raises(SlackApiError) as e:  # thread_ts must be a root, never a reply
        await web_client.chat_postMessage(channel="C0GENERAL", text="x", thread_ts=r1["ts"])
    assert e.value.response["error"] == "thread_not_found"

    call = harness.api.calls("chat.postMessage")[0]
    assert call.token == harness.bot_token and call.http_method == "POST"
    assert call.args["channel"] == "C0GENERAL"


async def test_chat_update_and_its_errors(harness: SlackHarness):
    web_client = harness.web_client()
    posted = await web_client.chat_postMessage(channel="C0GENERAL", text="running")
    updated = await web_client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="done",
                                           blocks=[section("done")])
    assert updated["ts"] == posted["ts"] and updated["text"] == "done"
    msg = harness.api.messages("C0GENERAL")[0]
    assert (msg.text, msg.blocks, len(msg.edits)) == ("done", [section("done")], 1)

    with pytest.raises(SlackApiError) as e:
        await web_client.chat_update(channel="C0GENERAL", ts="1.000001", text="x")
    assert e.value.response["error"] == "message_not_found"
    human = harness.state.post_human_message("C0GENERAL", "U0ALICE", "hello")
    with pytest.raises(SlackApiError) as e:
        await web_client.chat_update(channel="C0GENERAL", ts=human.ts, text="x")
    assert e.value.response["error"] == "cant_update_message"


async def test_post_ephemeral(harness: SlackHarness):
    web_client = harness.web_client()
    r = await web_client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you")
    assert r["message_ts"]
    [eph] = harness.api.ephemerals(channel="C0GENERAL", user="U0ALICE")
    assert eph.text == "only you"
    assert harness.api.ephemerals(user="U0BOB") == []
    assert harness.api.messages("C0GENERAL") == []
    harness.state.add_user("U0CAROL", "carol")
    with pytest.raises(SlackApiError) as e:
        await web_client.chat_postEphemeral(channel="C0GENERAL", user="U0CAROL", text="x")
    assert e.value.response["error"] == "user_not_in_channel"


async def test_usergroups_users_info_and_conversations(harness: SlackHarness):
    web_client = harness.web_client()
    assert (await web_client.usergroups_users_list(usergroup="S0ONCALL"))["users"] == ["U0ALICE"]
    with pytest.raises(SlackApiError) as e:
        await web_client.usergroups_users_list(usergroup="S0NOPE")
    assert e.value.response["error"] == "no_such_subteam"
    assert (await web_client.users_info(user="U0BOB"))["user"]["name"] == "bob"
    members = await web_client.conversations_members(channel="C0GENERAL")
    assert set(members["members"]) == {"U0MESHBOT", "U0ALICE", "U0BOB"}
    # GET methods send their arguments as a query string
    assert harness.api.calls("users.info")[0].http_method == "GET"


async def test_not_in_channel_until_joined(harness: SlackHarness):
    web_client = harness.web_client()
    info = await web_client.conversations_info(channel="C0INCIDENT")
    assert info["channel"]["name"] == "inc-42" and info["channel"]["is_member"] is False
    with pytest.raises(SlackApiError) as e:
        await web_client.chat_postMessage(channel="C0INCIDENT", text="x")
    assert e.value.response["error"] == "not_in_channel"
    joined = await web_client.conversations_join(channel="C0INCIDENT")
    assert joined["channel"]["is_member"] is True
    again = await web_client.conversations_join(channel="C0INCIDENT")
    assert again["warning"] == "already_in_channel"
    await web_client.chat_postMessage(channel="C0INCIDENT", text="now I can")
    assert [m.text for m in harness.api.messages("C0INCIDENT")] == ["now I can"]


async def test_chat_write_public_scope_allows_posting_without_joining():
    async with slack_harness(scopes={"chat:write", "chat:write.public"}) as h:
        await h.web_client().chat_postMessage(channel="C0INCIDENT", text="public post")
        assert len(h.api.messages("C0INCIDENT")) == 1
        with pytest.raises(SlackApiError) as e:
            await h.web_client().users_info(user="U0BOB")
        assert e.value.response["error"] == "missing_scope"
        assert e.value.response["needed"] == "users:read"


async def test_files_upload_v2_lands_in_thread(harness: SlackHarness):
    web_client = harness.web_client()
    root = await web_client.chat_postMessage(channel="C0GENERAL", text="verdict")
    evidence = "x" * 20_000
    r = await web_client.files_upload_v2(channel="C0GENERAL", thread_ts=root["ts"],
                                         content=evidence, filename="evidence.txt",
                                         title="Evidence", initial_comment="full evidence")
    [f] = harness.api.files()
    assert r["file"]["id"] == f.id
    assert (f.text, f.title, f.channel, f.thread_ts) == (evidence, "Evidence", "C0GENERAL", root["ts"])
    thread = harness.api.thread("C0GENERAL", root["ts"])
    assert [m.text for m in thread] == ["verdict", "full evidence"] and thread[1].files == [f.id]
    steps = [c.method for c in harness.api.calls()][-3:]
    assert steps == ["files.getUploadURLExternal", "_upload", "files.completeUploadExternal"]
    assert harness.api.calls("_upload")[0].args["bytes"] == len(evidence)


async def test_logical_errors_raise_slack_api_error(harness: SlackHarness):
    with pytest.raises(SlackApiError) as e:
        await harness.web_client().chat_postMessage(channel="C0NOPE", text="x")
    assert e.value.response.status_code == 200
    assert e.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as e:
        await harness.web_client(token="xoxb-wrong").auth_test()
    assert e.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as e:  # app tokens only open Socket Mode connections
        await harness.web_client(token=harness.app_token).chat_postMessage(channel="C0GENERAL", text="x")
    assert e.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as e:
        await harness.web_client().api_call("chat.nope")
    assert e.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as e, pytest.warns(UserWarning, match="`text` argument is missing"):
        await harness.web_client().chat_postMessage(channel="C0GENERAL")
    assert e.value.response["error"] == "no_text"
    assert all(c.status == 200 for c in harness.api.calls())


async def test_api_reads_form_bodies_and_body_tokens(harness: SlackHarness):
    """Real Slack takes form or JSON for every method; blocks then arrive as a JSON string."""
    form = {"token": harness.bot_token, "channel": "C0GENERAL", "text": "from a form",
            "blocks": json.dumps([section("formed")])}
    async with aiohttp.ClientSession() as session:
        async with session.post(harness.api.url + "/chat.postMessage", data=form) as resp:
            assert resp.content_type == "application/json"
            body = await resp.json()
        async with session.get(harness.api.url + "/auth.test") as resp:
            assert (await resp.json())["error"] == "not_authed"
    assert body["ok"] and body["message"]["blocks"] == [section("formed")]
    assert harness.api.calls("chat.postMessage")[0].token == harness.bot_token


# ---------------------------------------------------------------- rate limits and faults


async def test_rate_limit_per_channel_with_manual_clock():
    clock = ManualClock()
    async with slack_harness(clock=clock, post_burst=2) as h:
        web_client = h.web_client()
        for _ in range(2):
            await web_client.chat_postMessage(channel="C0GENERAL", text="burst")
        with pytest.raises(SlackApiError) as e:
            await web_client.chat_postMessage(channel="C0GENERAL", text="too fast")
        resp = e.value.response
        assert (resp.status_code, resp["error"], resp.headers["Retry-After"]) == (429, "ratelimited", "1")
        # another channel has its own bucket
        await web_client.conversations_join(channel="C0INCIDENT")
        await web_client.chat_postMessage(channel="C0INCIDENT", text="other channel")
        clock.advance(0.5)
        with pytest.raises(SlackApiError):
            await web_client.chat_postMessage(channel="C0GENERAL", text="still too fast")
        clock.advance(0.5)
        await web_client.chat_postMessage(channel="C0GENERAL", text="one second later")
        statuses = [c.status for c in h.api.calls("chat.postMessage")]
        assert statuses == [200, 200, 429, 200, 429, 200]
        assert len(h.api.messages("C0GENERAL")) == 3


async def test_429_is_raised_by_default_and_retried_with_the_rate_limit_handler(
        harness: SlackHarness, monkeypatch: pytest.MonkeyPatch):
    harness.api.rate_limit("chat.postMessage", times=1, retry_after=1)
    with pytest.raises(SlackApiError) as e:
        await harness.web_client().chat_postMessage(channel="C0GENERAL", text="x")
    assert e.value.response.status_code == 429

    # The SDK sleeps Retry-After + random() seconds; pin random() to 0 to keep the test short.
    monkeypatch.setattr(builtin_async_handlers.random, "random", lambda: 0.0)
    harness.api.rate_limit("chat.postMessage", times=1, retry_after=1)
    retrying = harness.web_client()
    retrying.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    ok = await retrying.chat_postMessage(channel="C0GENERAL", text="eventually")
    assert ok["ok"]
    calls = harness.api.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 429, 200]
    assert calls[2].monotonic - calls[1].monotonic >= 1.0  # Retry-After honoured (fake's log)


async def test_fault_injection_failures_and_server_error_retries(harness: SlackHarness):
    harness.api.fail("users.info", "fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as e:
            await harness.web_client().users_info(user="U0ALICE")
        assert e.value.response["error"] == "fatal_error"
    assert (await harness.web_client().users_info(user="U0ALICE"))["ok"]

    harness.api.fail("conversations.info", "internal_error", status=503, times=1)
    retrying = harness.web_client(retry_handlers=[AsyncServerErrorRetryHandler(
        max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01))])
    assert (await retrying.conversations_info(channel="C0GENERAL"))["ok"]
    assert [c.status for c in harness.api.calls("conversations.info")] == [503, 200]

    harness.api.fail("_upload", "upload broke", status=500)
    with pytest.raises(SlackRequestError):
        await harness.web_client().files_upload_v2(channel="C0GENERAL", content="x", filename="a.txt")


async def test_fault_injection_delay(harness: SlackHarness):
    harness.api.delay("users.info", 1.0, times=1)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(harness.web_client().users_info(user="U0ALICE"), 0.1)
    assert (await harness.web_client().users_info(user="U0ALICE"))["ok"]  # only once


# ---------------------------------------------------------------- Block Kit limits


def _button(value: str = "v", action_id: str = "a") -> dict:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": "Go"},
            "value": value}


@pytest.mark.parametrize("blocks, error", [
    ([section("b")] * 50, None),
    ([section("b")] * 51, "invalid_blocks"),
    ([section("x" * 3000)], None),
    ([section("x" * 3001)], "invalid_blocks"),
    ([section("")], "invalid_blocks"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}], None),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "invalid_blocks"),
    ([{"type": "actions", "elements": [_button("v" * 2000)]}], None),
    ([{"type": "actions", "elements": [_button("v" * 2001)]}], "invalid_blocks"),
    ([{"type": "actions", "elements": [_button(action_id=f"a{i}") for i in range(25)]}], None),
    ([{"type": "actions", "elements": [_button(action_id=f"a{i}") for i in range(26)]}], "invalid_blocks"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10}], None),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "invalid_blocks"),
    ([{"type": "section", "block_id": "x", "text": {"type": "mrkdwn", "text": "a"}},
      {"type": "section", "block_id": "x", "text": {"type": "mrkdwn", "text": "b"}}], "invalid_blocks"),
    ([{"type": "nope"}], "invalid_blocks"),
    ([section("x" * 2900)] * 5, "msg_blocks_too_long"),
    ([section("x" * 3000)] * 4, None),
])
async def test_block_kit_limits(harness: SlackHarness, blocks, error):
    call = harness.web_client().chat_postMessage(channel="C0GENERAL", text="fallback", blocks=blocks)
    if error is None:
        assert (await call)["ok"]
        return
    with pytest.raises(SlackApiError) as e:
        await call
    assert e.value.response["error"] == error
    if error == "invalid_blocks":
        assert e.value.response["errors"] and "json-pointer" in e.value.response["errors"][0]
    assert harness.api.messages("C0GENERAL") == []


# ---------------------------------------------------------------- response_url and views


async def test_response_url_five_uses_and_expiry():
    clock = ManualClock()
    async with slack_harness(clock=clock) as h:
        url = h.api.issue_response_url(channel="C0GENERAL", user="U0ALICE")
        hook = AsyncWebhookClient(url)
        for i in range(5):
            assert (await hook.send(text=f"update {i}")).status_code == 200
        used_up = await hook.send(text="sixth")
        assert used_up.status_code == 404 and json.loads(used_up.body)["error"] == "used_url"
        assert [e.text for e in h.api.ephemerals(user="U0ALICE")] == [f"update {i}" for i in range(5)]

        late = AsyncWebhookClient(h.api.issue_response_url(channel="C0GENERAL", user="U0ALICE"))
        assert (await late.send(text="in time", response_type="in_channel")).status_code == 200
        assert [m.text for m in h.api.messages("C0GENERAL")] == ["in time"]
        clock.advance(30 * 60 + 1)
        expired = await late.send(text="too late")
        assert expired.status_code == 404 and json.loads(expired.body)["error"] == "expired_url"


async def test_views_open_needs_a_fresh_trigger_id(harness: SlackHarness):
    trigger = harness.client("http://127.0.0.1:9").command_request().payload["trigger_id"]
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Mesh"},
            "blocks": [section("hello")]}
    opened = await harness.web_client().views_open(trigger_id=trigger, view=view)
    assert opened["view"]["id"].startswith("V")
    with pytest.raises(SlackApiError) as e:
        await harness.web_client().views_open(trigger_id=trigger, view=view)
    assert e.value.response["error"] == "exchanged_trigger_id"
    updated = await harness.web_client().views_update(view_id=opened["view"]["id"],
                                                      hash=opened["view"]["hash"], view=view)
    with pytest.raises(SlackApiError) as e:  # the old hash is stale now
        await harness.web_client().views_update(view_id=opened["view"]["id"],
                                                hash=opened["view"]["hash"], view=view)
    assert e.value.response["error"] == "hash_conflict" and updated["ok"]


# ---------------------------------------------------------------- a real bolt AsyncApp over HTTP


def build_bolt_app(h: SlackHarness) -> tuple[AsyncApp, dict]:
    app = AsyncApp(client=h.web_client(), signing_secret=h.signing_secret)
    seen: dict = {"commands": [], "mentions": [], "clicks": [], "retry": []}

    @app.middleware
    async def record_retry_headers(req, next):
        seen["retry"].append((req.headers.get("x-slack-retry-num", [None])[0],
                              req.headers.get("x-slack-retry-reason", [None])[0]))
        return await next()

    @app.command("/mesh")
    async def mesh(ack, command, say, respond):
        seen["commands"].append(command["text"])
        if command["text"] == "help":
            await ack(text="usage: /mesh check <svc>")
            return
        await ack()
        if command["text"] == "later":
            await respond("via response_url")
            return
        await say(text=f"mesh: {command['text']}",
                  blocks=[section(f"mesh: {command['text']}"),
                          {"type": "actions", "block_id": "acts",
                           "elements": [_button("again", action_id="rerun")]}])

    @app.event("app_mention")
    async def mention(event, say):
        seen["mentions"].append(event["text"])
        await say(text="on it", thread_ts=event["ts"])

    @app.action("rerun")
    async def rerun(ack, body, client):
        await ack()
        seen["clicks"].append(body["actions"][0]["value"])
        await client.chat_update(channel=body["container"]["channel_id"],
                                 ts=body["container"]["message_ts"], text="re-running")

    return app, seen


async def test_bolt_over_http_signed_requests(harness: SlackHarness):
    app, seen = build_bolt_app(harness)
    async with harness.serve(app.web_app(path="/slack/events")) as base_url:
        client = harness.client(base_url)
        ok = await client.slash_command("status eu-west")
        assert ok.status == 200 and ok.body == "" and ok.latency_ms < 3000
        msg = await harness.api.wait_for(lambda: harness.api.messages("C0GENERAL"))
        assert msg[0].text == "mesh: status eu-west"
        assert len(harness.api.calls("auth.test")) == 1  # lazily, on the first request

        forged = await client.slash_command("forged", signing_secret="attacker")
        stale = await client.slash_command("stale", timestamp=int(time.time()) - 600)
        for resp in (forged, stale):
            assert resp.status == 401 and resp.json() == {"error": "invalid request"}
        assert seen["commands"] == ["status eu-west"]

        challenge = await client.url_verification("chal-123")
        assert challenge.status == 200 and challenge.json() == {"challenge": "chal-123"}

        helped = await client.slash_command("help")  # ack with a body: shown to the user only
        # bolt sends a text-only ack as text/plain; Slack shows it as an ephemeral message
        assert helped.body == "usage: /mesh check <svc>"
        assert helped.headers["Content-Type"].startswith("text/plain")
        [eph] = harness.api.ephemerals(user="U0ALICE")
        assert eph.text == "usage: /mesh check <svc>" and eph.source == "ack"

        await client.slash_command("later")  # respond() goes to the fake's response_url
        await harness.api.wait_for(lambda: len(harness.api.ephemerals(user="U0ALICE")) == 2)
        assert harness.api.ephemerals(user="U0ALICE")[1].source == "response_url"


async def test_bolt_mention_retry_carries_headers_and_is_not_deduped_by_bolt(harness: SlackHarness):
    app, seen = build_bolt_app(harness)
    async with harness.serve(app.web_app(path="/slack/events")) as base_url:
        client = harness.client(base_url)
        first = await client.app_mention("status", channel="C0GENERAL")
        assert first.status == 200
        mention_ts = first.request.payload["event"]["ts"]
        retried = await client.retry(first, num=1, reason="http_timeout")
        assert retried.status == 200
        assert retried.sent_headers["X-Slack-Request-Timestamp"] and retried.request.body == first.request.body
        assert seen["retry"] == [(None, None), ("1", "http_timeout")]
        # Bolt does not de-duplicate: both deliveries answer. Dedupe is the product's job (C7).
        thread = await harness.api.wait_for(
            lambda: (t := harness.api.thread("C0GENERAL", mention_ts)) and len(t) == 3 and t)
        assert [m.text for m in thread][1:] == ["on it", "on it"]


async def test_bolt_payload_word_gotcha_returns_404(harness: SlackHarness):
    """Stock bolt parses any form body containing "payload" as interactivity (contract §8):
    `/mesh check svc/payload-api` is unhandled. The product must work around this (C7)."""
    app, seen = build_bolt_app(harness)
    async with harness.serve(app.web_app(path="/slack/events")) as base_url:
        resp = await harness.client(base_url).slash_command("check svc/payload-api")
        assert resp.status == 404 and resp.json() == {"error": "unhandled request"}
        assert seen["commands"] == []


async def test_bolt_block_action_click_updates_message(harness: SlackHarness):
    app, seen = build_bolt_app(harness)
    async with harness.serve(app.web_app(path="/slack/events")) as base_url:
        client = harness.client(base_url)
        await client.slash_command("status")
        [msg] = await harness.api.wait_for(lambda: harness.api.messages("C0GENERAL"))
        click = await client.click(channel="C0GENERAL", message_ts=msg.ts, action_id="rerun")
        assert click.status == 200
        payload = click.request.payload
        assert payload["container"] == {"type": "message", "message_ts": msg.ts,
                                        "channel_id": "C0GENERAL", "is_ephemeral": False}
        assert payload["actions"][0]["block_id"] == "acts"
        await harness.api.wait_for(lambda: harness.api.messages("C0GENERAL")[0].text == "re-running")
        assert seen["clicks"] == ["again"]


async def test_slack_retry_policy_on_http_errors_and_timeouts(harness: SlackHarness):
    app, seen = build_bolt_app(harness)
    async with harness.serve(app.web_app(path="/slack/events")) as base_url:
        client = harness.client(base_url)
        # No listener for reaction_added: bolt answers 404, Slack retries 3 times.
        req = client.event_request(client.payloads.event(
            {"type": "reaction_added", "user": "U0ALICE", "reaction": "eyes",
             "item": {"type": "message", "channel": "C0GENERAL", "ts": "1.000001"},
             "event_ts": "1.000002"}))
        responses = await client.deliver_event(req)
        assert [r.status for r in responses] == [404] * 4
        assert [r.sent_headers.get("X-Slack-Retry-Num") for r in responses] == [None, "1", "2", "3"]
        assert {r.sent_headers.get("X-Slack-Retry-Reason") for r in responses[1:]} == {"http_error"}

    hits: list[str | None] = []

    async def slow_first(request: web.Request) -> web.Response:
        retry = request.headers.get("X-Slack-Retry-Num")
        hits.append(retry)
        if retry is None:
            await asyncio.sleep(0.6)
        if retry == "9":
            return web.Response(status=500, headers={"X-Slack-No-Retry": "1"})
        return web.Response(status=200)

    plain = web.Application()
    plain.router.add_post("/slack/events", slow_first)
    async with harness.serve(plain) as base_url:
        client = harness.client(base_url)
        req = client.event_request(client.payloads.app_mention("hi"))
        responses = await client.deliver_event(req, ack_deadline=0.2)
        assert [r.sent_headers.get("X-Slack-Retry-Reason") for r in responses] == [None, "http_timeout"]
        assert all(r.status == 200 for r in responses) and responses[0].timed_out is False
        no_retry = await client.retry(req, num=9)
        assert no_retry.status == 500 and no_retry.headers["X-Slack-No-Retry"] == "1"


# ---------------------------------------------------------------- Socket Mode


async def test_socket_mode_raw_protocol(harness: SlackHarness):
    url = (await harness.web_client().apps_connections_open(app_token=harness.app_token))["url"]
    assert url.startswith("ws://127.0.0.1:") and "/link" in url
    assert url != harness.socket.issue_url()  # a fresh URL per call
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=2)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["debug_info"]["approximate_connection_time"] > 0
            eid = await harness.socket.send_app_mention("status")
            env = await ws.receive_json(timeout=2)
            assert env["envelope_id"] == eid and env["type"] == "events_api"
            assert (env["accepts_response_payload"], env["retry_attempt"], env["retry_reason"]) == (False, 0, "")
            assert env["payload"]["type"] == "event_callback" and env["payload"]["event_id"].startswith("Ev")
            sid = await harness.socket.send_slash_command("status")
            cmd = await ws.receive_json(timeout=2)
            assert cmd["type"] == "slash_commands" and cmd["accepts_response_payload"] is True
            assert "retry_attempt" not in cmd and cmd["payload"]["command"] == "/mesh"
            await ws.send_json({"envelope_id": sid, "payload": {"text": "ok"}})
            ack = await harness.socket.wait_for_ack(sid)
            assert ack.payload == {"text": "ok"} and ack.latency_ms >= 0
            await harness.socket.disconnect("warning")
            assert (await ws.receive_json(timeout=2))["reason"] == "warning"
        with pytest.raises(aiohttp.WSServerHandshakeError):  # tickets are single-use
            await session.ws_connect(url)


async def test_bolt_over_socket_mode_command_is_acked_and_posts(harness: SlackHarness):
    app, seen = build_bolt_app(harness)
    async with harness.socket_mode(app):
        assert harness.socket.open_count == 1
        opened = harness.api.calls("apps.connections.open")
        assert len(opened) == 1 and opened[0].token == harness.app_token
        eid = await harness.socket.send_slash_command("status")
        ack = await harness.socket.wait_for_ack(eid)
        assert ack.payload is None and ack.latency_ms < 3000
        assert harness.socket.delivery(eid).timed_out is False
        msgs = await harness.api.wait_for(lambda: harness.api.messages("C0GENERAL"))
        assert msgs[0].text == "mesh: status"

        help_id = await harness.socket.send_slash_command("help")
        assert (await harness.socket.wait_for_ack(help_id)).payload == {"text": "usage: /mesh check <svc>"}
        [eph] = harness.api.ephemerals(user="U0ALICE")
        assert eph.source == "ack"

        click = await harness.socket.click(channel="C0GENERAL", message_ts=msgs[0].ts, action_id="rerun")
        await harness.socket.wait_for_ack(click)
        await harness.api.wait_for(lambda: harness.api.messages("C0GENERAL")[0].text == "re-running")

        # Socket Mode never carries signatures; bolt skips verification for it.
        # The gotcha does not exist here either (the payload is already a JSON object).
        gotcha = await harness.socket.send_slash_command("check svc/payload-api")
        await harness.socket.wait_for_ack(gotcha)
        assert seen["commands"][-1] == "check svc/payload-api"


async def test_socket_mode_unacked_event_is_redelivered():
    async with slack_harness(socket_ack_timeout=0.2, socket_max_retries=2) as h:
        app, seen = build_bolt_app(h)
        async with h.socket_mode(app):
            # Acked: app_mention has a listener (bolt acks events before running it).
            mention = await h.socket.send_app_mention("status")
            mention_ack = await h.socket.wait_for_ack(mention, include_retries=False)
            # Unacked: no listener for reaction_added -> bolt 404 -> no ack -> re-delivery.
            eid = await h.socket.send_event({"type": "reaction_added", "user": "U0ALICE",
                                             "reaction": "eyes", "event_ts": "1.000002",
                                             "item": {"type": "message", "channel": "C0GENERAL",
                                                      "ts": "1.000001"}})
            retry = await h.socket.wait_for_delivery(eid, retry_attempt=1)
            assert retry.envelope["retry_reason"] == "timeout" and retry.envelope_id != eid
            assert retry.envelope["payload"]["event_id"] == h.socket.delivery(eid).envelope["payload"]["event_id"]
            await h.socket.wait_for_delivery(eid, retry_attempt=2)
            await wait_for(lambda: ("2", "timeout") in seen["retry"])
            if mention_ack.latency_ms < 200:  # acked in time: never re-sent
                assert h.socket.chain(mention) == [h.socket.delivery(mention)]
            # bolt maps retry_attempt to x-slack-retry-num, "0" included on first deliveries.
            assert seen["retry"][:2] == [("0", ""), ("0", "")]
            assert ("1", "timeout") in seen["retry"]
            assert all(d.ack is None for d in h.socket.chain(eid))


async def test_socket_mode_disconnect_makes_the_client_reconnect(harness: SlackHarness):
    app, _ = build_bolt_app(harness)
    async with harness.socket_mode(app):
        [first] = harness.socket.connections
        await harness.socket.disconnect("refresh_requested")
        await harness.socket.wait_for_connections(2)
        await wait_for(lambda: not first.open)
        assert harness.socket.open_count == 1
        assert len(harness.api.calls("apps.connections.open")) == 2  # a fresh URL per connection
        eid = await harness.socket.send_slash_command("status")
        ack = await harness.socket.wait_for_ack(eid)
        assert ack.connection_id == harness.socket.connections[1].id

        await harness.socket.drop(graceful=True)  # server closes the socket: client reconnects
        await harness.socket.wait_for_connections(3)
        assert harness.socket.rejected_handshakes == 0


async def test_socket_mode_dropped_connection_is_noticed_by_the_ping_monitor(harness: SlackHarness):
    app, _ = build_bolt_app(harness)
    # No close frame: the SDK only notices on its monitor tick, every ping_interval seconds.
    async with harness.socket_mode(app, ping_interval=0.2):
        await harness.socket.drop()
        await harness.socket.wait_for_connections(2)
        eid = await harness.socket.send_slash_command("status")  # waits for an open connection
        assert (await harness.socket.wait_for_ack(eid)).connection_id == harness.socket.connections[-1].id


async def test_socket_mode_standalone_too_many_websockets():
    async with FakeSocketMode(max_connections=1, require_ticket=False) as socket:
        url = socket.issue_url().split("?")[0]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as first:
                assert (await first.receive_json(timeout=2))["type"] == "hello"
                async with session.ws_connect(url) as second:
                    assert (await second.receive_json(timeout=2))["num_connections"] == 2
                    kicked = await second.receive_json(timeout=2)
                    assert (kicked["type"], kicked["reason"]) == ("disconnect", "too_many_websockets")
                    assert (await second.receive(timeout=2)).type == aiohttp.WSMsgType.CLOSE
                await socket.wait_for_open(1)
                # Without an api the payloads come from the default workspace.
                eid = await socket.send_slash_command("status")
                env = await first.receive_json(timeout=2)
                assert env["envelope_id"] == eid and env["payload"]["team_id"] == "T0MESH"
                assert env["payload"]["response_url"].startswith("https://hooks.slack.com/commands/")


# ---------------------------------------------------------------- conftest fixture


async def test_slack_fixture_from_conftest(slack: SlackHarness):
    assert slack.state.channels["C0GENERAL"].name == "general"
    assert slack.state.usergroups == {"S0ONCALL": ["U0ALICE"]}
    assert slack.env(socket_mode=True)["SLACK_API_URL"] == slack.api.url + "/"
    await slack.web_client().chat_postMessage(channel="general", text="by name")
    assert slack.api.messages("C0GENERAL")[0].text == "by name"


def test_inbound_request_is_reused_verbatim_on_retry():
    req = InboundRequest("raw", "a=b", "application/x-www-form-urlencoded")
    client = SignedClient("http://127.0.0.1:9", SECRET)
    h1 = client.headers_for(req, timestamp=1000)
    h2 = client.headers_for(req, timestamp=1001, retry_num=1)
    assert h1["X-Slack-Signature"] != h2["X-Slack-Signature"]
    assert h2["X-Slack-Retry-Num"] == "1" and h2["X-Slack-Retry-Reason"] == "http_timeout"
