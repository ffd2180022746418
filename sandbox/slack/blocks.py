"""Block Kit and metadata checks at the limits Slack documents, phrased as Slack phrases them.

Slack answers a bad `blocks` argument with `invalid_blocks_format` when it is not a JSON array
and with `invalid_blocks` when a block breaks a rule, listing each problem in
`response_metadata.messages` as `[ERROR] <what> [json-pointer:/blocks/<i>/...]`. Only the
documented limits are checked: a stand-in stricter than Slack would fail valid payloads.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.slack.errors import ApiFailure

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
        "table",
        "context_actions",
        "call",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


def decode_json_arg(value: Any) -> Any:
    """A JSON-valued argument as sent in a JSON body (already decoded) or a form (a string)."""
    if isinstance(value, str):
        return json.loads(value)
    return value


def parse_blocks(
    raw: Any, *, limit: int = MESSAGE_BLOCK_LIMIT, pointer: str = "/blocks"
) -> list[dict[str, Any]]:
    """Validated blocks, or ApiFailure `invalid_blocks_format` / `invalid_blocks`."""
    try:
        blocks = decode_json_arg(raw)
    except json.JSONDecodeError as exc:
        raise ApiFailure("invalid_blocks_format", messages=[f"[ERROR] {exc.msg}"]) from exc
    if not isinstance(blocks, list):
        raise ApiFailure(
            "invalid_blocks_format",
            messages=[f"[ERROR] expected an array [json-pointer:{pointer}]"],
        )
    problems = block_problems(blocks, limit=limit, pointer=pointer)
    if problems:
        raise ApiFailure("invalid_blocks", messages=problems)
    return blocks


def block_problems(blocks: list[Any], *, limit: int, pointer: str) -> list[str]:
    """Every rule the blocks break, as Slack's `[ERROR] ... [json-pointer:...]` lines."""
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict):
            problems.append(f"[ERROR] expected an object [json-pointer:{where}]")
            continue
        block_type = block.get("type")
        if not isinstance(block_type, str):
            problems.append(f"[ERROR] missing required field: type [json-pointer:{where}]")
            continue
        if block_type not in KNOWN_BLOCK_TYPES:
            problems.append(f"[ERROR] unsupported type: {block_type} [json-pointer:{where}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255:
                problems.append(
                    f"[ERROR] must be a string of at most 255 characters "
                    f"[json-pointer:{where}/block_id]"
                )
            elif block_id in seen_ids:
                problems.append(f"[ERROR] duplicate block_id [json-pointer:{where}/block_id]")
            else:
                seen_ids.add(block_id)
        problems.extend(_typed_block_problems(block_type, block, where))
    return problems


def _typed_block_problems(block_type: str, block: dict[str, Any], where: str) -> list[str]:
    if block_type == "section":
        return _section_problems(block, where)
    if block_type == "header":
        return _text_problems(
            block.get("text"), f"{where}/text", 150, plain_only=True, required=True
        )
    if block_type == "actions":
        return _elements_problems(block.get("elements"), f"{where}/elements", 25, unique_ids=True)
    if block_type == "context":
        return _elements_problems(block.get("elements"), f"{where}/elements", 10)
    if block_type == "input":
        problems = _text_problems(
            block.get("label"), f"{where}/label", 2000, plain_only=True, required=True
        )
        if not isinstance(block.get("element"), dict):
            problems.append(f"[ERROR] missing required field: element [json-pointer:{where}]")
        return problems
    return []


def _section_problems(block: dict[str, Any], where: str) -> list[str]:
    text, fields = block.get("text"), block.get("fields")
    if text is None and fields is None:
        return [f"[ERROR] must provide either text or fields [json-pointer:{where}]"]
    problems = _text_problems(text, f"{where}/text", 3000, required=False)
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > 10:
            problems.append(f"[ERROR] no more than 10 items allowed [json-pointer:{where}/fields]")
        else:
            for i, field in enumerate(fields):
                problems.extend(_text_problems(field, f"{where}/fields/{i}", 2000, required=True))
    return problems


def _text_problems(
    obj: Any, where: str, max_len: int, *, plain_only: bool = False, required: bool
) -> list[str]:
    if obj is None:
        return [f"[ERROR] missing required field [json-pointer:{where}]"] if required else []
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        return [f"[ERROR] must be a text object [json-pointer:{where}]"]
    if plain_only and obj["type"] != "plain_text":
        return [f"[ERROR] must be plain_text [json-pointer:{where}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"[ERROR] must be a non-empty string [json-pointer:{where}/text]"]
    if len(text) > max_len:
        return [f"[ERROR] must be less than {max_len + 1} characters [json-pointer:{where}/text]"]
    return []


def _elements_problems(
    elements: Any, where: str, max_items: int, *, unique_ids: bool = False
) -> list[str]:
    if not isinstance(elements, list) or not elements:
        return [f"[ERROR] must contain at least 1 item [json-pointer:{where}]"]
    problems: list[str] = []
    if len(elements) > max_items:
        problems.append(f"[ERROR] no more than {max_items} items allowed [json-pointer:{where}]")
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            problems.append(f"[ERROR] missing required field: type [json-pointer:{where}/{i}]")
            continue
        action_id = element.get("action_id")
        if unique_ids and isinstance(action_id, str):
            if action_id in action_ids:
                problems.append(f"[ERROR] duplicate action_id [json-pointer:{where}/{i}/action_id]")
            action_ids.add(action_id)
    return problems


def parse_metadata(raw: Any) -> dict[str, Any]:
    """Validated message metadata `{event_type, event_payload}` or `invalid_metadata_format`."""
    try:
        metadata = decode_json_arg(raw)
    except json.JSONDecodeError as exc:
        raise ApiFailure("invalid_metadata_format") from exc
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not metadata["event_type"]
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiFailure("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}
