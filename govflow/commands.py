"""`/govflow status` and `/govflow ooo`: what they record and the sentence that answers them.

Plain functions over one ledger transaction. The receiver parses the command and resolves
the people it names (Slack calls, made before the transaction); these answer it, and audit
a refused command as `command_refused`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from domain.entitlement import local_date, team_label
from domain.lifecycle import RequestState
from domain.people import Person, roster_member
from domain.rules import Rules
from domain.stages import stage_info
from govflow.decisions import MAX_REASON, who
from integrations.db.audit import record_audit
from integrations.db.delegations import add_delegation
from integrations.db.requests import find_request
from integrations.slack.request_status import status_text
from integrations.slack.slash_command import SlashCommand

# An out-of-office longer than a year is a typo, not a sabbatical govflow should honour.
MAX_OOO = timedelta(days=366)


def status(session: Session, rules: Rules, jira_key: str) -> str:
    """Where a request stands and who holds it, in one short message."""
    row = find_request(session, jira_key)
    if row is None:
        return f"govflow has no request {jira_key}."
    if row.state is None:
        return f"*{jira_key}* is {_stage_words(row.stage)}: it has not been routed yet."
    state = RequestState.model_validate(row.state)
    return f"*{jira_key}* is {_stage_words(state.stage.value)}. {status_text(state, rules)}"


def out_of_office(
    session: Session,
    rules: Rules,
    command: SlashCommand,
    person: Person,
    delegate: Person,
    now: datetime,
) -> str:
    """Record `/govflow ooo` after checking who asks and the dates; the answer either way."""
    issuer = command.user_id
    entries = {
        entry: team
        for team, found in rules.teams.items()
        if (entry := roster_member(person, found.roster)) is not None
    }
    if not entries:
        return refuse_command(
            session,
            issuer,
            "You are on no govflow roster, so nobody needs to stand in for you.",
            "ooo",
            now,
        )
    first_team = next(iter(entries.values()))
    today = local_date(rules, first_team, now)
    start = command.start or today
    until = command.until or today
    problem = ooo_dates(start, until, today)
    if problem:
        return refuse_command(session, issuer, problem, "ooo", now)
    for entry in entries:
        add_delegation(
            session,
            approver=entry,
            delegate=delegate.slack_id or "",
            start=start,
            until=until,
            created_by=issuer,
            now=now,
        )
    record_audit(
        session,
        at=now,
        actor=who(person),
        action="delegation_added",
        reason=f"{issuer} away {start.isoformat()}..{until.isoformat()}",
        detail={
            "approver": list(entries),
            "delegate": delegate.slack_id,
            "start": start.isoformat(),
            "until": until.isoformat(),
            "teams": sorted(set(entries.values())),
        },
    )
    teams = ", ".join(sorted({team_label(rules, t) for t in entries.values()}))
    return (
        f"Recorded: <@{delegate.slack_id}> decides for you ({teams}) from "
        f"{start.isoformat()} until {until.isoformat()} inclusive."
    )


def refuse_command(session: Session, actor: str, reason: str, command: str, now: datetime) -> str:
    """Audit a refused command as `command_refused`; the reason, to answer with."""
    record_audit(
        session,
        at=now,
        actor=actor,
        action="command_refused",
        reason=reason[:MAX_REASON],
        detail={"command": command},
    )
    return reason


def ooo_dates(start: date, until: date, today: date) -> str | None:
    """What is wrong with an out-of-office period, worded for the person, if anything."""
    if until < today:
        return f"{until.isoformat()} has passed; name the last day you are away."
    if until < start:
        return f"{until.isoformat()} is before {start.isoformat()}."
    if until - start > MAX_OOO:
        return "That is longer than a year; name the last day of this absence."
    if start - today > MAX_OOO:
        return "That starts more than a year from now; record it nearer the time."
    return None


def _stage_words(stage: str) -> str:
    info = stage_info(stage)
    return info.words if info is not None else stage
