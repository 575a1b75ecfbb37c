"""Block Kit limits as Slack enforces them server-side (contract §6).

`validate_message_blocks(blocks)` -> None when fine, else `(error, errors)`, where error is
"invalid_blocks" (with one message per problem, Slack style: "<problem> [json-pointer:/blocks/3/text/text]")
or "msg_blocks_too_long" (cumulative text above the budget).
"""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELDS = 10
SECTION_FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
URL_MAX = 3000
ACTION_ID = 255
BLOCK_ID = 255
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS_MAX = 100
PLACEHOLDER_TEXT = 150
IMAGE_ALT_TEXT = 2000
MARKDOWN_BLOCK_TEXT = 12000
INPUT_LABEL = 2000
VIEW_TITLE = 24
PRIVATE_METADATA = 3000
CALLBACK_ID = 255
# Undocumented cumulative cap on the text of all blocks of one message ("12,000 text characters
# with a buffer for block containers", Slack staff; bolt-js#2509): above it -> msg_blocks_too_long.
DEFAULT_TEXT_BUDGET = 12000

BLOCK_TYPES = {"section", "header", "context", "actions", "divider", "image", "rich_text",
               "markdown", "input", "file", "video", "table", "context_actions"}
TEXT_TYPES = {"plain_text", "mrkdwn"}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, problem: str, pointer: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    def max_len(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", pointer)

    def text_obj(self, obj: Any, pointer: str, *, limit: int, plain_only: bool = False,
                 required: bool = True) -> None:
        if obj is None:
            if required:
                self.err("must provide an object", pointer)
            return
        if not isinstance(obj, dict):
            self.err("must provide an object", pointer)
            return
        allowed = {"plain_text"} if plain_only else TEXT_TYPES
        if obj.get("type") not in allowed:
            self.err(f"must be one of {sorted(allowed)}", pointer + "/type")
        text = obj.get("text")
        if not isinstance(text, str):
            self.err("must provide a string", pointer + "/text")
        elif len(text) == 0:
            self.err("must be more than 0 characters", pointer + "/text")
        else:
            self.max_len(text, limit, pointer + "/text")

    def element(self, el: Any, pointer: str) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("type"), str):
            self.err("must provide an object with a type", pointer)
            return
        self.max_len(el.get("action_id"), ACTION_ID, pointer + "/action_id")
        etype = el["type"]
        if etype == "button":
            self.text_obj(el.get("text"), pointer + "/text", limit=BUTTON_TEXT, plain_only=True)
            self.max_len(el.get("value"), BUTTON_VALUE, pointer + "/value")
            self.max_len(el.get("url"), URL_MAX, pointer + "/url")
            if "style" in el and el["style"] not in ("primary", "danger"):
                self.err("must be one of [primary, danger]", pointer + "/style")
        elif etype in ("static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes"):
            options = el.get("options")
            groups = el.get("option_groups")
            if options is None and groups is None:
                self.err("must provide options or option_groups", pointer)
            for i, opt in enumerate(options or []):
                self.option(opt, f"{pointer}/options/{i}")
            if isinstance(options, list) and len(options) > OPTIONS_MAX:
                self.err(f"no more than {OPTIONS_MAX} items allowed", pointer + "/options")
        elif etype == "image":
            self.max_len(el.get("image_url"), URL_MAX, pointer + "/image_url")
            self.max_len(el.get("alt_text"), IMAGE_ALT_TEXT, pointer + "/alt_text")
        if isinstance(el.get("placeholder"), dict):
            self.text_obj(el["placeholder"], pointer + "/placeholder", limit=PLACEHOLDER_TEXT,
                          plain_only=True)

    def option(self, opt: Any, pointer: str) -> None:
        if not isinstance(opt, dict):
            self.err("must provide an object", pointer)
            return
        self.text_obj(opt.get("text"), pointer + "/text", limit=OPTION_TEXT)
        self.max_len(opt.get("value"), OPTION_VALUE, pointer + "/value")

    def block(self, block: Any, pointer: str, seen_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.err("must provide an object", pointer)
            return
        btype = block.get("type")
        if btype not in BLOCK_TYPES:
            self.err(f"unsupported type: {btype}", pointer + "/type")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            self.max_len(block_id, BLOCK_ID, pointer + "/block_id")
            if block_id in seen_ids:
                self.err(f"duplicate block_id: {block_id}", pointer + "/block_id")
            seen_ids.add(block_id)
        if btype == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                self.err("must provide text or fields", pointer)
            if text is not None:
                self.text_obj(text, pointer + "/text", limit=SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list):
                    self.err("must provide an array", pointer + "/fields")
                else:
                    if len(fields) > SECTION_FIELDS:
                        self.err(f"no more than {SECTION_FIELDS} items allowed", pointer + "/fields")
                    for i, f in enumerate(fields):
                        self.text_obj(f, f"{pointer}/fields/{i}", limit=SECTION_FIELD_TEXT)
            if "accessory" in block:
                self.element(block["accessory"], pointer + "/accessory")
        elif btype == "header":
            self.text_obj(block.get("text"), pointer + "/text", limit=HEADER_TEXT, plain_only=True)
        elif btype == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err("must provide a non-empty array", pointer + "/elements")
                return
            if len(elements) > CONTEXT_ELEMENTS:
                self.err(f"no more than {CONTEXT_ELEMENTS} items allowed", pointer + "/elements")
            for i, el in enumerate(elements):
                p = f"{pointer}/elements/{i}"
                if isinstance(el, dict) and el.get("type") == "image":
                    self.element(el, p)
                else:
                    self.text_obj(el, p, limit=SECTION_TEXT)
        elif btype == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err("must provide a non-empty array", pointer + "/elements")
                return
            if len(elements) > ACTIONS_ELEMENTS:
                self.err(f"no more than {ACTIONS_ELEMENTS} items allowed", pointer + "/elements")
            action_ids: set[str] = set()
            for i, el in enumerate(elements):
                self.element(el, f"{pointer}/elements/{i}")
                aid = el.get("action_id") if isinstance(el, dict) else None
                if aid is not None:
                    if aid in action_ids:
                        self.err(f"duplicate action_id: {aid}", f"{pointer}/elements/{i}/action_id")
                    action_ids.add(aid)
        elif btype == "image":
            if "image_url" not in block and "slack_file" not in block:
                self.err("must provide image_url or slack_file", pointer)
            self.max_len(block.get("image_url"), URL_MAX, pointer + "/image_url")
            if not isinstance(block.get("alt_text"), str):
                self.err("must provide a string", pointer + "/alt_text")
            self.max_len(block.get("alt_text"), IMAGE_ALT_TEXT, pointer + "/alt_text")
        elif btype == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text:
                self.err("must provide a non-empty string", pointer + "/text")
            else:
                self.max_len(text, MARKDOWN_BLOCK_TEXT, pointer + "/text")
        elif btype == "input":
            self.text_obj(block.get("label"), pointer + "/label", limit=INPUT_LABEL, plain_only=True)
            if "element" not in block:
                self.err("must provide an element", pointer + "/element")
            else:
                self.element(block["element"], pointer + "/element")


def _text_length(node: Any) -> int:
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_length(v)
                   for k, v in node.items())
    if isinstance(node, list):
        return sum(_text_length(v) for v in node)
    return 0


def parse_blocks(value: Any) -> tuple[list[Any] | None, str | None]:
    """Blocks arrive as a list (JSON body) or a JSON string (form/query): -> (blocks, error)."""
    if value is None or value == "":
        return None, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None, "invalid_blocks_format"
    if not isinstance(value, list):
        return None, "invalid_blocks_format"
    return value, None


def validate_message_blocks(blocks: list[Any], *,
                            text_budget: int = DEFAULT_TEXT_BUDGET) -> tuple[str, list[str]] | None:
    c = _Checker()
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        c.err(f"no more than {MAX_MESSAGE_BLOCKS} items allowed", "/blocks")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        c.block(block, f"/blocks/{i}", seen)
    if c.errors:
        return "invalid_blocks", c.errors
    total = _text_length(blocks)
    if total > text_budget:
        return "msg_blocks_too_long", [f"cumulative block text {total} > {text_budget} characters"]
    return None


def validate_view(view: Any) -> list[str]:
    """Problems with a modal/home view (empty list when fine)."""
    c = _Checker()
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        c.err("must be one of [modal, home]", "/view/type")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        c.err("must provide an array", "/view/blocks")
        blocks = []
    if len(blocks) > MAX_VIEW_BLOCKS:
        c.err(f"no more than {MAX_VIEW_BLOCKS} items allowed", "/view/blocks")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        c.block(block, f"/view/blocks/{i}", seen)
    if vtype == "modal":
        c.text_obj(view.get("title"), "/view/title", limit=VIEW_TITLE, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                c.text_obj(view[key], f"/view/{key}", limit=VIEW_TITLE, plain_only=True)
        if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and "submit" not in view:
            c.err("must provide submit when the view has input blocks", "/view/submit")
    c.max_len(view.get("private_metadata"), PRIVATE_METADATA, "/view/private_metadata")
    c.max_len(view.get("callback_id"), CALLBACK_ID, "/view/callback_id")
    return c.errors
