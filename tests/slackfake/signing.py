"""Slack request signing (v0): HMAC-SHA256 over `v0:{timestamp}:{raw body}`.

Contract §1.2. The test vector below is Slack's published one.
"""

from __future__ import annotations

import hashlib
import hmac
import time

# Slack's published example (verified in the contract): secret, timestamp, raw form body, signature.
TEST_VECTOR = {
    "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5",
    "timestamp": "1531420618",
    "body": (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    ),
    "signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
}

REPLAY_WINDOW_SECONDS = 300


def sign(signing_secret: str, timestamp: str | int, body: str | bytes) -> str:
    """The `X-Slack-Signature` value for this raw body and timestamp."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + raw
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(signing_secret: str, body: str | bytes, *, timestamp: str | int | None = None,
                   content_type: str | None = None) -> dict[str, str]:
    """`X-Slack-Request-Timestamp` and `X-Slack-Signature` (and Content-Type if given)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(signing_secret, ts, body)}
    if content_type:
        headers["Content-Type"] = content_type
    return headers
