"""Hostile Jira issues through the pure mapping and triage (issue #6, item 3: the issue mapping).

Whatever an issue's JSON holds (huge descriptions, wiki markup, ADF bodies nested deep,
mentions, emoji, right-to-left text, NUL characters, lone surrogates, nulls and wrong types
in fields), `ticket_from_issue` answers with a Ticket, `triage` with a route or
`TicketInvalid`, and the comment govflow would post is one Jira accepts and that quotes the
requester's text without letting it format, link or mention anyone.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.errors import TicketInvalid
from domain.rules import FieldKind, Rules
from domain.ticket import Ticket
from domain.triage import triage
from integrations.jira.comments import render_acknowledged, render_incomplete
from integrations.jira.mapping import adf_text, read_value, ticket_from_issue
from integrations.jira.webhooks import MAX_BODY as JIRA_COMMENT_MAX
from tests.support.hostile import adf_docs, deep_adf, hostile_text, json_junk

RULES: Rules = load_rules(DEFAULT_RULES)
FIELD_IDS = {logical: field.jira for logical, field in RULES.fields.items()}
PROPERTIES = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

field_values = st.one_of(
    hostile_text,
    adf_docs,
    st.integers(0, 900).map(deep_adf),
    json_junk,
    st.builds(lambda t: {"value": t}, hostile_text),
    st.lists(st.builds(lambda t: {"value": t}, hostile_text) | json_junk, max_size=4),
    st.sampled_from(["Listing policy change", "Product listing", "SG", "Medium"]),
)
issues = st.builds(
    lambda key, fields, extra: {"id": "10001", "key": key, "fields": {**extra, **fields}},
    st.sampled_from(["MODREQ-1", "MODREQ-999999"]) | st.text(max_size=20),
    st.dictionaries(st.sampled_from(sorted(FIELD_IDS.values())), field_values, max_size=10),
    st.fixed_dictionaries(
        {},
        optional={
            "reporter": json_junk
            | st.fixed_dictionaries(
                {"accountId": hostile_text | json_junk, "emailAddress": hostile_text | json_junk}
            ),
            "priority": json_junk | st.builds(lambda n: {"name": n}, hostile_text),
            "status": json_junk,
            "updated": json_junk | st.sampled_from(["2026-11-27T10:00:00.000+0000", "9999-99-99"]),
            "summary": field_values,
        },
    ),
)

# A requester's text may only reach the comment with wiki formatting characters escaped.
_UNESCAPED_MENTION = re.compile(r"(?<!\\)\[~")


def utf8_safe(text: str) -> bool:
    """Whether Jira and Slack can be sent this text (HTTP bodies are UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TestTicketFromIssue:
    """The mapping reads anything into a Ticket whose strings are bounded and sendable."""

    @PROPERTIES
    @given(issue=issues)
    def test_any_issue_maps_to_a_ticket(self, issue: dict[str, Any]) -> None:
        """No issue JSON makes the mapping raise; every kept string is sendable UTF-8."""
        ticket = ticket_from_issue(issue, RULES, FIELD_IDS)

        assert isinstance(ticket, Ticket)
        assert len(ticket.summary) <= 1000
        for value in [ticket.summary, ticket.reporter_name, *_strings(ticket.values)]:
            assert utf8_safe(value) and "\x00" not in value
        for text in ticket.malformed.values():
            assert utf8_safe(text) and len(text) < 200
        assert ticket.reporter_account_id is None or len(ticket.reporter_account_id) <= 128
        assert ticket.reporter_email is None or len(ticket.reporter_email) <= 320
        ticket.fingerprint()

    @PROPERTIES
    @given(value=field_values, kind=st.sampled_from(list(FieldKind)))
    def test_read_value_raises_only_value_error(self, value: Any, kind: FieldKind) -> None:
        """A field value of any shape is read or named malformed with a short reason."""
        try:
            read_value(value, kind)
        except ValueError as exc:
            assert 0 < len(str(exc)) < 200

    def test_adf_nested_far_deeper_than_the_recursion_limit(self) -> None:
        """An ADF body 100,000 levels deep is read to a bounded depth, not a RecursionError."""
        assert adf_text(deep_adf(100_000)) == ""
        assert adf_text(deep_adf(10)) == "bottom"

    @pytest.mark.parametrize(
        "node",
        [
            {"type": "mention", "attrs": {"id": "557058:abc", "text": "@Hannah Schulz"}},
            {"type": "emoji", "attrs": {"shortName": ":tada:", "text": "🎉"}},
        ],
    )
    def test_adf_mentions_and_emoji_keep_their_text(self, node: dict[str, Any]) -> None:
        """A mention or emoji in an ADF description reads as what the requester saw."""
        doc = {"type": "doc", "content": [{"type": "paragraph", "content": [node]}]}

        assert adf_text(doc) == node["attrs"]["text"]


class TestTriageAndComment:
    """Triage routes or lists problems, and the comment quoting them is safe to post."""

    @PROPERTIES
    @given(issue=issues)
    def test_triage_answers_with_a_route_or_problems(self, issue: dict[str, Any]) -> None:
        """Routed, or TicketInvalid with a comment Jira accepts that mentions only the requester."""
        ticket = ticket_from_issue(issue, RULES, FIELD_IDS)
        try:
            triaged = triage(ticket, RULES)
        except TicketInvalid as invalid:
            assert invalid.problems
            body = render_incomplete(
                invalid.problems, requester_account_id=ticket.reporter_account_id
            )
        else:
            body = render_acknowledged(
                triaged, RULES, requester_account_id=ticket.reporter_account_id, expert_due=None
            )
        assert len(body) <= JIRA_COMMENT_MAX
        assert utf8_safe(body) and "\x00" not in body
        # Only the greeting may mention anyone: the requester's text cannot ping people.
        assert len(_UNESCAPED_MENTION.findall(body)) <= 1
        if ticket.reporter_account_id is not None:
            assert body.startswith(f"[~accountid:{ticket.reporter_account_id}]")
            assert re.fullmatch(r"[A-Za-z0-9:_-]{1,128}", ticket.reporter_account_id)


def _strings(values: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for value in values.values():
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    return found


class TestFoundByFuzzing:
    """Regressions for what the properties above found (each failed before its fix)."""

    def test_reporter_account_id_that_is_not_one_is_dropped(self) -> None:
        """An accountId carrying wiki markup would have mentioned someone else in the greeting."""
        issue = {"key": "MODREQ-1", "fields": {"reporter": {"accountId": "x] [~accountid:ceo"}}}

        assert ticket_from_issue(issue, RULES, FIELD_IDS).reporter_account_id is None

    def test_overlong_reporter_identifiers_are_dropped(self) -> None:
        """Identifiers longer than the ledger's columns are not kept (PostgreSQL refused them)."""
        reporter = {"accountId": "a" * 129, "emailAddress": "b" * 300 + "@example.com"}
        ticket = ticket_from_issue({"key": "MODREQ-1", "fields": {"reporter": reporter}}, RULES, {})

        assert (ticket.reporter_account_id, ticket.reporter_email) == (None, None)

    def test_nul_and_lone_surrogates_do_not_survive_the_mapping(self) -> None:
        """PostgreSQL refuses NUL in text; a lone surrogate cannot be encoded for any wire."""
        fields = {"summary": "Refurbished\x00 phones \ud800", "priority": {"name": "Hi\ud83dgh"}}
        ticket = ticket_from_issue({"key": "MODREQ-1", "fields": fields}, RULES, FIELD_IDS)

        assert ticket.summary == "Refurbished phones \ufffd"
        assert ticket.priority_name == "Hi\ufffdgh"
        ticket.fingerprint()  # encoded the priority as UTF-8, which raised before

    def test_a_wrong_value_is_quoted_short(self) -> None:
        """A 30,000-character market is quoted in 60 characters, so the comment fits Jira."""
        fields = {"Market": "x" * 30_000, "Request type": "Listing policy change"}
        ticket = ticket_from_issue({"key": "MODREQ-1", "fields": fields}, RULES, FIELD_IDS)

        with pytest.raises(TicketInvalid) as invalid:
            triage(ticket, RULES)
        [market] = [p for p in invalid.value.problems if p.field == "market"]
        assert market.message == f"'{'x' * 59}…' is not an accepted value"
