"""Message content checks shared by chat.*, response_url posts and ack bodies:
text/blocks/attachments presence, length limits, Block Kit validation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .blockkit import DEFAULT_TEXT_BUDGET, parse_blocks, validate_message_blocks

MAX_TEXT = 40_000


class ApiError(Exception):
    """A logical Slack error: HTTP `status` (200 unless said) with {"ok": false, "error": ...}."""

    def __init__(self, error: str, *, status: int = 200, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass
class Content:
    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None

    @property
    def empty(self) -> bool:
        return not self.text and not self.blocks and not self.attachments


def _parse_json_list(value: Any, error: str) -> list[Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(error) from None
    if not isinstance(value, list):
        raise ApiError(error)
    return value


def read_content(args: dict[str, Any], *, require: bool = True,
                 text_budget: int = DEFAULT_TEXT_BUDGET) -> Content:
    """Parse and validate text/blocks/attachments (markdown_text counts as text)."""
    text = args.get("text")
    if text is None and args.get("markdown_text") is not None:
        text = args["markdown_text"]
    if text is not None and not isinstance(text, str):
        text = str(text)
    blocks, err = parse_blocks(args.get("blocks"))
    if err:
        raise ApiError(err)
    attachments = _parse_json_list(args.get("attachments"), "invalid_attachments")
    content = Content(text=text, blocks=blocks, attachments=attachments)
    if require and content.empty:
        raise ApiError("no_text")
    if text is not None and len(text) > MAX_TEXT:
        raise ApiError("msg_too_long")
    if blocks is not None:
        problem = validate_message_blocks(blocks, text_budget=text_budget)
        if problem is not None:
            error, errors = problem
            raise ApiError(error, errors=errors,
                           response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})
    return content


def truthy(value: Any) -> bool:
    """Slack booleans arrive as true/"true"/"1"/1."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)
