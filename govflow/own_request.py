"""Whether the person clicking filed the request, when Jira hides the requester's email.

A requester Jira knows by account id alone cannot be matched with a Slack user by email, so
nobody could tell that an approver is approving their own request. Before a click or form
is checked, the actor's email is looked up in Jira (`user/search`, cached): the actor
recorded in the event then carries the requester's account id when it is theirs, and
`same_person` sees it, in the precheck and in `advance`. So does every away roster member
the actor stands in for: a match teaches the requester's email, which takes them off the
rosters, so nobody acts in their name. When Jira cannot say, the click is refused
(`NotEntitled`) rather than let through unchecked.

Two steps, so no Jira or Slack call holds the ledger's write lock: `on_file` reads the
ledger in the caller's transaction, `confirm` asks Jira and Slack afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from domain.entitlement import as_delegations, local_date
from domain.errors import ConfigError, JiraError, NotEntitled, SlackError
from domain.lifecycle import RequestState
from domain.people import Person, same_person
from domain.rules import Rules
from govflow.delegation_sources import known_delegations
from integrations.db.requests import find_request

log = logging.getLogger(__name__)


class AccountIds(Protocol):
    """Jira's account ids for an email (`integrations.slack.identity.JiraAccounts`)."""

    def account_ids(self, email: str, *, since: datetime) -> list[str]:
        """Accounts of `email`, valid for a request filed at `since`; raises JiraError."""
        ...


class SlackEmails(Protocol):
    """The email behind a Slack id (`integrations.slack.identity.IdentityResolver`)."""

    def email(self, slack_id: str) -> str | None:
        """The email of `slack_id` (None when Slack knows none); raises SlackError."""
        ...


@dataclass(frozen=True)
class OnFile:
    """What the ledger says about a request's requester, for checking one actor."""

    jira_key: str
    requester: Person
    filed: datetime
    # Roster members the actor stands in for today (delegations naming the actor).
    away: tuple[Person, ...]


def on_file(
    session: Session, rules: Rules, jira_key: str, actor: Person, now: datetime
) -> OnFile | None:
    """The request's requester, when filed, and whom `actor` stands in for; None if unrouted."""
    row = find_request(session, jira_key)
    if row is None or row.state is None:
        return None
    state = RequestState.model_validate(row.state)
    on = local_date(rules, state.expert_team, now)
    away = tuple(
        d.approver
        for d in as_delegations(known_delegations(session, rules, on))
        if same_person(d.delegate, actor)
    )
    return OnFile(jira_key=jira_key, requester=state.requester, filed=row.created_at, away=away)


def confirm(
    found: OnFile | None, actor: Person, accounts: AccountIds, emails: SlackEmails
) -> tuple[Person, Person | None]:
    """The actor with their Jira account, and the requester as learned; NotEntitled if unsure.

    Returns the requester to check against when a lookup taught something, else None.
    """
    if found is None:
        return actor, None
    requester = found.requester
    account = requester.jira_account_id
    known = requester.email is not None or requester.slack_id is not None
    # "unknown:KEY" stands for a ticket without a reporter: no account to compare with.
    if known or account is None or account.startswith("unknown:"):
        return actor, None
    unsure = f"govflow could not confirm you did not file {found.jira_key}"
    if actor.email is None:
        raise NotEntitled(f"{unsure}: your Slack profile shows no email to match with Jira")
    ids = _accounts(accounts, actor.email, found.filed, unsure)
    learned = None
    if account in ids:
        learned = Person(
            jira_account_id=account,
            email=actor.email,
            slack_id=actor.slack_id,
            name=requester.name,
        )
    if ids and actor.jira_account_id is None:
        mine = account if account in ids else ids[0]
        actor = actor.model_copy(update={"jira_account_id": mine})
    for member in found.away:
        email = member.email or _email_of(emails, member.slack_id, unsure)
        if learned is None and email and account in _accounts(accounts, email, found.filed, unsure):
            learned = Person(
                jira_account_id=account,
                email=email,
                slack_id=member.slack_id,
                name=requester.name,
            )
    return actor, learned


def _accounts(accounts: AccountIds, email: str, filed: datetime, unsure: str) -> list[str]:
    """The Jira accounts of `email`; NotEntitled when Jira cannot say."""
    try:
        return accounts.account_ids(email, since=filed)
    except (JiraError, ConfigError) as exc:
        log.warning("Jira user search failed: %s", exc)
        raise NotEntitled(f"{unsure}; try again in a minute") from exc


def _email_of(emails: SlackEmails, slack_id: str | None, unsure: str) -> str | None:
    """The email of a roster member named by Slack id; NotEntitled when Slack cannot say."""
    if slack_id is None:
        return None
    try:
        return emails.email(slack_id)
    except SlackError as exc:
        raise NotEntitled(f"{unsure}; try again in a minute") from exc
