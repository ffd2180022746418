"""People: identity by Slack id, email or Jira account id, never by display name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.people import Person, person_from_entry, roster_member, same_person


class TestPerson:
    def test_email_is_casefolded_and_trimmed(self) -> None:
        """Emails are compared in one spelling, whatever Jira or Slack sent."""
        assert Person(email="  Priya.Raman@Example.COM ").email == "priya.raman@example.com"

    def test_blank_identifiers_are_unknown(self) -> None:
        """An empty id from a payload means "not known", not an identifier."""
        person = Person(slack_id=" ", email="", jira_account_id="acc-1")
        assert person.slack_id is None and person.email is None

    def test_needs_an_identifier(self) -> None:
        """A display name alone identifies nobody."""
        with pytest.raises(ValidationError, match="needs a Slack id"):
            Person(name="Priya Raman")

    def test_label_prefers_the_display_name(self) -> None:
        """Messages name people as they are shown, else by an identifier."""
        assert Person(slack_id="U0QA00001", name="Priya").label == "Priya"
        assert Person(slack_id="U0QA00001").label == "U0QA00001"
        assert Person(slack_id="U0QA00001", email="p@example.com").label == "p@example.com"

    def test_round_trips_through_json(self) -> None:
        """The ledger stores people as JSON and gets the same person back."""
        person = Person(slack_id="U0QA00001", email="p@example.com", jira_account_id="a", name="P")
        assert Person.model_validate_json(person.model_dump_json()) == person


class TestSamePerson:
    @pytest.mark.parametrize(
        ("a", "b"),
        [
            (Person(slack_id="U0QA00001"), Person(slack_id="U0QA00001", email="p@example.com")),
            (Person(email="P@Example.com"), Person(email="p@example.com", slack_id="U0X")),
            (Person(jira_account_id="acc-1"), Person(jira_account_id="acc-1", name="Other")),
        ],
    )
    def test_any_shared_identifier_matches(self, a: Person, b: Person) -> None:
        """One shared identifier is enough: a Slack click and a Jira comment meet by email."""
        assert same_person(a, b) and same_person(b, a)

    def test_display_names_never_match(self) -> None:
        """Two colleagues called Priya are two people."""
        assert not same_person(
            Person(slack_id="U0QA00001", name="Priya"), Person(slack_id="U0QA00009", name="Priya")
        )

    def test_unknown_identifiers_do_not_match_each_other(self) -> None:
        """Both lacking an email is not a shared email."""
        assert not same_person(Person(slack_id="U0QA00001"), Person(jira_account_id="acc-1"))


class TestRosterMember:
    ROSTER = ("U0QA00001", "Tomas.Herrera@example.com", "U0QA00003")

    def test_matches_by_slack_id(self) -> None:
        """A roster entry that is a Slack id matches the person with that id."""
        assert roster_member(Person(slack_id="U0QA00003"), self.ROSTER) == "U0QA00003"

    def test_matches_email_entries_without_regard_to_case(self) -> None:
        """Admins write emails as they like; the entry returned is the roster's spelling."""
        tomas = Person(email="tomas.herrera@EXAMPLE.com")
        assert roster_member(tomas, self.ROSTER) == "Tomas.Herrera@example.com"

    def test_slack_id_does_not_match_an_email_entry(self) -> None:
        """Without the email, govflow cannot tell the Slack user is the listed address."""
        assert roster_member(Person(slack_id="U0QA00002"), self.ROSTER) is None

    def test_first_matching_entry_wins(self) -> None:
        """A person listed twice (id and email) is one member: the first entry names them."""
        person = Person(slack_id="U0QA00003", email="tomas.herrera@example.com")
        assert roster_member(person, self.ROSTER) == "Tomas.Herrera@example.com"

    def test_outsider_is_no_member(self) -> None:
        """Someone not listed is not a member, whatever their name."""
        assert roster_member(Person(slack_id="U0ZZ00001", name="QA"), self.ROSTER) is None


class TestPersonFromEntry:
    def test_slack_id_entry(self) -> None:
        """A Slack id entry becomes a person known by that id."""
        assert person_from_entry("U0QA00001") == Person(slack_id="U0QA00001")

    def test_email_entry(self) -> None:
        """An email entry becomes a person known by that (casefolded) email."""
        assert person_from_entry("Aisha@Example.com", "Aisha") == Person(
            email="aisha@example.com", name="Aisha"
        )
