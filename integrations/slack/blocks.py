"""Block Kit rendering as pure functions over `slack_sdk.models` (which validate lengths).

This module holds the request's thread root and the text-safety helpers every renderer in
`integrations.slack` shares. Whatever a requester, expert or approver typed goes through them:

- `clean` drops what no message needs and some messages abuse: control characters, lone
  surrogates (unencodable), and bidirectional override/isolate controls, which can make a
  reason visually reorder the words around it ("Trojan Source").
- `mrkdwn` escapes `&`, `<` and `>`, the only characters Slack reads as the start of a link,
  mention or `<!channel>`; escaped text can neither open nor close a `<url|label>`.
- Lengths are counted in UTF-16 code units (`units`). slack_sdk checks Python code points;
  Slack's own limits are documented in "characters" without saying which. An emoji is one
  code point but two units, so clipping to the larger count satisfies either reading.
- `clip_mrkdwn` escapes and clips in one pass, so a clip never cuts `&amp;` in half.
- `safe_url` lets only http(s) URLs into a link and percent-encodes the characters (`|`,
  `>`, spaces ...) that would end the link early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from domain.people import Person
from domain.rules import SLACK_USER_ID
from domain.stages import STAGES, stage_label

# Stage headings by stage value, from the stage table (importers may still use this name).
STAGE_LABELS = {stage.value: info.label for stage, info in STAGES.items()}

# Slack's documented limits, in one place.
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
CONTEXT_TEXT = 3000
MESSAGE_TEXT = 3000  # we keep fallback texts short; Slack truncates past 40,000
ELLIPSIS = "…"
BLANK = "—"

_NEWLINES = re.compile(r"\r\n?")
# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def clean(text: str) -> str:
    """`text` without control characters, bidi overrides or lone surrogates; `\\n` endings."""
    # A lone surrogate (from a forged payload) cannot be encoded; pairs become one character.
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _UNWANTED.sub("", _NEWLINES.sub("\n", text))


def units(text: str) -> int:
    """The length of `text` in UTF-16 code units, the stricter reading of Slack's limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clip(text: str, limit: int) -> str:
    """Cleaned `text` cut to at most `limit` UTF-16 units, with an ellipsis if it was cut."""
    text = clean(text)
    if units(text) <= limit:
        return text
    return _take(text, limit - 1, lambda ch: ch) + ELLIPSIS


def mrkdwn(text: str) -> str:
    """Cleaned `text` with Slack's three mrkdwn control characters escaped."""
    return "".join(_ESCAPES.get(ch, ch) for ch in clean(text))


def clip_mrkdwn(text: str, limit: int) -> str:
    """`mrkdwn(text)` in at most `limit` units, cut between characters, never inside `&amp;`."""
    escaped = mrkdwn(text)
    if units(escaped) <= limit:
        return escaped
    return _take(clean(text), limit - 1, lambda ch: _ESCAPES.get(ch, ch)) + ELLIPSIS


def plain_text(text: str, limit: int) -> PlainTextObject:
    """A one-line plain_text object, never empty (Slack refuses blank text), within `limit`."""
    # Headers, buttons, labels and options are single lines; a newline has no place there.
    clipped = clip(" ".join(clean(text).split()), limit)
    return PlainTextObject(text=clipped if clipped.strip() else BLANK, emoji=True)


def mrkdwn_text(text: str, limit: int = SECTION_TEXT) -> MarkdownTextObject:
    """A mrkdwn object from already-escaped `text`, clipped as a last resort, never empty."""
    # Callers escape and clip user text piecewise; this is a last resort for their sum.
    if units(text) > limit:
        text = _safe_cut(_take(text, limit - 1, lambda ch: ch)) + ELLIPSIS
    return MarkdownTextObject(text=text if text.strip() else BLANK)


def safe_url(url: str) -> str | None:
    """`url` made safe to put inside `<...|...>`, or None unless it is an http(s) URL."""
    url = clean(url).strip()
    if not url.lower().startswith(("https://", "http://")):
        return None
    encoded = quote(url, safe=_URL_SAFE)
    # `&` stays readable to Slack as `&amp;`, which it decodes; bare `&` is ambiguous in mrkdwn.
    return encoded.replace("&", "&amp;")


def link(url: str, label: str, limit: int = FIELD_TEXT) -> str:
    """A mrkdwn link to `url` labelled `label`; just the label when the URL is unusable."""
    target = safe_url(url)
    # The URL is ours (Jira base URL, Slack permalink): keep it whole and clip the label.
    room = limit - (units(target) + 3 if target else 0)
    if target is None or room < 8:
        return clip_mrkdwn(label, limit)
    text = clip_mrkdwn(label, room)
    return f"<{target}|{text if text.strip() else BLANK}>"


def slack_mention(slack_id: str | None) -> str | None:
    """`<@U…>` for a well-formed Slack user id, else None."""
    if slack_id is not None and len(slack_id) <= 32 and SLACK_USER_ID.match(slack_id):
        return f"<@{slack_id}>"
    return None


def person_ref(person: Person) -> str:
    """A Slack mention when we know their Slack id, else their escaped display label."""
    return slack_mention(person.slack_id) or clip_mrkdwn(person.label, 200)


def fit_lines(lines: list[str], limit: int) -> str:
    """Escaped lines joined by newlines, as many as fit in `limit`, then "…and N more"."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index
        # Keep room for the "…and N more" line should a later line not fit.
        reserve = 0 if rest == 1 else 20
        if used + units(line) + 1 + reserve > limit:
            kept.append(f"…and {rest} more")
            break
        kept.append(line)
        used += units(line) + 1
    return "\n".join(kept)


def code_preview(text: str, limit: int) -> tuple[str, bool]:
    """`text` verbatim in a ``` block, at most `limit` units inside; and whether it was cut."""
    safe = _unfence(text)
    body = clip_mrkdwn(safe, limit)
    return f"```\n{body}\n```", units(mrkdwn(safe)) > limit


def code_chunks(text: str, limit: int) -> list[str]:
    """All of `text` verbatim as ``` blocks of at most `limit` units each, cut at line ends."""
    # 8 units: the two fences and the newlines around the body.
    return [f"```\n{chunk}\n```" for chunk in split_mrkdwn(_unfence(text), limit - 8)]


def split_mrkdwn(text: str, limit: int) -> list[str]:
    """All of `mrkdwn(text)` in pieces of at most `limit` units, cut at line ends if possible."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for line in mrkdwn(text).split("\n"):
        pieces = [line] if units(line) < limit else _split_units(line, limit - 1)
        for piece in pieces:
            cost = units(piece) + 1
            if current and used + cost > limit:
                chunks.append("\n".join(current))
                current, used = [], 0
            current.append(piece)
            used += cost
    if current:
        chunks.append("\n".join(current))
    return chunks


def block_quote(text: str, limit: int) -> str:
    """`text` escaped as a mrkdwn block quote of at most `limit` units (and 30 lines)."""
    lines = clean(text).strip().split("\n")
    # Each line costs a `>`; past 30 lines the rest run on in the last one.
    if len(lines) > 30:
        lines = [*lines[:29], " ".join(lines[29:])]
    body = clip_mrkdwn("\n".join(lines), max(limit - len(lines), 1))
    return "\n".join(f">{line}" for line in body.split("\n"))


def _unfence(text: str) -> str:
    # A backtick in the text would close the ``` fence early; U+02CB looks the same.
    return text.replace("`", "\u02cb")


def _split_units(line: str, size: int) -> list[str]:
    """An escaped line cut into pieces of at most `size` units, never inside an entity."""
    pieces: list[str] = []
    while units(line) > size:
        head = _safe_cut(_take(line, size, lambda ch: ch))
        if not head:  # cannot happen with size >= 6; guards the loop all the same
            head = line[:1]
        pieces.append(head)
        line = line[len(head) :]
    pieces.append(line)
    return pieces


def _take(text: str, budget: int, render: Any) -> str:
    """The rendering of the longest prefix of `text` whose rendering fits `budget` units."""
    out: list[str] = []
    used = 0
    for ch in text:
        piece: str = render(ch)
        cost = units(piece)
        if used + cost > budget:
            break
        out.append(piece)
        used += cost
    return "".join(out)


def _given(value: str) -> bool:
    """Whether a card fact is known (not blank, not the dash standing for unknown)."""
    return bool(value.strip()) and value.strip() != BLANK


def _safe_cut(text: str) -> str:
    """Escaped mrkdwn cut short, minus a trailing half link (`<...`) or half entity (`&am`)."""
    opened = text.rfind("<")
    if opened > text.rfind(">"):
        text = text[:opened]
    amp = text.rfind("&")
    if amp > text.rfind(";"):
        text = text[:amp]
    return text


@dataclass(frozen=True)
class RequestCard:
    """What the thread's root message shows about a request.

    `held_by` says who has the ball (an expert, a team, the requester); `signoff` pairs each
    sign-off team's name with where it stands ("Pending · 1 of 2 approvals"); `note` is one
    line of what matters now (the open question, the reason for a rejection).
    """

    jira_key: str
    jira_url: str
    summary: str
    request_type: str
    domain: str
    market: str
    priority: str
    stage: str
    held_by: str
    requester: str
    signoff: list[tuple[str, str]] = field(default_factory=list)
    clocks: list[str] = field(default_factory=list)
    note: str = ""


def render_request_root(card: RequestCard) -> tuple[str, list[dict[str, Any]]]:
    """The root message of a request's thread: fallback text and blocks."""
    stage = stage_label(card.stage)
    text = clip_mrkdwn(f"{card.jira_key} · {card.summary} · {stage}", MESSAGE_TEXT)
    title = f"{card.jira_key} · {card.request_type}" if _given(card.request_type) else card.jira_key
    facts = [("Stage", stage), ("Held by", card.held_by)]
    if _given(card.domain) or _given(card.market):
        place = " · ".join(v for v in (card.domain, card.market) if _given(v))
        facts.append(("Domain · Market", place))
    facts += [(name, value) for name, value in (("Priority", card.priority),) if _given(value)]
    facts.append(("Requester", card.requester))
    blocks: list[Block] = [
        HeaderBlock(text=plain_text(title, HEADER_TEXT)),
        SectionBlock(text=mrkdwn_text(f"*{link(card.jira_url, card.summary, 2900)}*")),
        SectionBlock(
            fields=[
                mrkdwn_text(f"*{name}*\n{clip_mrkdwn(value, 1900)}", FIELD_TEXT)
                for name, value in facts
            ]
        ),
    ]
    if card.signoff:
        # Each line is clipped on its own so one team's long name cannot hide the others.
        lines = "\n".join(
            f"• {clip_mrkdwn(team, 100)}: {clip_mrkdwn(state, 200)}" for team, state in card.signoff
        )
        blocks.append(SectionBlock(text=mrkdwn_text(f"*Sign-off*\n{lines}")))
    if card.note.strip():
        blocks.append(SectionBlock(text=mrkdwn_text(clip_mrkdwn(card.note, SECTION_TEXT))))
    if card.clocks:
        blocks.append(
            ContextBlock(elements=[mrkdwn_text(clip_mrkdwn(" | ".join(card.clocks), CONTEXT_TEXT))])
        )
    return text, [block.to_dict() for block in blocks]
