"""Block Kit to HTML, as the Slack client draws it, for the sandbox console.

Pure functions: blocks (as govflow posted them) in, escaped HTML out. Buttons become small
forms posting to the console's click route, which makes the Slack stand-in send govflow the
signed `block_actions` payload Slack would; modal inputs become form fields named by their
`block_id`, the key the stand-in's view submission takes.

mrkdwn is read as Slack reads it: `<url|label>` links, `<@U...>` mentions, `<#C...>` channel
links, `*bold*`, `_italic_`, `~strike~`, `` `code` ``, fenced blocks, `>` quotes; `&amp;`,
`&lt;` and `&gt;` are Slack's own escapes and are decoded before HTML escaping.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Names = Callable[[str], str]

_LINK = re.compile(r"<([^<>]+)>")
_FENCE = re.compile(r"```\n?(.*?)\n?```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_HELD = re.compile("\x00(\\d+)\x00")
_SLACK_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def _unslack(text: str) -> str:
    """Slack's three escapes decoded (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    for escaped, plain in _SLACK_ESCAPES:
        text = text.replace(escaped, plain)
    return text


def _safe_href(url: str) -> str | None:
    """Only http(s) and mailto links become anchors."""
    return url if url.lower().startswith(("http://", "https://", "mailto:")) else None


def _link(inner: str, names: Names) -> str:
    """One `<...>` of mrkdwn as HTML."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f'<span class="mention">@{html.escape(names(target[1:]))}</span>'
    if target.startswith("#"):
        name = label or names(target[1:])
        return f'<span class="mention">#{html.escape(name.lstrip("#"))}</span>'
    if target.startswith("!"):
        return f'<span class="mention">@{html.escape(label or target[1:])}</span>'
    href = _safe_href(_unslack(target))
    shown = html.escape(_unslack(label or target))
    if href is None:
        return shown
    return f'<a href="{html.escape(href)}" target="_blank" rel="noopener">{shown}</a>'


def _inline(text: str) -> str:
    """Bold, italic, strike and code spans of already HTML-escaped text."""
    text = _CODE.sub(r"<code>\1</code>", text)
    text = _BOLD.sub(r"<b>\1</b>", text)
    text = _ITALIC.sub(r"<i>\1</i>", text)
    return _STRIKE.sub(r"<s>\1</s>", text)


def _line_html(line: str, names: Names) -> str:
    """One line of mrkdwn (no fences, no quote marker) as HTML."""
    # Links become placeholders first, so `*<url|label>*` formats the link as a whole.
    links: list[str] = []

    def hold(match: re.Match[str]) -> str:
        links.append(_link(match.group(1), names))
        return f"\x00{len(links) - 1}\x00"

    rendered = _inline(html.escape(_unslack(_LINK.sub(hold, line))))
    return _HELD.sub(lambda m: links[int(m.group(1))], rendered)


def _mrkdwn_lines(text: str, names: Names) -> str:
    """mrkdwn without fences: links, formatting, quotes, line breaks."""
    out: list[str] = []
    quote: list[str] = []

    def flush_quote() -> None:
        if quote:
            out.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
            quote.clear()

    for line in text.split("\n"):
        is_quote = line.startswith("&gt;") or line.startswith(">")
        body = line.removeprefix("&gt;").removeprefix(">").lstrip(" ") if is_quote else line
        rendered = _line_html(body, names)
        if is_quote:
            quote.append(rendered)
        else:
            flush_quote()
            out.append(rendered)
    flush_quote()
    return "<br>".join(out).replace("</blockquote><br>", "</blockquote>")


def mrkdwn_html(text: str, names: Names = str) -> str:
    """Slack mrkdwn as safe HTML."""
    pieces: list[str] = []
    last = 0
    for match in _FENCE.finditer(text):
        pieces.append(_mrkdwn_lines(text[last : match.start()], names))
        pieces.append(f"<pre>{html.escape(_unslack(match.group(1)))}</pre>")
        last = match.end()
    pieces.append(_mrkdwn_lines(text[last:], names))
    return "".join(pieces)


def text_html(obj: Any, names: Names = str) -> str:
    """A text object (`plain_text` or `mrkdwn`) as safe HTML; anything else is empty."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn_html(text, names)
    return html.escape(text).replace("\n", "<br>")


@dataclass(frozen=True)
class ButtonTarget:
    """Where a button's form posts and what identifies the message it sits on."""

    action: str
    hidden: Mapping[str, str]


@dataclass
class ModalState:
    """What a modal's inputs show: values typed before, and govflow's validation errors."""

    values: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


def _button(element: Mapping[str, Any], target: ButtonTarget | None, names: Names) -> str:
    label = text_html(element.get("text"), names) or html.escape(str(element.get("action_id")))
    style = str(element.get("style") or "default")
    url = element.get("url")
    if isinstance(url, str) and _safe_href(url):
        return (
            f'<a class="btn btn-{html.escape(style)}" href="{html.escape(url)}" '
            f'target="_blank" rel="noopener">{label}</a>'
        )
    if target is None:
        return f'<button class="btn btn-{html.escape(style)}" disabled>{label}</button>'
    hidden = {**target.hidden, "action_id": str(element.get("action_id", ""))}
    if "value" in element:
        hidden["value"] = str(element["value"])
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in hidden.items()
    )
    return (
        f'<form class="inline" method="post" action="{html.escape(target.action)}">{fields}'
        f'<button class="btn btn-{html.escape(style)}" type="submit" '
        f'data-action="{html.escape(str(element.get("action_id", "")))}">{label}</button></form>'
    )


def _element(element: Any, target: ButtonTarget | None, names: Names) -> str:
    """An interactive or context element outside an input block."""
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "button":
        return _button(element, target, names)
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{text_html(element, names)}</span>"
    if kind == "image":
        alt = html.escape(str(element.get("alt_text", "")))
        return f'<span class="img" title="{alt}">[{alt or "image"}]</span>'
    if kind == "overflow":
        options = element.get("options") or []
        return " ".join(
            _button({**o, "type": "button", "action_id": element.get("action_id")}, target, names)
            for o in options
            if isinstance(o, Mapping)
        )
    return f'<span class="unsupported">[{html.escape(str(kind))}]</span>'


def blocks_html(
    blocks: Sequence[Any],
    *,
    names: Names = str,
    target: ButtonTarget | None = None,
    modal: ModalState | None = None,
) -> str:
    """A list of blocks as HTML; inputs become form fields when `modal` is given."""
    out: list[str] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "header":
            out.append(f'<div class="bk-header">{text_html(block.get("text"), names)}</div>')
        elif kind == "divider":
            out.append('<hr class="bk-divider">')
        elif kind == "section":
            out.append(_section(block, names, target))
        elif kind == "context":
            parts = " ".join(_element(e, target, names) for e in block.get("elements") or [])
            out.append(f'<div class="bk-context">{parts}</div>')
        elif kind == "actions":
            parts = " ".join(_element(e, target, names) for e in block.get("elements") or [])
            out.append(f'<div class="bk-actions">{parts}</div>')
        elif kind == "input":
            out.append(_input(block, names, modal or ModalState()))
        elif kind == "image":
            alt = html.escape(str(block.get("alt_text", "")))
            out.append(f'<div class="bk-context">[image: {alt}]</div>')
        elif kind == "rich_text":
            out.append(f'<div class="bk-section">{html.escape(_rich_text(block))}</div>')
        elif kind == "markdown":
            out.append(f'<div class="bk-section">{mrkdwn_html(str(block.get("text", "")))}</div>')
        else:
            out.append(f'<div class="unsupported">[{html.escape(str(kind))} block]</div>')
    return "\n".join(out)


def _section(block: Mapping[str, Any], names: Names, target: ButtonTarget | None) -> str:
    text = text_html(block.get("text"), names)
    fields = block.get("fields") or []
    grid = "".join(f'<div class="bk-field">{text_html(f, names)}</div>' for f in fields)
    accessory = block.get("accessory")
    side = f'<div class="bk-accessory">{_element(accessory, target, names)}</div>'
    return (
        '<div class="bk-section">'
        + (f'<div class="bk-text">{text}</div>' if text else "")
        + (f'<div class="bk-fields">{grid}</div>' if grid else "")
        + (side if accessory else "")
        + "</div>"
    )


def _rich_text(block: Mapping[str, Any]) -> str:
    """The plain text of a rich_text block (sections of text elements)."""
    words: list[str] = []
    for section in block.get("elements") or []:
        for element in section.get("elements", []) if isinstance(section, Mapping) else []:
            if isinstance(element, Mapping):
                words.append(str(element.get("text") or element.get("url") or ""))
    return "".join(words)


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Options of a select, flattened out of option groups, with the group label kept."""
    found = [o for o in element.get("options") or [] if isinstance(o, Mapping)]
    for group in element.get("option_groups") or []:
        label = str(group.get("label", {}).get("text", ""))
        for option in group.get("options") or []:
            found.append({**option, "group": label})
    return found


def _initial(element: Mapping[str, Any]) -> Any:
    """The element's initial value in the shape the console's form posts."""
    if "initial_option" in element and isinstance(element["initial_option"], Mapping):
        return element["initial_option"].get("value")
    if "initial_options" in element:
        return [o.get("value") for o in element["initial_options"] if isinstance(o, Mapping)]
    return element.get("initial_value") or element.get("initial_date")


def _input(block: Mapping[str, Any], names: Names, modal: ModalState) -> str:
    block_id = str(block.get("block_id", ""))
    element = block.get("element") if isinstance(block.get("element"), Mapping) else {}
    assert isinstance(element, Mapping)
    kind = str(element.get("type", ""))
    label = text_html(block.get("label"), names)
    optional = " <small>(optional)</small>" if block.get("optional") else ""
    value = modal.values.get(block_id, _initial(element))
    name = html.escape(block_id)
    placeholder = html.escape(str((element.get("placeholder") or {}).get("text", "")))
    if kind == "plain_text_input":
        text = html.escape("" if value is None else str(value))
        if element.get("multiline"):
            control = (
                f'<textarea name="{name}" rows="5" placeholder="{placeholder}">{text}</textarea>'
            )
        else:
            control = (
                f'<input type="text" name="{name}" value="{text}" placeholder="{placeholder}">'
            )
    elif kind in ("multi_static_select", "checkboxes"):
        # A list of checkboxes: what a multi-select offers, without ctrl-click.
        chosen = set(value) if isinstance(value, list) else set()
        boxes = []
        for option in _options(element):
            option_value = str(option.get("value", ""))
            checked = " checked" if option_value in chosen else ""
            boxes.append(
                f'<label class="check"><input type="checkbox" name="{name}" '
                f'value="{html.escape(option_value)}"{checked}> '
                f"{text_html(option.get('text'), names)}</label>"
            )
        control = f'<div class="checks">{"".join(boxes)}</div>'
    elif kind in ("static_select", "radio_buttons"):
        options = ['<option value="">Choose…</option>']
        for option in _options(element):
            option_value = str(option.get("value", ""))
            selected = " selected" if option_value == value else ""
            group = f"{html.escape(str(option['group']))}: " if option.get("group") else ""
            text = group + text_html(option.get("text"), names)
            options.append(f'<option value="{html.escape(option_value)}"{selected}>{text}</option>')
        control = f'<select name="{name}">{"".join(options)}</select>'
    elif kind == "datepicker":
        control = f'<input type="date" name="{name}" value="{html.escape(str(value or ""))}">'
    elif kind == "number_input":
        control = f'<input type="number" name="{name}" value="{html.escape(str(value or ""))}">'
    else:
        control = f'<span class="unsupported">[{html.escape(kind)} input]</span>'
    hint = text_html(block.get("hint"), names)
    error = modal.errors.get(block_id)
    return (
        f'<div class="bk-input{" has-error" if error else ""}" data-block="{name}">'
        f"<label>{label}{optional}</label>{control}"
        + (f'<div class="hint">{hint}</div>' if hint else "")
        + (f'<div class="error">{html.escape(error)}</div>' if error else "")
        + "</div>"
    )


def input_kinds(blocks: Sequence[Any]) -> dict[str, str]:
    """The element type of every input block, by block_id."""
    kinds: dict[str, str] = {}
    for block in blocks:
        if isinstance(block, Mapping) and block.get("type") == "input":
            element = block.get("element")
            if isinstance(element, Mapping):
                kinds[str(block.get("block_id"))] = str(element.get("type"))
    return kinds


def submission_values(blocks: Sequence[Any], form: Mapping[str, list[str]]) -> dict[str, Any]:
    """A posted modal form as the stand-in's `values` by block_id (lists for multi-selects)."""
    values: dict[str, Any] = {}
    for block_id, kind in input_kinds(blocks).items():
        given = [v for v in form.get(block_id, []) if v != ""]
        if kind in ("multi_static_select", "checkboxes"):
            values[block_id] = given
        elif kind in ("static_select", "radio_buttons"):
            values[block_id] = given[0] if given else None
        else:
            values[block_id] = given[0] if given else ""
    return values


def metadata_key(metadata: Any) -> str | None:
    """The Jira key a govflow message or modal names in its metadata, if any."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    if not isinstance(metadata, Mapping):
        return None
    payload = metadata.get("event_payload", metadata)
    if isinstance(payload, Mapping):
        for key in ("jira_key", "k", "key"):
            value = payload.get(key)
            if isinstance(value, str):
                return value
    return None
