"""The packaged config/rules.yaml: valid, complete, and in step with the Slack stand-in."""

from __future__ import annotations

import itertools

import pytest

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.routing import route_request
from domain.rules import Rules


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The shipped rules, loaded once."""
    return load_rules(DEFAULT_RULES)


class TestShippedRules:
    def test_shape(self, rules: Rules) -> None:
        """The demo's request types, domains, markets and teams are all there."""
        assert rules.jira.projects == ["MODREQ"]
        assert set(rules.request_types) == {
            "review_standard_change",
            "onboarding_rule_exception",
            "listing_policy_change",
            "new_category_sop",
            "qa_dispute",
            "policy_exception",
        }
        assert set(rules.domains) == {"merchant_onboarding", "product_listing", "content"}
        assert rules.markets == ["MY", "SG", "ID", "TH", "PH", "VN"]
        assert len(rules.teams) == 9

    def test_every_request_is_routed(self, rules: Rules) -> None:
        """Every request type x domain x market finds a route."""
        for combo in itertools.product(rules.request_types, rules.domains, rules.markets):
            assert route_request(rules, *combo) is not None, combo

    def test_market_specific_route_wins(self, rules: Rules) -> None:
        """Indonesian listing policy changes need governance; Malaysian ones do not."""
        route = route_request(rules, "listing_policy_change", "product_listing", "ID")
        assert route is not None and "governance" in {s.team for s in route.signoff}
        route = route_request(rules, "listing_policy_change", "product_listing", "MY")
        assert route is not None and "governance" not in {s.team for s in route.signoff}

    def test_uses_every_quorum_kind(self, rules: Rules) -> None:
        """The demo exercises any, all and n_of."""
        kinds = {s.quorum.kind for route in rules.routing for s in route.signoff}
        assert kinds == {"any", "all", "n_of"}

    def test_ids_exist_in_the_slack_stand_in(self, rules: Rules) -> None:
        """Every channel and person in the rules is in the stand-in's seeded workspace."""
        seed = pytest.importorskip("sandbox.slack.seed")
        channels = {c.id for c in seed.EXAMPLE_WORKSPACE.channels}
        people = {u.id for u in seed.EXAMPLE_WORKSPACE.users}
        named_channels = {t.slack_channel for t in rules.teams.values()}
        named_channels |= set(rules.sops.announce_channels)
        named_channels |= {r.slack_channel for r in rules.routing if r.slack_channel}
        named_people = {p for t in rules.teams.values() for p in (*t.roster, *t.leads)}
        named_people |= {p for o in rules.out_of_office for p in (o.approver, o.delegate)}
        assert named_channels <= channels
        assert named_people <= people

    def test_fields_and_values_exist_in_the_jira_stand_in(self, rules: Rules) -> None:
        """Every field the rules read, and every value they route on, exists in the Jira seed."""
        seed = pytest.importorskip("sandbox.jira.seed")
        system = {"summary", "description"}
        names = {f.name for f in seed.CUSTOM_FIELDS} | set(seed.FIELD_IDS.values())
        assert {f.jira for f in rules.fields.values()} - system <= names
        assert {rt.jira_value for rt in rules.request_types.values()} <= set(seed.REQUEST_TYPES)
        assert {d.jira_value for d in rules.domains.values()} <= set(seed.DOMAINS)
        assert set(rules.markets) <= set(seed.MARKETS)
