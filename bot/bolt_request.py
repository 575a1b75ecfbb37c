"""Bolt requests from raw HTTP, with form bodies parsed as forms.

Stock bolt treats any non-JSON body that merely contains the substring "payload" as an
interactivity payload, so `/mesh check svc/payload-api` (or a channel named payload-team) would
be answered 404 and lost. Here a form body is an interactivity payload only when it has a
`payload` field; every other form is a plain slash command.
"""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import parse_qsl

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

FORM = "application/x-www-form-urlencoded"


class FormSafeBoltRequest(AsyncBoltRequest):
    def __init__(self, *, body: str | dict, query: Any = None,
                 headers: dict[str, str | Sequence[str]] | None = None,
                 context: dict[str, Any] | None = None, mode: str = "http"):
        super().__init__(body=body, query=query, headers=headers, context=context, mode=mode)
        if self.content_type == FORM and isinstance(body, str) and body:
            fields = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" not in fields:
                self.body = fields
                self.context = build_async_context(AsyncBoltContext(context or {}), self.body)

    def to_copyable(self) -> "FormSafeBoltRequest":
        body: str | dict = self.raw_body if self.mode == "http" else self.body
        return FormSafeBoltRequest(body=body, query=self.query, headers=self.headers,
                                   context=self.context.to_copyable(), mode=self.mode)
