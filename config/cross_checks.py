"""Checks across the rules' sections that the schema alone cannot express: references to
teams, calendars, SLA policies and fields that exist; quorums their rosters can meet;
routing that covers every request type x domain x market and routes that can be reached;
SLA targets for every timed stage and priority; the SOP folder.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from config.problem_report import Loc, ProblemReport, names_text, report_unknown
from domain.routing import matches
from domain.rules import PRIORITIES, EscalationAction, EscalationStep, QuorumKind, Rules
from domain.stages import TERMINAL, TIMED_STAGES, Stage

Combo = tuple[str, str, str]  # request type, domain, market


def cross_check(rules: Rules, report: ProblemReport, *, base: Path) -> None:
    """Checks across sections that the schema alone cannot express."""
    _check_fields(rules, report)
    _check_request_types(rules, report)
    _check_markets(rules, report)
    _check_teams(rules, report)
    _check_routes(rules, report)
    _check_coverage(rules, report)
    _check_sla_policies(rules, report)
    _check_jira(rules, report)
    _check_out_of_office(rules, report)
    _check_sops(rules, report, base)


def _check_fields(rules: Rules, report: ProblemReport) -> None:
    """Triage reads the request type, domain and market from fields of these names."""
    if rules.jira.request_type_field not in rules.fields:
        report_unknown(
            report,
            ("jira", "request_type_field"),
            "field",
            rules.jira.request_type_field,
            rules.fields,
        )
    for name in ("domain", "market"):
        if name not in rules.fields:
            report.add(
                ("fields",),
                f"no `{name}` field: routing reads the request's {name} from it",
                f"add `{name}: {{jira: customfield_NNNNN, label: {name.title()}, kind: option}}`",
            )
    offered = {
        rules.jira.request_type_field: [rt.jira_value for rt in rules.request_types.values()],
        "domain": [d.jira_value for d in rules.domains.values()],
        "market": list(rules.markets),
    }
    for name, values in offered.items():
        field = rules.fields.get(name)
        if field is None or field.allowed is None:
            continue
        allowed = {a.casefold() for a in field.allowed}
        known = {v.casefold() for v in values}
        missing = [v for v in values if v.casefold() not in allowed]
        extra = [a for a in field.allowed if a.casefold() not in known]
        if missing or extra:
            parts = [f"lacks {', '.join(missing)}"] if missing else []
            parts += [f"offers {', '.join(extra)} which the rules do not know"] if extra else []
            report.add(
                ("fields", name, "allowed"),
                "; ".join(parts),
                "make `allowed` match the configured values, or remove `allowed`",
            )


def _check_request_types(rules: Rules, report: ProblemReport) -> None:
    """Required fields exist, and no two request types or domains share a Jira value."""
    for key, request_type in rules.request_types.items():
        for i, name in enumerate(request_type.required_fields):
            if name not in rules.fields:
                report_unknown(
                    report,
                    ("request_types", key, "required_fields", i),
                    "field",
                    name,
                    rules.fields,
                )
    for section, items in (("request_types", rules.request_types), ("domains", rules.domains)):
        first: dict[str, str] = {}
        for key, item in items.items():
            value = item.jira_value.casefold()
            if value in first:
                report.add(
                    (section, key, "jira_value"),
                    f"`{item.jira_value}` is also the jira_value of `{first[value]}`",
                    "give each its own Jira value: triage could not tell them apart",
                )
            first.setdefault(value, key)


def _check_markets(rules: Rules, report: ProblemReport) -> None:
    """At least one market, each listed once."""
    if not rules.markets:
        report.add(("markets",), "is empty", "list the markets served, e.g. [MY, SG]")
    seen: set[str] = set()
    for i, market in enumerate(rules.markets):
        if market.casefold() in seen:
            report.add(("markets", i), f"`{market}` is listed twice", "remove the repeat")
        seen.add(market.casefold())


def _check_teams(rules: Rules, report: ProblemReport) -> None:
    """Every team has a calendar, people to act, and an ordered escalation."""
    for key, team in rules.teams.items():
        if team.calendar not in rules.calendars:
            report_unknown(
                report, ("teams", key, "calendar"), "calendar", team.calendar, rules.calendars
            )
        if not team.roster:
            report.add(
                ("teams", key, "roster"),
                "is empty: nobody could act for this team",
                "list the Slack member ids (or emails) of the people who may act",
            )
        seen: set[str] = set()
        for i, person in enumerate(team.roster):
            if person in seen:
                report.add(
                    ("teams", key, "roster", i),
                    f"`{person}` is listed twice",
                    "remove the repeat: quorums `all` and `n_of` count people",
                )
            seen.add(person)
        if team.escalation is not None:
            _check_escalation(report, ("teams", key, "escalation"), team.escalation)


def _check_escalation(report: ProblemReport, loc: Loc, steps: list[EscalationStep]) -> None:
    """Steps must climb: each `at` later than the one before."""
    for i in range(1, len(steps)):
        if steps[i].at <= steps[i - 1].at:
            report.add(
                (*loc, i, "at"),
                f"{steps[i].at} is not after the previous step's {steps[i - 1].at}",
                "order the steps by increasing `at`, and merge steps with the same `at`",
            )


def _check_routes(rules: Rules, report: ProblemReport) -> None:
    """Each route names existing things, and each quorum can be met."""
    names: dict[str, int] = {}
    for i, route in enumerate(rules.routing):
        if route.name in names:
            report.add(
                ("routing", i, "name"),
                f"duplicate route name `{route.name}` (also routing[{names[route.name]}])",
                "give every route its own name: audit events and reports refer to it",
            )
        names.setdefault(route.name, i)
        for field in ("expert_team", "sop_owner_team"):
            team = getattr(route, field)
            if team is not None and team not in rules.teams:
                report_unknown(report, ("routing", i, field), "team", team, rules.teams)
        if route.sla_policy not in rules.sla_policies:
            report_unknown(
                report,
                ("routing", i, "sla_policy"),
                "SLA policy",
                route.sla_policy,
                rules.sla_policies,
            )
        _check_match(rules, report, i)
        _check_signoff(rules, report, i)
    _check_leads(rules, report)


def _check_match(rules: Rules, report: ProblemReport, i: int) -> None:
    """A route's match names known request types, domains and markets."""
    match = rules.routing[i].match
    known = {
        "request_type": (match.request_type, list(rules.request_types), "request type"),
        "domain": (match.domain, list(rules.domains), "domain"),
        "market": (match.market, list(rules.markets), "market"),
    }
    for key, (values, names, what) in known.items():
        for j, value in enumerate(values or []):
            if value not in names:
                report_unknown(report, ("routing", i, "match", key, j), what, value, names)


def _check_signoff(rules: Rules, report: ProblemReport, i: int) -> None:
    """Sign-off teams exist, appear once, and have enough people for their quorum."""
    seen: set[str] = set()
    for k, signoff in enumerate(rules.routing[i].signoff):
        loc = ("routing", i, "signoff", k)
        team = rules.teams.get(signoff.team)
        if team is None:
            report_unknown(report, (*loc, "team"), "team", signoff.team, rules.teams)
        if signoff.team in seen:
            report.add((*loc, "team"), f"team `{signoff.team}` signs off twice", "remove one")
        seen.add(signoff.team)
        quorum = signoff.quorum
        if (
            team is not None
            and quorum.kind is QuorumKind.N_OF
            and (quorum.n or 0) > len(team.roster)
        ):
            report.add(
                (*loc, "quorum"),
                f"n_of {quorum.n} but team `{signoff.team}` has {len(team.roster)} people",
                f"lower n, or add people to teams.{signoff.team}.roster",
            )


def _check_leads(rules: Rules, report: ProblemReport) -> None:
    """A team whose escalation messages its leads must have some."""
    needs: dict[str, list[str]] = {}
    for route in rules.routing:
        policy = rules.sla_policies.get(route.sla_policy)
        involved = [route.expert_team, *(s.team for s in route.signoff), route.sop_owner_team]
        for key in dict.fromkeys(t for t in involved if t is not None):
            team = rules.teams.get(key)
            if team is None or team.leads:
                continue
            steps = (
                team.escalation
                if team.escalation is not None
                else (policy.escalation if policy else [])
            )
            if any(EscalationAction.DM_LEAD in step.actions for step in steps):
                needs.setdefault(key, []).append(route.name)
    for key, routes in needs.items():
        report.add(
            ("teams", key, "leads"),
            f"escalation messages the leads (dm_lead) on routes {names_text(routes, 4)}, "
            "but the team has none",
            "add `leads: [U...]`, or give the team its own `escalation` without dm_lead",
        )


def _check_coverage(rules: Rules, report: ProblemReport) -> None:
    """Every request type x domain x market has a route, and every route can be reached."""
    if not rules.routing:
        report.add(("routing",), "has no routes", "add routes, ending with catch-alls")
        return
    first_of: dict[Combo, int] = {}
    uncovered: dict[str, dict[str, list[str]]] = {}
    for combo in itertools.product(rules.request_types, rules.domains, rules.markets):
        index = next((i for i, r in enumerate(rules.routing) if matches(r.match, *combo)), None)
        if index is None:
            request_type, domain, market = combo
            uncovered.setdefault(request_type, {}).setdefault(domain, []).append(market)
        else:
            first_of[combo] = index
    for request_type, by_domain in uncovered.items():
        report.add(
            ("routing",),
            f"no route for request type {request_type} in {_uncovered(rules, by_domain)}",
            "add a route for these (a route whose match names only a domain is that "
            "domain's catch-all; keep catch-alls last)",
        )
    _check_reachable(rules, report, first_of)


def _uncovered(rules: Rules, by_domain: dict[str, list[str]]) -> str:
    """`content (every market), product_listing (MY, SG)` or `every domain and market`."""
    every = len(rules.markets)
    if len(by_domain) == len(rules.domains) and all(len(m) == every for m in by_domain.values()):
        return "any domain or market"
    return ", ".join(
        f"{domain} ({'every market' if len(markets) == every else ', '.join(markets)})"
        for domain, markets in by_domain.items()
    )


def _check_reachable(rules: Rules, report: ProblemReport, first_of: dict[Combo, int]) -> None:
    """Routes apply first-match-wins: one whose every request an earlier route takes is dead."""
    for i, route in enumerate(rules.routing):
        # Combinations no route covers are reported already and cannot be matched by this one.
        mine = [combo for combo in first_of if matches(route.match, *combo)]
        if not mine:
            if _match_names_known(rules, i):
                report.add(("routing", i, "match"), "matches no request at all", "fix the match")
            continue
        if all(first_of[combo] != i for combo in mine):
            earlier = [rules.routing[j].name for j in sorted({first_of[c] for c in mine})]
            report.add(
                ("routing", i),
                f"never applies: earlier routes ({names_text(earlier, 4)}) take every request "
                "it matches",
                "move it above them, narrow their match, or remove it",
            )


def _match_names_known(rules: Rules, i: int) -> bool:
    """Whether a route's match names only defined values (else that is reported already)."""
    match = rules.routing[i].match
    return (
        set(match.request_type or []) <= set(rules.request_types)
        and set(match.domain or []) <= set(rules.domains)
        and set(match.market or []) <= set(rules.markets)
    )


def _check_sla_policies(rules: Rules, report: ProblemReport) -> None:
    """Targets for every timed stage and priority; warnings and escalations in order."""
    for key, policy in rules.sla_policies.items():
        loc = ("sla_policies", key)
        gaps = []
        for stage in TIMED_STAGES:
            given = policy.targets.get(stage)
            if not given:
                gaps.append(f"{stage} (every priority)")
            elif missing := [p for p in PRIORITIES if p not in given]:
                gaps.append(f"{stage} {', '.join(missing)}")
        if gaps:
            report.add(
                (*loc, "targets"),
                f"has no target for {'; '.join(gaps)}",
                "give every working stage a target per priority, e.g. "
                "`SOP_UPDATE: {P1: 1d, P2: 2d, P3: 5d, P4: 10d}`",
            )
        for stage in policy.targets:
            if stage in TERMINAL:
                report.add(
                    (*loc, "targets", stage),
                    f"{stage} is a final stage: no clock runs there",
                    "remove this target",
                )
        for i in range(1, len(policy.warn_at)):
            if policy.warn_at[i] <= policy.warn_at[i - 1]:
                report.add(
                    (*loc, "warn_at", i),
                    f"{policy.warn_at[i]} is not after {policy.warn_at[i - 1]}",
                    "list warnings in increasing order, each once",
                )
        _check_escalation(report, (*loc, "escalation"), policy.escalation)


def _check_jira(rules: Rules, report: ProblemReport) -> None:
    """Every stage has a Jira status to show."""
    missing = [stage for stage in Stage if stage not in rules.jira.status_mapping]
    if missing:
        report.add(
            ("jira", "status_mapping"),
            f"has no Jira status for {', '.join(missing)}",
            f"map every stage to a status of the {', '.join(rules.jira.projects)} workflow, "
            f"e.g. `{missing[0]}: <status name as Jira shows it>`",
        )


def _check_out_of_office(rules: Rules, report: ProblemReport) -> None:
    """Only someone who may approve can be away, and not in favour of themselves."""
    everyone = {person for team in rules.teams.values() for person in team.roster}
    for i, away in enumerate(rules.out_of_office):
        if away.approver not in everyone:
            report.add(
                ("out_of_office", i, "approver"),
                f"`{away.approver}` is in no team's roster",
                "name a roster member exactly as the roster lists them (id or email)",
            )
        if away.delegate == away.approver:
            report.add(
                ("out_of_office", i, "delegate"),
                "is the approver themselves",
                "name someone else who may act while they are away",
            )


def _check_sops(rules: Rules, report: ProblemReport, base: Path) -> None:
    """The SOP directory exists; a relative one starts at the rules file's folder."""
    directory = base / rules.sops.directory
    try:
        exists = directory.is_dir()
    except (OSError, ValueError):  # a NUL byte or an over-long name is simply not there
        exists = False
    if not exists:
        report.add(
            ("sops", "directory"),
            f"no directory {directory}",
            "create it, or point `sops.directory` at the SOP folder (relative to the rules file)",
        )
    training = rules.sops.training
    if training is None:
        return
    for i, team in enumerate(training.attest_teams):
        if team not in rules.teams:
            report_unknown(
                report, ("sops", "training", "attest_teams", i), "team", team, rules.teams
            )
    if not (training.channels or rules.sops.announce_channels):
        report.add(
            ("sops", "training", "channels"),
            "no channel to post the training case in",
            "name one under `sops.training.channels`, or set `sops.announce_channels`",
        )
