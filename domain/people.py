"""People as govflow knows them: whichever of Slack id, email and Jira account id we have.

DESIGN: a person is one email address across Jira and Slack, but a click from Slack carries a
Slack user id and a Jira comment an account id; the integration layer fills in what it can
resolve (`users.lookupByEmail`, cached in the ledger). Two `Person` values denote the same
human when any identifier both know is equal. Display names are for reading only and never
identify anyone: two colleagues can share one, and anyone can change theirs.

Roster entries in the rules are Slack user ids or emails; an entry with an `@` is an email.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, field_validator, model_validator


class Person(BaseModel):
    """Someone who acts on a request, known by at least one identifier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slack_id: str | None = None
    email: str | None = None
    jira_account_id: str | None = None
    name: str = ""

    @field_validator("slack_id", "jira_account_id", mode="before")
    @classmethod
    def _blank_is_unknown(cls, value: object) -> object:
        # Slack and Jira payloads send "" for "not known"; "" must never match "".
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("email", mode="before")
    @classmethod
    def _fold_email(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().casefold() or None
        return value

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _identified(self) -> Person:
        if self.slack_id is None and self.email is None and self.jira_account_id is None:
            raise ValueError("a person needs a Slack id, an email or a Jira account id")
        return self

    @property
    def label(self) -> str:
        """How to call this person in a message: display name, else an identifier."""
        return self.name or self.email or self.slack_id or self.jira_account_id or "someone"


def same_person(a: Person, b: Person) -> bool:
    """Whether `a` and `b` share any known identifier (display names never count)."""
    return any(
        x is not None and x == y
        for x, y in (
            (a.slack_id, b.slack_id),
            (a.email, b.email),
            (a.jira_account_id, b.jira_account_id),
        )
    )


def is_email(entry: str) -> bool:
    """Whether a roster entry names an email address rather than a Slack user id."""
    return "@" in entry


def matches_entry(person: Person, entry: str) -> bool:
    """Whether a roster entry (Slack id or email) names `person`."""
    if is_email(entry):
        return person.email is not None and person.email == entry.strip().casefold()
    return person.slack_id is not None and person.slack_id == entry.strip()


def roster_member(person: Person, roster: Iterable[str]) -> str | None:
    """The first roster entry naming `person`, or None when they are not on the roster.

    The entry, not the person, is what quorums count: it is the one stable name config
    gives a member, whichever identifiers a click happens to carry.
    """
    return next((entry for entry in roster if matches_entry(person, entry)), None)


def person_from_entry(entry: str, name: str = "") -> Person:
    """The person a roster or out-of-office entry (Slack id or email) names."""
    if is_email(entry):
        return Person(email=entry, name=name)
    return Person(slack_id=entry, name=name)
