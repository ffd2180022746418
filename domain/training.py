"""The training case that comes with every published SOP version, and who must attest to it.

Pure: built from the approved draft (its base version's text and the new text) and the
expert's assessment; the ledger side is `integrations.db.training`.

- What changed is told section by section in words: a new section, a removed one, a new
  title, and for a reworded section the sentences it gained and lost (a table row counts as
  a sentence). Text outside numbered sections is only said to have changed.
- Why is the assessment's rationale, as the approvers read it.
- Worked examples are the assessment's optional "a listing that now passes" / "now fails";
  without them the case says none were given, and the check is empty (attesting is then
  reading alone).
- The check asks, for each example, whether that listing passes under the new version.
- A person is reminded while they have not attested, from `remind_before` working time
  before the effective date on their team's calendar until the effective date, at most once
  a day (the caller keys reminders by the team calendar's local date) and only in working
  hours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.calendar import BusinessCalendar
from domain.sop import normalize_text
from domain.sop_sections import numbered_sections

MAX_SENTENCES = 4
SENTENCE_CHARS = 300
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_TABLE_RULE = re.compile(r"^\|?[\s:|-]+\|?$")

ChangeKind = Literal["added", "removed", "retitled", "reworded"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SectionChange(_Frozen):
    """One section's change, in words."""

    number: str
    heading: str
    kind: ChangeKind
    words: str


class CheckQuestion(_Frozen):
    """A pass/fail question: does this listing pass under the new version?"""

    id: str
    listing: str
    passes: bool


class TrainingCase(_Frozen):
    """What reviewers read for one published SOP version, and the check they answer."""

    sop_id: str
    version: int
    based_on_version: int
    effective_date: date
    jira_key: str
    summary: str
    changes: tuple[SectionChange, ...]
    other_text_changed: bool = False
    why: str
    passes_example: str = ""
    fails_example: str = ""
    check: tuple[CheckQuestion, ...] = ()


def build_training_case(
    *,
    sop_id: str,
    version: int,
    based_on_version: int,
    effective_date: date,
    jira_key: str,
    summary: str,
    base_text: str,
    new_text: str,
    rationale: str,
    passes_example: str = "",
    fails_example: str = "",
) -> TrainingCase:
    """The training case of one published version, from its draft and the assessment."""
    changes, other = describe_changes(base_text, new_text)
    passes, fails = passes_example.strip(), fails_example.strip()
    check = []
    if passes:
        check.append(CheckQuestion(id="q1", listing=passes, passes=True))
    if fails:
        check.append(CheckQuestion(id=f"q{len(check) + 1}", listing=fails, passes=False))
    return TrainingCase(
        sop_id=sop_id,
        version=version,
        based_on_version=based_on_version,
        effective_date=effective_date,
        jira_key=jira_key,
        summary=summary,
        changes=tuple(changes),
        other_text_changed=other,
        why=rationale.strip(),
        passes_example=passes,
        fails_example=fails,
        check=tuple(check),
    )


def describe_changes(base_text: str, new_text: str) -> tuple[list[SectionChange], bool]:
    """Each numbered section's change in words; and whether unnumbered text changed too."""
    before = {n: (h, b) for n, h, b in numbered_sections(base_text)}
    after = {n: (h, b) for n, h, b in numbered_sections(new_text)}
    changes: list[SectionChange] = []
    for number, (heading, body) in after.items():
        old = before.get(number)
        if old is None:
            lead = _clip(" ".join(_sentences(body)[:2]) or "(no text)")
            words = f"Section {number} “{heading}” is new. It says: {lead}"
            changes.append(SectionChange(number=number, heading=heading, kind="added", words=words))
            continue
        old_heading, old_body = old
        if old_heading != heading and _same(old_body, body):
            words = f"Section {number} is now called “{heading}” (was “{old_heading}”)."
            changes.append(
                SectionChange(number=number, heading=heading, kind="retitled", words=words)
            )
        elif not _same(old_body, body) or old_heading != heading:
            changes.append(_reworded(number, heading, old_heading, old_body, body))
    for number, (heading, _) in before.items():
        if number not in after:
            words = f"Section {number} “{heading}” was removed."
            changes.append(
                SectionChange(number=number, heading=heading, kind="removed", words=words)
            )
    changes.sort(key=lambda c: _order(c.number))
    return changes, _outside_sections(base_text) != _outside_sections(new_text)


def _reworded(number: str, heading: str, old_heading: str, old: str, new: str) -> SectionChange:
    old_sentences, new_sentences = _sentences(old), _sentences(new)
    gained = [s for s in new_sentences if s not in old_sentences]
    lost = [s for s in old_sentences if s not in new_sentences]
    parts = [f"Section {number} “{heading}”"]
    if old_heading != heading:
        parts[0] += f" (was “{old_heading}”)"
    if gained:
        parts.append("now says: " + _quoted(gained))
    if lost:
        parts.append(("and " if gained else "") + "no longer says: " + _quoted(lost))
    if not gained and not lost:
        parts.append("was reordered or reformatted; its sentences are the same")
    words = " ".join(parts[:1]) + " " + "; ".join(parts[1:]) + "."
    return SectionChange(number=number, heading=heading, kind="reworded", words=words)


def _quoted(sentences: Sequence[str]) -> str:
    shown = [f"“{_clip(s)}”" for s in sentences[:MAX_SENTENCES]]
    more = len(sentences) - MAX_SENTENCES
    return " ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _sentences(body: str) -> list[str]:
    """A section's text as sentences: table rows and list items each count as one."""
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            text = " ".join(paragraph)
            out.extend(s.strip() for s in _SENTENCE.split(text) if s.strip())
            paragraph.clear()

    for raw in body.split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("|"):
            flush()
            if not _TABLE_RULE.match(line):
                cells = [c.strip() for c in line.strip("|").split("|")]
                out.append(" | ".join(c for c in cells if c))
        elif re.match(r"^([-*+]|\d+\.)\s", line):
            flush()
            paragraph.append(re.sub(r"^([-*+]|\d+\.)\s+", "", line))
        else:
            paragraph.append(line)
    flush()
    return out


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _outside_sections(text: str) -> str:
    """The text before the first numbered section (titles, preamble), whitespace-folded."""
    lines = normalize_text(text).split("\n")
    first = numbered_sections(text)
    if not first:
        return " ".join(text.split())
    heading = first[0][0]
    for i, line in enumerate(lines):
        if line.lstrip("#").strip().startswith(heading):
            return " ".join(" ".join(lines[:i]).split())
    return ""


def _order(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdigit())


def _clip(text: str, limit: int = SENTENCE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def grade(case: TrainingCase, answers: Mapping[str, bool]) -> tuple[int, int]:
    """How many of the check's questions `answers` got right, out of how many."""
    right = sum(1 for q in case.check if answers.get(q.id) is q.passes)
    return right, len(case.check)


def render_training_markdown(case: TrainingCase) -> str:
    """The training case as Markdown, for `govflow sop export` and for reading anywhere."""
    lines = [
        f"## Training case: {case.sop_id} v{case.version}",
        "",
        f"Effective {case.effective_date.isoformat()} · replaces v{case.based_on_version} · "
        f"{case.jira_key}: {case.summary}",
        "",
        "### What changed",
        "",
    ]
    lines += [f"- {c.words}" for c in case.changes] or ["- No numbered section changed."]
    if case.other_text_changed:
        lines.append("- The text outside the numbered sections (title or preamble) changed.")
    lines += ["", "### Why", "", case.why or "The assessment gave no reasoning.", ""]
    lines += ["### Worked examples", ""]
    if case.passes_example or case.fails_example:
        if case.passes_example:
            lines.append(f"- **Now passes:** {case.passes_example}")
        if case.fails_example:
            lines.append(f"- **Now fails:** {case.fails_example}")
    else:
        lines.append("None were given with this change.")
    lines += ["", "### Check", ""]
    if case.check:
        for q in case.check:
            answer = "passes" if q.passes else "fails"
            lines.append(f"- {q.id}: Under v{case.version}, does this listing pass? {q.listing}")
            lines.append(f"  (answer: {answer})")
    else:
        lines.append("No check: without worked examples, attesting means having read the case.")
    return "\n".join(lines) + "\n"


def reminder_window(
    calendar: BusinessCalendar, effective_date: date, remind_before: timedelta
) -> tuple[datetime, datetime]:
    """When reminders run on a team's calendar: [lead time before effective, effective)."""
    effective = datetime.combine(effective_date, time(0), tzinfo=calendar.zone)
    # Walk back day by day until the working time up to the effective date covers the lead.
    start = effective
    while calendar.business_time_between(start, effective) < remind_before:
        start -= timedelta(days=1)
        if effective - start > timedelta(days=366):
            break
    return start, effective


def reminder_due(
    calendar: BusinessCalendar,
    effective_date: date,
    remind_before: timedelta,
    now: datetime,
) -> bool:
    """Whether `now` is a time to remind someone who has not attested, on this calendar."""
    start, end = reminder_window(calendar, effective_date, remind_before)
    return start <= now < end and calendar.is_open(now)


def people_to_attest(rosters: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """(team, roster entry) for each person who attests, once per person, teams in order."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for team, roster in rosters.items():
        for entry in roster:
            if entry not in seen:
                seen.add(entry)
                out.append((team, entry))
    return out
