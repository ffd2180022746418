"""What the requester reads on the Jira issue about each lifecycle notice (v2 wiki markup).

The ticket hears of milestones only, not of every click: the expert's assessment when it
recommends proceeding (a rejection or a question is told by the notice that follows it),
sign-off opened, each team's sign-off, sign-off complete, a rejection with its reason, a
request for changes, a question (mentioning the requester, who must answer), a
cancellation, and the SOP update: each draft put to sign-off (its diff), a change that does
not apply, an edit or rebase that restarts sign-off and why, a conflict holding it, a send
back, and each published version with its effective date. Claims, single decisions, stage
changes (the status transition shows those) and the requester's own replies say nothing here.

Free text (reasons, questions, the proposed change) is quoted so it cannot format, link,
mention or embed anything: wiki special characters are escaped; a backslash typed by a user
gets an invisible zero-width space after it, so it can neither escape our escapes nor form
`\\\\` (a line break); `{noformat}` blocks are closed only by us.
"""

from __future__ import annotations

import re

from domain.assessment import Recommendation
from domain.entitlement import team_label
from domain.lifecycle import MAX_COMMENT
from domain.notices import (
    AssessmentRecorded,
    Cancelled,
    ChangesRequested,
    Claimed,
    DecisionRecorded,
    DraftEdited,
    DraftPrepared,
    DraftRebased,
    DraftRefused,
    DraftUnavailable,
    InfoReceived,
    InfoRequested,
    Notice,
    PublishConflict,
    Rejected,
    RequesterMatched,
    SentBack,
    SignoffComplete,
    SignoffInvalidated,
    SignoffOpened,
    SlaThresholdReached,
    SopPublished,
    StageChanged,
    TeamSignedOff,
)
from domain.people import Person
from domain.rules import QuorumKind, Rules
from domain.signoff import SignoffTeam
from domain.sla_words import due_text, sla_step
from integrations.jira.comments import mention

# `!` embeds an image from any URL (a tracking pixel); the rest format, link or mention.
_WIKI_SPECIAL = str.maketrans({c: f"\\{c}" for c in "{}[]|*_~!"})
_ZWSP = "\u200b"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_NOFORMAT = re.compile(r"\{(noformat)", re.IGNORECASE)
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9:_-]{1,128}")
_RECOMMENDATIONS = {
    Recommendation.PROCEED: "Proceed to sign-off",
    Recommendation.REJECT: "Reject",
    Recommendation.NEEDS_INFO: "Needs information from you",
}


def jira_comment(notice: Notice, rules: Rules, *, requester_account_id: str | None) -> str | None:
    """The Jira comment for `notice`, or None when it is no milestone for the requester."""
    match notice:
        case AssessmentRecorded():
            return _assessment(notice)
        case SignoffOpened():
            return _signoff_opened(notice, rules)
        case TeamSignedOff():
            team = _team(rules, notice.team)
            return f"*{team} signed off* the proposed change (round {notice.round})."
        case SignoffComplete():
            return _bounded(
                f"*Sign-off complete* (round {notice.round}): every team approved the proposed "
                "change. Next comes the SOP update; this ticket is updated when it is published."
            )
        case Rejected():
            return _rejected(notice, rules)
        case ChangesRequested():
            return _bounded(
                f"*Changes requested* by {_team(rules, notice.team)}:\n"
                f"{_quote(notice.feedback)}\n"
                "The expert team will revise its assessment and send it for sign-off again."
            )
        case InfoRequested():
            return _question(notice, requester_account_id)
        case Cancelled():
            return _bounded(f"*Request cancelled* by {_name(notice.by)}:\n{_quote(notice.reason)}")
        case SignoffInvalidated():
            return _bounded(
                f"*Sign-off needed again* (round {notice.round} no longer holds):\n"
                f"{_quote(notice.reason)}\n"
                "The teams decide again on the SOP text as it now reads."
            )
        case SentBack():
            return _bounded(
                f"*SOP update sent back* to the expert team by {_team(rules, notice.team)} "
                f"({_name(notice.by)}):\n{_quote(notice.reason)}\n"
                "The expert team will revise its assessment and send it for sign-off again."
            )
        case SopPublished():
            return _published(notice)
        case DraftRefused():
            return _bounded(
                "*The proposed change needs rework*: it does not apply to the SOP as published "
                "(for example a section number it names does not exist). The expert team is "
                "revising the assessment."
            )
        case DraftPrepared():
            return _bounded(
                f"*Draft of {_wiki(notice.sop_id)}* (changes version {notice.base_version}) put to "
                f"sign-off round {notice.round}:\n{_noformat(notice.diff)}"
            )
        case DraftUnavailable():
            return _bounded(f"*No draft of {_wiki(notice.sop_id)}*:\n{_quote(notice.reason)}")
        case DraftEdited():
            return _bounded(
                f"*Draft of {_wiki(notice.sop_id)} edited* by {_name(notice.by)} after sign-off:"
                f"\n{_noformat(notice.diff)}"
            )
        case DraftRebased():
            return _bounded(
                f"*Draft of {_wiki(notice.sop_id)} updated*: another request published version "
                f"{notice.onto_version} meanwhile, and this change was applied on top of it."
            )
        case PublishConflict():
            return _bounded(
                f"*SOP update on hold*: {_wiki(notice.sop_id)} version {notice.current_version} "
                "was published meanwhile and changes the same text as this request. The SOP "
                "owner team is reconciling the two; nothing was overwritten."
            )
        case StageChanged() | Claimed() | DecisionRecorded() | InfoReceived() | RequesterMatched():
            return None


def sla_comment(notice: SlaThresholdReached, rules: Rules) -> str:
    """The requester-facing note on the issue when a step passed its SLA (a breach only)."""
    return (
        f"The {sla_step(notice, rules)} step has passed its service level of {notice.target} "
        f"working time (it was due {due_text(notice)}). The team has been alerted."
    )


def _assessment(notice: AssessmentRecorded) -> str | None:
    assessment = notice.assessment
    # A rejection or a question is told by the Rejected / InfoRequested notice that follows.
    if assessment.recommendation is not Recommendation.PROCEED:
        return None
    lines = [
        f"*Expert assessment recorded* by {_name(assessment.author)}",
        f"* *Recommendation:* {_RECOMMENDATIONS[assessment.recommendation]}",
        f"* *Risk:* {assessment.risk.value.title()}",
        f"* *Affected SOPs:* {_wiki(', '.join(assessment.affected_sops))}",
        "",
        "*Rationale:*",
        _quote(assessment.rationale),
    ]
    if assessment.proposed_change.strip():
        lines += ["*Proposed change:*", _noformat(assessment.proposed_change)]
    return _bounded("\n".join(lines))


def _published(notice: SopPublished) -> str:
    return _bounded(
        f"*SOP update published* by {_name(notice.by)}: {_wiki(notice.sop_id)} version "
        f"{notice.version}, effective {notice.effective_date.isoformat()}. Reviewers are "
        "trained on it from that date."
    )


def _signoff_opened(notice: SignoffOpened, rules: Rules) -> str:
    if not notice.teams:
        return f"*No sign-off needed* (round {notice.round}): the change goes to its SOP update."
    teams = "\n".join(f"* {_team(rules, s.team)}: {_quorum(s)}" for s in notice.teams)
    again = " again on the revised assessment" if notice.round > 1 else ""
    return _bounded(
        f"*Sign-off started*{again} (round {notice.round}). These teams decide:\n{teams}\n"
        "Each team's sign-off is noted here as it happens."
    )


def _rejected(notice: Rejected, rules: Rules) -> str:
    team = _team(rules, notice.team)
    if notice.ends_request:
        return _bounded(
            f"*Request rejected* by {team} ({_name(notice.by)}):\n{_quote(notice.reason)}\n"
            "The request is closed."
        )
    return _bounded(
        f"*{team} rejected the proposed change* ({_name(notice.by)}):\n"
        f"{_quote(notice.reason)}\n"
        "The expert team will revise its assessment and send it for sign-off again."
    )


def _question(notice: InfoRequested, requester_account_id: str | None) -> str:
    valid = requester_account_id and _ACCOUNT_ID.fullmatch(requester_account_id)
    greeting = mention(requester_account_id if valid else None, "Hello,")
    return _bounded(
        f"{greeting} {_name(notice.by)} has a question about this request:\n"
        f"{_quote(notice.question)}\n"
        "Please answer in a comment on this ticket. The request is paused until you do."
    )


def _team(rules: Rules, team: str) -> str:
    return _wiki(team_label(rules, team))


def _name(person: Person) -> str:
    """A person by display name; never a mention (only the requester is pinged, on purpose)."""
    return _wiki(person.label)


def _quorum(signoff: SignoffTeam) -> str:
    quorum = signoff.quorum
    if quorum.kind is QuorumKind.ALL:
        return "every approver"
    if quorum.kind is QuorumKind.N_OF:
        return f"{quorum.n} approvers"
    return "any one approver"


def _clean(text: str) -> str:
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _wiki(text: str) -> str:
    """User text that wiki markup shows as typed."""
    return _clean(text).replace("\\", "\\" + _ZWSP).translate(_WIKI_SPECIAL)


def _quote(text: str) -> str:
    """User text as a {quote} block."""
    return "{quote}" + _wiki(text.strip()) + "{quote}"


def _noformat(text: str) -> str:
    """User text verbatim in a {noformat} block that only our own tag closes."""
    return "{noformat}\n" + _NOFORMAT.sub("{" + _ZWSP + r"\1", _clean(text)) + "\n{noformat}"


def _bounded(text: str) -> str:
    # A Jira comment holds 32,767 characters; ours stay far below unless a forged notice.
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"
