"""Triage reads the fields the rules name: a rules file may call its fields what it likes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.errors import TicketInvalid
from domain.rules import Rules
from domain.ticket import FieldValue, Ticket
from domain.triage import triage

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
COMPLETE: dict[str, FieldValue] = {
    "request_type": "Review standard change",
    "domain": "Product listing",
    "market": "SG",
    "summary": "Accept graded refurbished phones",
    "description": "Refurbished phones are rejected inconsistently across BPO sites.",
    "business_justification": "Appeals on refurbished phones doubled.",
    "affected_sop": "SOP-LST-014",
    "proposed_change": "Accept refurbished phones that carry a grading certificate.",
}


@pytest.fixture(scope="module")
def shipped() -> Rules:
    return load_rules(DEFAULT_RULES)


def ticket(values: dict[str, FieldValue]) -> Ticket:
    """A ticket of the MODREQ project with `values`."""
    return Ticket(key="MODREQ-7", id="7", project="MODREQ", summary="s", updated=NOW, values=values)


def renamed(rules: Rules, old: str, new: str) -> Rules:
    """`rules` with field `old` called `new` everywhere it is named."""
    fields = {new if key == old else key: field for key, field in rules.fields.items()}
    types = {
        key: rt.model_copy(
            update={"required_fields": [new if f == old else f for f in rt.required_fields]}
        )
        for key, rt in rules.request_types.items()
    }
    jira = rules.jira
    if jira.request_type_field == old:
        jira = jira.model_copy(update={"request_type_field": new})
    return rules.model_copy(update={"fields": fields, "request_types": types, "jira": jira})


class TestRequestTypeField:
    def test_shipped_rules_route_a_complete_ticket(self, shipped: Rules) -> None:
        """The baseline: the shipped names route it."""
        assert triage(ticket(COMPLETE), shipped).request_type == "review_standard_change"

    def test_the_request_type_is_read_from_the_field_the_rules_name(self, shipped: Rules) -> None:
        """`jira.request_type_field: category` reads the request type from `category`."""
        rules = renamed(shipped, "request_type", "category")
        values = {("category" if k == "request_type" else k): v for k, v in COMPLETE.items()}
        assert triage(ticket(values), rules).request_type == "review_standard_change"

    def test_an_empty_renamed_field_is_named_as_the_rules_call_it(self, shipped: Rules) -> None:
        """The problem names the configured field, so the comment points at the right one."""
        rules = renamed(shipped, "request_type", "category")
        values = {k: v for k, v in COMPLETE.items() if k != "request_type"}
        with pytest.raises(TicketInvalid) as raised:
            triage(ticket(values), rules)
        assert [p.field for p in raised.value.problems] == ["category"]


class TestPolicyException:
    """A request type added by rules alone (docs/architecture.md, "Add a request type")."""

    def test_a_complete_exception_takes_its_own_route(self, shipped: Rules) -> None:
        """Governance signs off every exception and owns the SOP clause."""
        values = {**COMPLETE, "request_type": "Policy exception", "evidence_links": "https://x.y/1"}
        triaged = triage(ticket(values), shipped)
        assert (triaged.request_type, triaged.route.name) == (
            "policy_exception",
            "policy-exception",
        )
        assert [s.team for s in triaged.route.signoff] == ["governance", "bpo_ops"]
        assert triaged.route.sop_owner_team == "governance"

    def test_an_exception_without_evidence_is_sent_back(self, shipped: Rules) -> None:
        """Its own required fields are asked for."""
        values = {**COMPLETE, "request_type": "Policy exception"}
        with pytest.raises(TicketInvalid) as raised:
            triage(ticket(values), shipped)
        assert [p.field for p in raised.value.problems] == ["evidence_links"]
