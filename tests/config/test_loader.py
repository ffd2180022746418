"""load_rules: every problem, each with its file, line, dotted place and a hint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path

import pytest

from config.loader import load_rules
from domain.errors import ConfigError, ConfigProblem
from domain.rules import Rules
from tests.config.conftest import MINIMAL, edit, line_of

Problems = Callable[[str], list[ConfigProblem]]


def only(problems: list[ConfigProblem]) -> ConfigProblem:
    """The single problem of a list."""
    assert len(problems) == 1, [p.render() for p in problems]
    return problems[0]


class TestValidRules:
    def test_minimal_rules_load(self, write_rules: Callable[[str], Path]) -> None:
        """The test fixture is itself a valid rule set."""
        rules = load_rules(write_rules(MINIMAL))
        assert isinstance(rules, Rules)
        assert list(rules.teams) == ["qa", "listing_experts"]

    def test_times_and_country_codes_stay_text(self, write_rules: Callable[[str], Path]) -> None:
        """Unquoted 18:00 is a time (not YAML 1.1's 1080) and NO is Norway (not false)."""
        text = edit(
            MINIMAL,
            "kuala_lumpur: {timezone: Asia/Kuala_Lumpur, country: MY}",
            "kuala_lumpur: {timezone: Europe/Oslo, country: NO, hours: {start: 08:00, end: 18:00}}",
        )
        calendar = load_rules(write_rules(text)).calendars["kuala_lumpur"]
        assert calendar.country == "NO"
        assert (calendar.hours.start, calendar.hours.end) == (time(8), time(18))

    def test_problem_renders_file_line_where_and_hint(self, problems_in: Problems) -> None:
        """A problem renders as `file:line: where: message` with the hint below."""
        problem = only(
            problems_in(
                edit(MINIMAL, "calendar: kuala_lumpur\n  listing", "calendar: kl\n  listing")
            )
        )
        text = problem.render()
        assert text.startswith(f"{problem.source}:{problem.line}: teams.qa.calendar: ")
        assert "\n    hint: " in text


class TestYamlProblems:
    def test_syntax_error_gives_its_line(self, problems_in: Problems) -> None:
        """An unclosed flow sequence is one problem at the line YAML stopped on."""
        text = edit(MINIMAL, "markets: [MY, SG]", "markets: [MY, SG")
        problem = only(problems_in(text))
        assert problem.line == line_of(text, "markets: [MY, SG") + 1
        assert "flow sequence" in problem.message

    def test_tab_indentation_hint(self, problems_in: Problems) -> None:
        """A tab used for indentation gets a hint naming tabs."""
        text = edit(MINIMAL, "  projects: [MODREQ]", "\tprojects: [MODREQ]")
        problem = only(problems_in(text))
        assert problem.line == line_of(text, "\tprojects")
        assert "tabs" in problem.hint

    def test_value_with_colon_hint(self, problems_in: Problems) -> None:
        """`key: a: b` points at quoting."""
        text = edit(MINIMAL, "name: QA\n", "name: QA: the team\n")
        problem = only(problems_in(text))
        assert problem.line == line_of(text, "name: QA: the team")
        assert "quote" in problem.hint

    def test_duplicate_key_is_reported_at_the_second(self, problems_in: Problems) -> None:
        """YAML would silently keep the later `qa`; we say both lines."""
        text = edit(MINIMAL, "  listing_experts:\n    name", "  qa:\n    name")
        problem = only(problems_in(text))
        assert problem.where == "teams.qa"
        assert problem.line == line_of(text, "name: Listing experts") - 1
        assert f"also on line {line_of(text, 'name: QA') - 1}" in problem.message

    def test_impossible_date_is_located(self, problems_in: Problems) -> None:
        """A date YAML recognises but the calendar cannot hold is a located problem."""
        text = edit(MINIMAL, "start: 2026-12-21", "start: 2026-13-45")
        problem = only(problems_in(text))
        assert problem.line == line_of(text, "2026-13-45")
        assert "2026-13-45" in problem.message

    def test_unknown_tag(self, problems_in: Problems) -> None:
        """Python object tags are refused, not constructed."""
        problem = only(
            problems_in(edit(MINIMAL, "version: 1", "version: !!python/object:os.system 1"))
        )
        assert problem.line == 1
        assert "tag" in problem.hint

    def test_empty_file(self, problems_in: Problems) -> None:
        """An empty file says so."""
        assert "empty" in only(problems_in("")).message

    def test_not_a_mapping(self, problems_in: Problems) -> None:
        """A list at the top names the sections a rules file has."""
        problem = only(problems_in("- a\n- b\n"))
        assert problem.where == ""
        assert "routing" in problem.hint

    def test_not_utf8(self, write_rules: Callable[[str], Path]) -> None:
        """Bytes that are not UTF-8 give the line they are on."""
        path = write_rules("")
        path.write_bytes(b"version: 1\njira: \xff\xfe\n")
        with pytest.raises(ConfigError) as caught:
            load_rules(path)
        assert only(caught.value.problems).line == 2

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file names itself and says how to point at another."""
        path = tmp_path / "nowhere.yaml"
        with pytest.raises(ConfigError) as caught:
            load_rules(path)
        problem = only(caught.value.problems)
        assert (problem.source, problem.line) == (str(path), None)
        assert "GOVFLOW_RULES" in problem.hint

    def test_alias_bomb_is_refused_quickly(self, problems_in: Problems) -> None:
        """Aliases multiplying each other are refused instead of expanded."""
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
        problem = only(problems_in("\n".join(lines) + "\n"))
        assert "aliases" in problem.hint

    def test_self_referring_alias_is_refused(self, problems_in: Problems) -> None:
        """An alias inside its own anchor does not loop forever."""
        assert "aliases" in only(problems_in("routing: &r [*r]\n")).hint


class TestSchemaProblems:
    def test_missing_key_uses_the_parent_line(self, problems_in: Problems) -> None:
        """A missing `team` points at its sign-off entry and lists the teams."""
        text = edit(MINIMAL, "- {team: qa, quorum: any}", "- {quorum: any}")
        problem = only(problems_in(text))
        assert problem.where == "routing[1].signoff[0].team"
        assert problem.line == line_of(text, "- {quorum: any}")
        assert problem.message == "is required"
        assert "add `team:`" in problem.hint and "qa, listing_experts" in problem.hint

    def test_unknown_key_suggests_the_right_one(self, problems_in: Problems) -> None:
        """A misspelt key is located and corrected."""
        text = edit(MINIMAL, "    leads: [U0EX00001]", "    lead: [U0EX00001]")
        problem = only(problems_in(text))
        assert problem.where == "teams.listing_experts.lead"
        assert problem.line == line_of(text, "lead: [U0EX00001]")
        assert "did you mean `leads`?" in problem.hint

    def test_bad_roster_entry_is_pinpointed(self, problems_in: Problems) -> None:
        """The one bad person in a roster is named by index."""
        text = edit(MINIMAL, "roster: [U0QA00001, U0QA00002]", "roster: [U0QA00001, priya]")
        problem = only(problems_in(text))
        assert problem.where == "teams.qa.roster[1]"
        assert problem.line == line_of(text, "priya")
        assert "member id" in problem.hint

    def test_channel_name_instead_of_id(self, problems_in: Problems) -> None:
        """A #name where a channel id belongs gets told where to find the id."""
        text = edit(MINIMAL, "slack_channel: C0QA00001", "slack_channel: '#qa'")
        problem = only(problems_in(text))
        assert problem.where == "teams.qa.slack_channel"
        assert "Channel ID" in problem.hint

    def test_bad_duration_names_stage_and_priority(self, problems_in: Problems) -> None:
        """A bad SLA target points at its stage and priority."""
        text = edit(MINIMAL, "SIGN_OFF: {P1: 8h, P2: 2d", "SIGN_OFF: {P1: 8h, P2: 2 days")
        problem = only(problems_in(text))
        assert problem.where == "sla_policies.standard.targets.SIGN_OFF.P2"
        assert problem.line == line_of(text, "2 days")
        assert "4h" in problem.hint

    def test_unknown_quorum_kind(self, problems_in: Problems) -> None:
        """A quorum that is not any/all/n_of shows what it got and the choices."""
        problem = only(problems_in(edit(MINIMAL, "quorum: any}", "quorum: most}")))
        assert problem.where == "routing[1].signoff[0].quorum.kind"
        assert "'most'" in problem.message
        assert "{n_of: 2}" in problem.hint

    def test_unknown_time_zone_directory(self, problems_in: Problems) -> None:
        """A zone *directory* is refused like any unknown zone, not with an OSError."""
        problem = only(problems_in(edit(MINIMAL, "timezone: Asia/Kuala_Lumpur", "timezone: Asia")))
        assert problem.where == "calendars.kuala_lumpur.timezone"
        assert "IANA" in problem.hint

    def test_time_with_offset(self, problems_in: Problems) -> None:
        """Hours carry no UTC offset: the calendar's zone decides."""
        text = edit(
            MINIMAL, "country: MY}", "country: MY, hours: {start: '09:00+08:00', end: '18:00'}}"
        )
        problem = only(problems_in(text))
        assert problem.where == "calendars.kuala_lumpur.hours"
        assert "offset" in problem.message

    def test_key_not_snake_case(self, problems_in: Problems) -> None:
        """Section keys are lower_snake_case."""
        text = edit(MINIMAL, "  content: {label", "  Content Team: {label")
        problem = only(problems_in(text))
        assert problem.where == "domains.Content Team"
        assert problem.line == line_of(text, "Content Team")

    def test_wrong_type_shows_the_value(self, problems_in: Problems) -> None:
        """A scalar where a list belongs is shown with what was found."""
        problem = only(problems_in(edit(MINIMAL, "projects: [MODREQ]", "projects: 7")))
        assert problem.where == "jira.projects"
        assert "(got 7)" in problem.message
        assert "list" in problem.hint

    def test_every_schema_problem_at_once(self, problems_in: Problems) -> None:
        """Several schema problems are all reported, in file order."""
        text = edit(MINIMAL, "projects: [MODREQ]", "projects: [modreq]")
        text = edit(text, "timezone: Asia/Kuala_Lumpur", "timezone: Mars/Olympus")
        text = edit(text, "- {at: 0.5,", "- {at: 5,")
        problems = problems_in(text)
        assert [p.where for p in problems] == [
            "jira.projects[0]",
            "calendars.kuala_lumpur.timezone",
            "sla_policies.standard.escalation[0].at",
        ]
        assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


class TestCrossReferences:
    def test_unknown_signoff_team(self, problems_in: Problems) -> None:
        """A sign-off naming no team suggests the closest one."""
        text = edit(MINIMAL, "- {team: qa, quorum: any}", "- {team: qaa, quorum: any}")
        problem = only(problems_in(text))
        assert problem.where == "routing[1].signoff[0].team"
        assert problem.line == line_of(text, "team: qaa")
        assert problem.message == "no team `qaa` is defined"
        assert "did you mean `qa`?" in problem.hint

    def test_unknown_calendar_and_sla_policy(self, problems_in: Problems) -> None:
        """Teams need a defined calendar, routes a defined SLA policy."""
        text = edit(
            MINIMAL,
            "leads: [U0QA00001]\n    calendar: kuala_lumpur",
            "leads: [U0QA00001]\n    calendar: kl",
        )
        text = edit(
            text, "quorum: any}\n    sla_policy: standard", "quorum: any}\n    sla_policy: fast"
        )
        wheres = {p.where: p for p in problems_in(text)}
        assert set(wheres) == {"teams.qa.calendar", "routing[1].sla_policy"}
        assert wheres["routing[1].sla_policy"].line == line_of(text, "sla_policy: fast")

    def test_required_field_not_defined(self, problems_in: Problems) -> None:
        """A request type cannot require a field that `fields` lacks."""
        text = edit(
            MINIMAL,
            "required_fields: [request_type, domain, market]",
            "required_fields: [request_type, domain, market, evidence]",
        )
        problem = only(problems_in(text))
        assert problem.where == "request_types.qa_dispute.required_fields[3]"
        assert "summary" in problem.hint

    def test_match_names_unknown_domain(self, problems_in: Problems) -> None:
        """A route matching an undefined domain is located at the value."""
        text = edit(
            MINIMAL,
            "match: {request_type: listing_policy_change}",
            "match: {request_type: listing_policy_change, domain: listings}",
        )
        problem = only(problems_in(text))
        assert problem.where == "routing[0].match.domain[0]"
        assert problem.line == line_of(text, "domain: listings")

    def test_n_of_larger_than_roster(self, problems_in: Problems) -> None:
        """A quorum of 3 from a roster of 2 can never be met."""
        text = edit(MINIMAL, "quorum: {n_of: 2}", "quorum: {n_of: 3}")
        problem = only(problems_in(text))
        assert problem.where == "routing[0].signoff[0].quorum"
        assert problem.line == line_of(text, "n_of: 3")
        assert "has 2 people" in problem.message
        assert "teams.qa.roster" in problem.hint

    def test_empty_roster(self, problems_in: Problems) -> None:
        """A team nobody can act for is reported."""
        problem = only(problems_in(edit(MINIMAL, "roster: [U0EX00001]", "roster: []")))
        assert problem.where == "teams.listing_experts.roster"
        assert "nobody" in problem.message

    def test_duplicate_route_names(self, problems_in: Problems) -> None:
        """Two routes with one name are told apart by index."""
        text = edit(MINIMAL, "- name: catch-all", "- name: listing-policy")
        problem = only(problems_in(text))
        assert problem.where == "routing[1].name"
        assert "routing[0]" in problem.message

    def test_uncovered_combinations_are_grouped(self, problems_in: Problems) -> None:
        """Without the catch-all, each request type's gaps come as one readable line."""
        text = (
            MINIMAL.split("  - name: catch-all")[0]
            + MINIMAL.split("    sla_policy: standard\n")[-1]
        )
        text = edit(
            text,
            "match: {request_type: listing_policy_change}",
            "match: {request_type: listing_policy_change, market: MY}",
        )
        problems = problems_in(text)
        assert [p.message for p in problems] == [
            "no route for request type listing_policy_change in product_listing (SG), content (SG)",
            "no route for request type qa_dispute in any domain or market",
        ]
        assert all(p.where == "routing" and p.line == line_of(text, "routing:") for p in problems)
        assert "catch-all" in problems[0].hint

    def test_route_after_catch_all_is_unreachable(self, problems_in: Problems) -> None:
        """A route every request of which an earlier route takes never applies."""
        first, second = MINIMAL.split("  - name: catch-all")
        routes_start = first.index("  - name: listing-policy")
        catch_all, rest = second.split("out_of_office:")
        text = (
            first[:routes_start]
            + "  - name: catch-all"
            + catch_all
            + first[routes_start:]
            + "out_of_office:"
            + rest
        )
        problem = only(problems_in(text))
        assert problem.where == "routing[1]"
        assert problem.line == line_of(text, "- name: listing-policy")
        assert "(catch-all)" in problem.message

    def test_out_of_office_approver_outside_rosters(self, problems_in: Problems) -> None:
        """Only someone who can approve can be away."""
        problem = only(problems_in(edit(MINIMAL, "approver: U0QA00002", "approver: U0ZZ00009")))
        assert problem.where == "out_of_office[0].approver"
        assert problem.line == line_of(MINIMAL, "approver: U0QA00002")

    def test_missing_sla_targets_are_listed(self, problems_in: Problems) -> None:
        """Missing stages and priorities are spelled out."""
        text = edit(MINIMAL, "      SOP_UPDATE: {P1: 1d, P2: 2d, P3: 5d, P4: 10d}\n", "")
        text = edit(
            text, "SIGN_OFF: {P1: 8h, P2: 2d, P3: 5d, P4: 10d}", "SIGN_OFF: {P1: 8h, P2: 2d}"
        )
        problem = only(problems_in(text))
        assert problem.where == "sla_policies.standard.targets"
        assert problem.line == line_of(text, "targets:")
        assert problem.message == "has no target for SIGN_OFF P3, P4; SOP_UPDATE (every priority)"

    def test_status_mapping_must_cover_every_stage(self, problems_in: Problems) -> None:
        """Each stage needs a Jira status."""
        problem = only(problems_in(edit(MINIMAL, "    NEEDS_INFO: Waiting for requester\n", "")))
        assert problem.where == "jira.status_mapping"
        assert problem.message == "has no Jira status for NEEDS_INFO"

    def test_escalation_out_of_order(self, problems_in: Problems) -> None:
        """Escalation steps climb by `at`."""
        text = edit(MINIMAL, "- {at: 0.75, actions: [dm_lead]}", "- {at: 0.4, actions: [dm_lead]}")
        problem = only(problems_in(text))
        assert problem.where == "sla_policies.standard.escalation[1].at"
        assert problem.line == line_of(text, "at: 0.4")

    def test_dm_lead_needs_leads(self, problems_in: Problems) -> None:
        """A team whose escalation messages its leads must name some."""
        problem = only(problems_in(edit(MINIMAL, "    leads: [U0EX00001]\n", "")))
        assert problem.where == "teams.listing_experts.leads"
        assert problem.line == line_of(MINIMAL, "  listing_experts:")

    def test_routing_fields_must_exist(self, problems_in: Problems) -> None:
        """Triage reads the market from the `market` field, whatever the request types say."""
        text = edit(MINIMAL, "  market: {jira: Market, label: Market, kind: option}\n", "")
        problem = problems_in(text)[0]
        assert (problem.where, problem.line) == ("fields", text.splitlines().index("fields:") + 1)
        assert "routing reads the request's market" in problem.message

    def test_sop_directory_is_relative_to_the_rules(self, problems_in: Problems) -> None:
        """A missing SOP folder is reported with where it was looked for."""
        problem = only(problems_in(MINIMAL + "sops: {directory: documents}\n"))
        assert problem.where == "sops.directory"
        assert problem.message.endswith("/documents")

    def test_every_cross_reference_problem_at_once(self, problems_in: Problems) -> None:
        """Unrelated cross-reference problems all come in one error, in file order."""
        text = edit(MINIMAL, "quorum: {n_of: 2}", "quorum: {n_of: 5}")
        text = edit(text, "- {team: qa, quorum: any}", "- {team: gov, quorum: any}")
        text = edit(text, "approver: U0QA00002", "approver: U0ZZ00009")
        problems = problems_in(text)
        assert [p.where for p in problems] == [
            "routing[0].signoff[0].quorum",
            "routing[1].signoff[0].team",
            "out_of_office[0].approver",
        ]
