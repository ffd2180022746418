"""The Jira accounts an email holds, cached in `identities` (migration 0006), on both ledgers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, text

from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.migrate import upgrade
from integrations.db.models import IdentityRow
from integrations.slack.identity import JiraAccounts, remember

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
EMAIL = "hannah.schulz@example.com"


class Directory:
    """A hand-written account directory: fixed answers, and every email it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def account_ids(self, email: str) -> list[str]:
        """The configured accounts of `email`."""
        self.asked.append(email)
        return list(self.answers.get(email, []))


def accounts(ledger: Engine, directory: Directory) -> JiraAccounts:
    """A resolver over the test ledger whose clock stands at NOW."""
    return JiraAccounts(make_sessionmaker(ledger), directory, lambda: NOW)


class TestJiraAccounts:
    def test_found_accounts_are_asked_once(self, ledger: Engine) -> None:
        """A second look-up of the same email, whatever its case, reads the ledger."""
        directory = Directory({EMAIL: ["acc-hannah"]})
        resolver = accounts(ledger, directory)

        first = resolver.account_ids(EMAIL, since=NOW)
        second = resolver.account_ids(" Hannah.Schulz@Example.com", since=NOW + timedelta(days=9))

        assert first == second == ["acc-hannah"]
        assert directory.asked == [EMAIL]

    def test_the_slack_row_of_the_same_person_is_kept(self, ledger: Engine) -> None:
        """The accounts join the row users.info wrote; its Slack id stays."""
        with make_sessionmaker(ledger).begin() as session:
            remember(session, email=EMAIL, slack_id="U0PM00001", now=NOW)
        accounts(ledger, Directory({EMAIL: ["a1", "a2"]})).account_ids(EMAIL, since=NOW)

        with make_sessionmaker(ledger).begin() as session:
            row = session.get(IdentityRow, EMAIL)
            assert row is not None
            assert (row.slack_user_id, row.jira_account_ids, row.jira_account_id) == (
                "U0PM00001",
                ["a1", "a2"],
                "a1",
            )
            assert row.jira_looked_up_at == NOW

    def test_no_account_is_asked_again_for_a_later_request(self, ledger: Engine) -> None:
        """'None found' holds for requests filed before it was said, not for later ones."""
        directory = Directory({})
        resolver = accounts(ledger, directory)

        assert resolver.account_ids(EMAIL, since=NOW) == []
        assert resolver.account_ids(EMAIL, since=NOW - timedelta(hours=1)) == []
        assert directory.asked == [EMAIL]
        directory.answers[EMAIL] = ["acc-new"]
        assert resolver.account_ids(EMAIL, since=NOW + timedelta(hours=1)) == ["acc-new"]
        assert directory.asked == [EMAIL, EMAIL]


def test_migration_0006_leaves_known_people_unasked(database_url: str) -> None:
    """Identities from before 0006 keep their Slack id and get NULL (never asked) accounts."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0005")
        with make_sessionmaker(engine).begin() as session:
            session.execute(
                text(
                    "INSERT INTO identities (email, slack_user_id, looked_up_at) "
                    "VALUES (:e, 'U0PM00001', :now)"
                ),
                {"e": EMAIL, "now": NOW},
            )
        upgrade(engine)
        with make_sessionmaker(engine).begin() as session:
            [row] = session.scalars(select(IdentityRow)).all()
            assert (row.slack_user_id, row.jira_account_ids, row.jira_looked_up_at) == (
                "U0PM00001",
                None,
                None,
            )
    finally:
        engine.dispose()
