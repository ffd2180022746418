"""Who clicked: a Slack user id resolved to a Person with the Slack id and the email.

DESIGN (People): a person is one email across Jira and Slack; rosters name Slack ids or
emails. A click carries only the Slack id, so the receiver resolves it, in this order:
1. this process's memory (a click storm by one approver costs one lookup);
2. the ledger's `identities` table (shared by every receiver and runner);
3. Slack's `users.info` through the gateway, whose answer is written to the ledger.
A user without an email on their profile (a bot, a guest with it hidden) resolves to a
Person known by Slack id only: roster entries naming them by Slack id still match.

Jira Cloud often hides a reporter's email, so a requester may be known by Jira account id
only. `JiraAccounts` then tells whose Jira accounts a clicker's email holds, through Jira's
`user/search` (which matches a hidden email by the whole address), cached in the same
`identities` row: one lookup per person. A cached empty answer is asked again for a request
filed after it (the person may have opened a Jira account since; a stale "none" would let
them approve their own request); a cached account list is reused.

A Jira requester is matched to a Slack user by email (`RequesterSlackIds`, Slack's
`users.lookupByEmail`), cached in the same row, "no such user" included, so a poll does not
ask again for every ticket. A found id is kept for good (a Slack user keeps their id). A
"no such user" is asked again once it is `NO_USER_REASK` old: someone can join Slack after
filing, and a day bounds how long a newly added roster member still counts in the quorum
of their own request, at one call a day per such requester.

The Slack and Jira calls happen outside any ledger transaction: on SQLite a transaction holds
the database's write lock, and no click should wait on another click's HTTP round trip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from domain.people import Person
from integrations.db.models import IdentityRow
from integrations.db.upsert import insert_ignore

Clock = Callable[[], datetime]
# How long Slack's "no such user" for an email is believed (see the module docstring).
NO_USER_REASK = timedelta(days=1)


class UserDirectory(Protocol):
    """The one Slack call identity resolution needs (`SlackGateway` provides it)."""

    def user_email(self, user_id: str) -> str | None:
        """The email on a user's profile, None when it has none."""
        ...


class IdentityResolver:
    """Resolves Slack user ids to Persons through memory, the ledger, then `users.info`."""

    def __init__(
        self, sessions: sessionmaker[Session], directory: UserDirectory, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._clock = clock
        self._known: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def person(self, slack_id: str, *, name: str = "") -> Person:
        """The Person behind `slack_id`; raises SlackError when Slack cannot say."""
        email = self.email(slack_id)
        return Person(slack_id=slack_id, email=email, name=name)

    def email(self, slack_id: str) -> str | None:
        """The email of `slack_id` (None when Slack knows none); raises SlackError."""
        with self._lock:
            if slack_id in self._known:
                return self._known[slack_id]
        with self._sessions.begin() as session:
            email = cached_email(session, slack_id)
        if email is None:
            email = self._directory.user_email(slack_id)
            if email is not None:
                with self._sessions.begin() as session:
                    remember(session, email=email, slack_id=slack_id, now=self._clock())
        with self._lock:
            self._known[slack_id] = email
        return email


class EmailDirectory(Protocol):
    """The Slack call matching an email to a user (`SlackGateway` provides it)."""

    def lookup_user_by_email(self, email: str) -> str | None:
        """The Slack user id for an email, None when Slack has no such user; raises SlackError."""
        ...


class RequesterSlackIds:
    """The Slack user id of an email, through the ledger, then `users.lookupByEmail`."""

    def __init__(
        self, sessions: sessionmaker[Session], directory: EmailDirectory, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._clock = clock

    def slack_id(self, email: str) -> str | None:
        """The Slack id of `email`, None when Slack has no such user; raises SlackError."""
        folded = email.strip().casefold()
        with self._sessions.begin() as session:
            cached = cached_slack_answer(session, folded)
        if cached is not None:
            slack_id, answered_at = cached
            if slack_id is not None or self._clock() - answered_at < NO_USER_REASK:
                return slack_id
        slack_id = self._directory.lookup_user_by_email(folded)
        with self._sessions.begin() as session:
            remember_slack_answer(session, email=folded, slack_id=slack_id, now=self._clock())
        return slack_id


def cached_slack_answer(session: Session, email: str) -> tuple[str | None, datetime] | None:
    """The Slack id the ledger has for an email (None: no such user) and since when.

    None when Slack was never asked for it. An id learned another way (a click resolved
    with `users.info`) counts as an answer.
    """
    query = select(
        IdentityRow.slack_user_id, IdentityRow.slack_looked_up_at, IdentityRow.looked_up_at
    ).where(IdentityRow.email == email)
    found = session.execute(query).first()
    if found is None:
        return None
    slack_id, slack_looked_up_at, looked_up_at = found
    if slack_id is not None:
        return slack_id, slack_looked_up_at or looked_up_at
    if slack_looked_up_at is None:
        return None
    return None, slack_looked_up_at


def remember_slack_answer(
    session: Session, *, email: str, slack_id: str | None, now: datetime
) -> None:
    """Record what `users.lookupByEmail` said for `email` (no such user is an answer too)."""
    if slack_id is not None:
        remember(session, email=email, slack_id=slack_id, now=now)
    row = {
        "email": email,
        "slack_user_id": None,
        "jira_account_id": None,
        "looked_up_at": now,
        "slack_looked_up_at": now,
    }
    if not insert_ignore(session, IdentityRow.__table__, row, ["email"]):  # type: ignore[arg-type]
        session.execute(
            update(IdentityRow).where(IdentityRow.email == email).values(slack_looked_up_at=now)
        )


class AccountDirectory(Protocol):
    """The one Jira call telling accounts apart (`JiraGateway` provides it)."""

    def account_ids(self, email: str) -> list[str]:
        """The active Jira accounts `user/search` finds for `email`; raises JiraError."""
        ...


class JiraAccounts:
    """The Jira account ids an email holds, through the ledger, then Jira's `user/search`."""

    def __init__(
        self, sessions: sessionmaker[Session], directory: AccountDirectory, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._clock = clock

    def account_ids(self, email: str, *, since: datetime) -> list[str]:
        """Accounts of `email`, valid for a request filed at `since`; raises JiraError."""
        folded = email.strip().casefold()
        with self._sessions.begin() as session:
            cached = cached_account_ids(session, folded)
        if cached is not None:
            ids, looked_up_at = cached
            if ids or looked_up_at >= since:
                return ids
        ids = self._directory.account_ids(folded)
        with self._sessions.begin() as session:
            remember_accounts(session, email=folded, account_ids=ids, now=self._clock())
        return ids


def cached_account_ids(session: Session, email: str) -> tuple[list[str], datetime] | None:
    """The Jira accounts the ledger has for an email and when Jira said so, if it was asked."""
    query = select(IdentityRow.jira_account_ids, IdentityRow.jira_looked_up_at).where(
        IdentityRow.email == email
    )
    found = session.execute(query).first()
    if found is None or found[0] is None or found[1] is None:
        return None
    return [str(i) for i in found[0]], found[1]


def remember_accounts(
    session: Session, *, email: str, account_ids: list[str], now: datetime
) -> None:
    """Record the Jira accounts `user/search` found for `email` (none is an answer too)."""
    values = {
        "jira_account_ids": account_ids,
        "jira_looked_up_at": now,
        "jira_account_id": account_ids[0] if account_ids else None,
    }
    row = {"email": email, "slack_user_id": None, "looked_up_at": now, **values}
    if not insert_ignore(session, IdentityRow.__table__, row, ["email"]):  # type: ignore[arg-type]
        session.execute(update(IdentityRow).where(IdentityRow.email == email).values(**values))


def cached_email(session: Session, slack_id: str) -> str | None:
    """The email the ledger has for a Slack user id, if it has one."""
    query = select(IdentityRow.email).where(IdentityRow.slack_user_id == slack_id).limit(1)
    return session.scalar(query)


def remember(session: Session, *, email: str, slack_id: str, now: datetime) -> None:
    """Record that `email` is Slack user `slack_id` (the email is the identity's key)."""
    folded = email.strip().casefold()
    added = insert_ignore(
        session,
        IdentityRow.__table__,  # type: ignore[arg-type]
        {"email": folded, "slack_user_id": slack_id, "jira_account_id": None, "looked_up_at": now},
        ["email"],
    )
    if not added:
        session.execute(
            update(IdentityRow)
            .where(IdentityRow.email == folded)
            .values(slack_user_id=slack_id, looked_up_at=now)
        )
