"""Offline Slack for tests: a fake Web API, a fake Socket Mode server, and a signing client
that plays Slack's inbound HTTP requests. Spec: /work/shared/reference/slack-contract.md.

Modules: api (FakeSlackAPI), methods (Web API methods), content/blockkit (message checks,
Block Kit limits), ratelimit (token bucket), faults (fault injection), responses (response_url
and ack display), state (the workspace), payloads (payload builders), signing, inbound
(SignedClient), socket_mode (FakeSocketMode), harness (slack_harness), server, clock, waiting.
"""

from .api import FakeSlackAPI
from .clock import ManualClock, SystemClock
from .harness import SlackHarness, slack_harness
from .inbound import InboundRequest, InboundResponse, SignedClient
from .signing import TEST_VECTOR, sign, signed_headers
from .socket_mode import Ack, Connection, Delivery, FakeSocketMode
from .state import Call, Channel, Ephemeral, Message, SlackState, UploadedFile, User
from .server import LocalServer, serve
from .waiting import wait_for

__all__ = [
    "Ack", "Call", "Channel", "Connection", "Delivery", "Ephemeral", "FakeSlackAPI",
    "FakeSocketMode", "InboundRequest", "InboundResponse", "LocalServer", "ManualClock",
    "Message", "SignedClient", "SlackHarness", "SlackState", "SystemClock", "TEST_VECTOR",
    "UploadedFile", "User", "serve", "sign", "signed_headers", "slack_harness", "wait_for",
]
