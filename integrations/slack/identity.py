"""Who clicked: a Slack user id resolved to a Person with the Slack id and the email.

DESIGN (People): a person is one email across Jira and Slack; rosters name Slack ids or
emails. A click carries only the Slack id, so the receiver resolves it, in this order:
1. this process's memory (a click storm by one approver costs one lookup);
2. the ledger's `identities` table (shared by every receiver and runner);
3. Slack's `users.info` through the gateway, whose answer is written to the ledger.
A user without an email on their profile (a bot, a guest with it hidden) resolves to a
Person known by Slack id only: roster entries naming them by Slack id still match.

The Slack call happens outside any ledger transaction: on SQLite a transaction holds the
database's write lock, and no click should wait on another click's HTTP round trip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from domain.people import Person
from integrations.db.models import IdentityRow
from integrations.db.upsert import insert_ignore

Clock = Callable[[], datetime]


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
