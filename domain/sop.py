"""SOP documents and their immutable versions, and the text identity they are bound by.

An SOP (standard operating procedure) is a markdown document that content reviewers are
trained on. The registry keeps every published version; a version is never edited, a change
is a new version. This module is pure; the ledger side is `integrations.db.sops`. A text's
numbered sections are `domain.sop_sections`, the proposed-change format an expert types is
`domain.sop_change`, a change made into a draft is `domain.sop_draft`, the rules for
publishing a version are `domain.sop_publication`, merging and diffs are `domain.sop_merge`.

Text identity
    `normalize_text` is what the registry stores and hashes: line endings become `\\n`,
    trailing whitespace and a byte-order mark go, leading and trailing blank lines go, and
    non-empty text ends with one newline. `content_hash` is the sha256 of that. A sign-off
    binds to the hash of the draft it approved, so a draft changed after approval, by a word
    or by a rebase, no longer carries it (`signoff_still_valid`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SOP_ID = re.compile(r"^SOP-[A-Z]{2,6}-\d{3,}$")
MARKET = re.compile(r"^[A-Z]{2}$")
KEY = re.compile(r"^[a-z][a-z0-9_]*$")
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _sop_id(value: str) -> str:
    if not SOP_ID.match(value):
        raise ValueError(f"{value!r} is not an SOP id like SOP-LST-001")
    return value


def _key(value: str) -> str:
    if not KEY.match(value):
        raise ValueError(f"{value!r} is not a key: lower_snake_case, starting with a letter")
    return value


def _market(value: str) -> str:
    if not MARKET.match(value):
        raise ValueError(f"{value!r} is not a two-letter market code in capitals, like MY")
    return value


def _markets(value: tuple[str, ...]) -> tuple[str, ...]:
    twice = sorted({m for m in value if value.count(m) > 1})
    if twice:
        raise ValueError(f"listed twice: {', '.join(twice)}")
    return value


SopId = Annotated[str, AfterValidator(_sop_id)]
Key = Annotated[str, AfterValidator(_key)]
# Checked per item so that a file's error points at the one bad market's line.
Market = Annotated[str, AfterValidator(_market)]
Markets = Annotated[tuple[Market, ...], Field(min_length=1), AfterValidator(_markets)]


def normalize_text(text: str) -> str:
    """The canonical form of an SOP text: `\\n` endings, no trailing whitespace or edge blanks."""
    lines = [line.rstrip() for line in LINE_BREAK.split(text.removeprefix("\ufeff"))]
    while lines and not lines[-1]:
        lines.pop()
    start = next((i for i, line in enumerate(lines) if line), len(lines))
    return "\n".join(lines[start:]) + "\n" if lines[start:] else ""


def content_hash(text: str) -> str:
    """The sha256 (hex) of the normalized text: what a sign-off and a version are bound to."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def signoff_still_valid(approved_hash: str, draft_text: str) -> bool:
    """Whether `draft_text` is still exactly the text whose hash the approvers signed off."""
    # Bytes: compare_digest refuses non-ASCII str, and a garbled stored hash must read False.
    given = approved_hash.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(given, content_hash(draft_text).encode("ascii"))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SopMeta(_Frozen):
    """What an SOP is about and who owns it (its text and dates are in its versions)."""

    id: SopId
    title: str = Field(min_length=3, max_length=255)
    owner_team: Key
    domain: Key
    markets: Markets


class SopVersion(_Frozen):
    """One published, immutable version of an SOP's text."""

    sop_id: str
    version: int = Field(ge=1)
    text: str
    content_hash: str
    author: str
    effective_date: date
    changelog: str
    jira_key: str | None
    based_on_version: int | None
    published_at: datetime
