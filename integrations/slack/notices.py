"""What the request's Slack thread says about each lifecycle notice.

The thread is the working record for the experts and approvers, so it hears of every step,
decisions included. Stage changes say nothing of their own: each comes with a notice that
says it better, and the root card shows the stage. The full proposed change is posted here
(the approval cards clip it and point at the thread).

People are named by display name, or mentioned when that is all we know of them: a mention
notifies, and nobody needs a ping about their own click. The one deliberate ping is to the
expert whose request was taken over.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from domain.assessment import Recommendation
from domain.entitlement import team_label
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
from domain.signoff import SignoffTeam, Verdict
from domain.sla_words import due_text, sla_headline, sla_step
from integrations.slack.blocks import (
    SECTION_TEXT,
    block_quote,
    clip_mrkdwn,
    code_chunks,
    mrkdwn_text,
    person_ref,
    slack_mention,
    split_mrkdwn,
)

Reply = tuple[str, list[dict[str, Any]]]

RECOMMENDATION_WORDS = {
    Recommendation.PROCEED: "proceed to sign-off",
    Recommendation.REJECT: "reject the request",
    Recommendation.NEEDS_INFO: "ask the requester first",
}
DECISION_WORDS = {
    Verdict.APPROVE: ("✅", "approved"),
    Verdict.REJECT: ("❌", "rejected"),
    Verdict.REQUEST_CHANGES: ("✏️", "asked for changes"),
}
QUOTE = 1500
# A message holds 50 blocks; a diff longer than this many code blocks is cut with a note.
MAX_DIFF_BLOCKS = 40


def thread_reply(notice: Notice, rules: Rules) -> Reply | None:
    """The thread reply for `notice` as (fallback text, blocks), or None to say nothing."""
    match notice:
        case StageChanged():
            return None
        case RequesterMatched():
            return _say(
                f"🔎 The requester is <@{notice.slack_id}> on Slack: they do not decide on "
                "their own request, and their team's quorum now counts without them"
            )
        case Claimed():
            return _claimed(notice)
        case AssessmentRecorded():
            return _assessment(notice)
        case SignoffOpened():
            return _signoff_opened(notice, rules)
        case DecisionRecorded():
            return _decision(notice, rules)
        case TeamSignedOff():
            team = _team(rules, notice.team)
            return _say(f"✅ *{team}* signed off round {notice.round}")
        case SignoffComplete():
            return _say(f"🎉 Every team signed off round {notice.round}: on to the SOP update")
        case Rejected():
            return _rejected(notice, rules)
        case ChangesRequested():
            head = (
                f"✏️ {_who(notice.by)} ({_team(rules, notice.team)}) asked for changes; "
                "the request is back in expert review"
            )
            return _say(head, block_quote(notice.feedback, QUOTE))
        case InfoRequested():
            head = (
                f"❓ {_who(notice.by)} asked the requester on Jira. The request waits for "
                "their answer, and its SLA clocks pause"
            )
            return _say(head, block_quote(notice.question, QUOTE))
        case InfoReceived():
            return _info_received(notice)
        case Cancelled():
            head = f"🚫 {_who(notice.by)} cancelled the request"
            return _say(head, block_quote(notice.reason, QUOTE))
        case DraftRefused():
            return _draft_refused(notice)
        case DraftPrepared():
            head = (
                f"📄 Draft of *{_sop(notice.sop_id)}* for sign-off round {notice.round}: the "
                f"full diff against v{notice.base_version}"
            )
            return _diff_reply(head, notice.diff)
        case DraftUnavailable():
            return _say(f"⚠️ No draft of *{_sop(notice.sop_id)}*", block_quote(notice.reason, QUOTE))
        case DraftEdited():
            head = (
                f"✏️ {_who(notice.by)} edited the draft of *{_sop(notice.sop_id)}* after "
                f"sign-off; the full diff against v{notice.base_version}"
            )
            return _diff_reply(head, notice.diff)
        case DraftRebased():
            head = (
                f"🔀 *{_sop(notice.sop_id)}* moved on to v{notice.onto_version} meanwhile; the "
                f"draft was replayed on it cleanly. The full diff against v{notice.onto_version}"
            )
            return _diff_reply(head, notice.diff)
        case SignoffInvalidated():
            head = (
                f"🔁 The approvals of round {notice.round} no longer hold, so sign-off starts again"
            )
            return _say(head, block_quote(notice.reason, QUOTE))
        case PublishConflict():
            head = (
                f"⚠️ *{_sop(notice.sop_id)}* v{notice.current_version} was published after this "
                f"draft (on v{notice.base_version}) and clashes with it. Nothing was published: "
                "the SOP owner edits the draft to reconcile them, or sends the request back"
            )
            return _diff_reply(head, notice.conflict)
        case SentBack():
            head = (
                f"↩️ {_who(notice.by)} ({_team(rules, notice.team)}) sent the SOP update back; "
                "the request is back in expert review"
            )
            return _say(head, block_quote(notice.reason, QUOTE))
        case SopPublished():
            return _say(
                f"📘 {_who(notice.by)} published *{_sop(notice.sop_id)} v{notice.version}*, "
                f"effective {notice.effective_date.isoformat()}"
            )


# ---- SLA thresholds: the watchdog's notices, to three audiences -----------------------------
# `who` is the people to mention: roster entries, each with its Slack user id when known (an
# email nobody has looked up is named as it is).


def sla_reminder(
    notice: SlaThresholdReached, rules: Rules, who: Iterable[tuple[str, str | None]]
) -> str:
    """The nudge in the request's thread, to whoever has yet to act."""
    step, when, people = sla_step(notice, rules), due_text(notice), _mentions(who)
    if notice.breached:
        return f":rotating_light: {people} {notice.jira_key}: {step} is overdue (was due {when})."
    used = f"{notice.fraction:.0%} of the {notice.target} SLA used"
    return f":hourglass_flowing_sand: {people} {notice.jira_key}: {step} is due {when} ({used})."


def sla_to_lead(notice: SlaThresholdReached, rules: Rules) -> str:
    """A direct message to a team lead."""
    return f"{sla_headline(notice, rules)}. {notice.jira_key} needs your team's attention."


def sla_to_channel(
    notice: SlaThresholdReached, rules: Rules, who: Iterable[tuple[str, str | None]]
) -> str:
    """The team's call to action in its own channel, mentioning its roster."""
    return f":rotating_light: {_mentions(who)} {sla_headline(notice, rules)}."


def _mentions(who: Iterable[tuple[str, str | None]]) -> str:
    return " ".join(f"<@{user}>" if user else entry for entry, user in who)


def _claimed(notice: Claimed) -> Reply:
    text = f"🙋 {_who(notice.by)} claimed the request"
    if notice.on_behalf_of is not None:
        text += f", standing in for {_who(notice.on_behalf_of)}"
    if notice.previous is not None:
        # The expert who held it should know it was taken over.
        text += f", taking it over from {person_ref(notice.previous)}"
    return _say(text)


def _assessment(notice: AssessmentRecorded) -> Reply:
    """The assessment in full: the thread is where the complete proposed change lives."""
    assessment = notice.assessment
    advice = RECOMMENDATION_WORDS[assessment.recommendation]
    head = (
        f"📝 {_who(assessment.author)} recommends to *{advice}* · risk "
        f"*{assessment.risk.value.lower()}*"
    )
    if assessment.affected_sops:
        head += f" · SOPs: {clip_mrkdwn(', '.join(assessment.affected_sops), 1000)}"
    reasons = (
        "Question for the requester"
        if assessment.recommendation is Recommendation.NEEDS_INFO
        else "Rationale"
    )
    blocks: list[Block] = [SectionBlock(text=mrkdwn_text(head))]
    blocks += _long(f"*{reasons}*", split_mrkdwn(assessment.rationale, SECTION_TEXT - 40))
    if assessment.proposed_change.strip():
        blocks += _long("*Proposed change*", code_chunks(assessment.proposed_change, 2900))
    return _plain(head), [b.to_dict() for b in blocks]


def _signoff_opened(notice: SignoffOpened, rules: Rules) -> Reply:
    if not notice.teams:
        return _say(f"🗳️ Round {notice.round} needs no sign-off")
    teams = ", ".join(f"{_team(rules, s.team)} ({_quorum(s)})" for s in notice.teams)
    again = " again, on the revised assessment" if notice.round > 1 else ""
    return _say(f"🗳️ Sign-off round {notice.round} is open{again}: {teams}")


def _decision(notice: DecisionRecorded, rules: Rules) -> Reply:
    decision = notice.decision
    icon, verb = DECISION_WORDS[decision.verdict]
    text = f"{icon} {_who(decision.approver)} {verb} for {_team(rules, decision.team)}"
    if decision.on_behalf_of is not None:
        text += f" on behalf of {_who(decision.on_behalf_of)}"
    text += f" · {clip_mrkdwn(notice.progress, 200)}"
    return _say(text, block_quote(decision.reason, QUOTE) if decision.reason.strip() else "")


def _rejected(notice: Rejected, rules: Rules) -> Reply:
    team = _team(rules, notice.team)
    after = (
        "The request is closed."
        if notice.ends_request
        else "The request goes back to expert review."
    )
    return _say(
        f"❌ {_who(notice.by)} ({team}) rejected it. {after}",
        block_quote(notice.reason, QUOTE),
    )


def _info_received(notice: InfoReceived) -> Reply:
    if notice.resumed:
        head = "💬 The requester answered on Jira; the request carries on"
    else:
        head = f"💬 {_who(notice.by)} commented on Jira; still waiting for the requester's answer"
    return _say(head, block_quote(notice.body, QUOTE) if notice.body.strip() else "")


def _draft_refused(notice: DraftRefused) -> Reply:
    """The expert's change does not apply: say where, so the form can be fixed and resent."""
    head = (
        f"⚠️ {_who(notice.assessment.author)}: the proposed change does not apply to the SOPs "
        "as the registry has them, so the request stays in expert review. Fix it and submit "
        "the assessment again"
    )
    problems = "\n".join(f"• {p}" for p in notice.problems[:20])
    return _say(head, clip_mrkdwn(problems, SECTION_TEXT - 100))


def _diff_reply(head: str, diff: str) -> Reply:
    """A head line, then all of `diff` verbatim in code blocks (cut only past Slack's limits)."""
    chunks = code_chunks(diff, 2900)
    if len(chunks) > MAX_DIFF_BLOCKS:
        left = len(chunks) - MAX_DIFF_BLOCKS
        chunks = [*chunks[:MAX_DIFF_BLOCKS], f"_…{left} more parts: see `govflow sop diff`_"]
    blocks: list[Block] = [SectionBlock(text=mrkdwn_text(head))]
    blocks += [SectionBlock(text=mrkdwn_text(chunk)) for chunk in chunks]
    return _plain(head), [b.to_dict() for b in blocks]


def _sop(sop_id: str) -> str:
    return clip_mrkdwn(sop_id, 64)


def _say(head: str, detail: str = "") -> Reply:
    """A reply of one line, and optionally a quoted detail under it."""
    blocks: list[Block] = [SectionBlock(text=mrkdwn_text(head))]
    if detail:
        blocks.append(SectionBlock(text=mrkdwn_text(detail)))
    return _plain(head), [b.to_dict() for b in blocks]


def _long(title: str, chunks: list[str]) -> list[Block]:
    """Sections carrying `chunks` in order, the first under `title`."""
    blocks: list[Block] = []
    for index, chunk in enumerate(chunks):
        text = f"{title}\n{chunk}" if index == 0 else chunk
        blocks.append(SectionBlock(text=mrkdwn_text(text)))
    if not blocks:
        blocks.append(ContextBlock(elements=[mrkdwn_text(title)]))
    return blocks


def _who(person: Person) -> str:
    """A person's display name; a mention only when we know nothing better."""
    if person.name:
        return clip_mrkdwn(person.name, 120)
    return slack_mention(person.slack_id) or clip_mrkdwn(person.label, 120)


def _team(rules: Rules, team: str) -> str:
    return clip_mrkdwn(team_label(rules, team), 120)


def _quorum(signoff: SignoffTeam) -> str:
    quorum = signoff.quorum
    if quorum.kind is QuorumKind.ALL:
        return "every approver"
    if quorum.kind is QuorumKind.N_OF:
        return f"{quorum.n} approvers"
    return "any one approver"


def _plain(head: str) -> str:
    """The (escaped) head line as the notification preview, without bold markers."""
    # Heads are built from clipped parts and stay far below Slack's limit for `text`.
    return head.replace("*", "")
