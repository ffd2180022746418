"""Read the rules YAML into `Rules`, reporting every problem with its file, line and place.

Three passes, each collecting every problem it finds before the next runs:

1. YAML (`config.rules_yaml`): syntax errors, duplicate keys (which YAML would silently
   resolve to the last one), and documents that expand beyond any sane size through aliases.
2. Schema: the pydantic models of `domain.rules`; each error's `loc` is walked down the
   composed YAML nodes to find its line (`config.problem_report`) and explained
   (`config.schema_errors`).
3. Cross-references the schema cannot see (`config.cross_checks`): routes and teams naming
   teams, calendars, SLA policies and fields that exist, quorums their rosters can meet,
   routing that covers every request type x domain x market, SLA targets for every working
   stage and priority.

Whatever the input, `load_rules` returns `Rules` or raises `ConfigError`: an admin's typo must
give a located message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from config.cross_checks import cross_check
from config.problem_report import ProblemReport
from config.rules_yaml import parse_rules_yaml, read_rules_text
from config.schema_errors import report_schema_error
from domain.errors import ConfigError, ConfigProblem
from domain.rules import QuorumKind, Rules
from domain.signoff import required_approvals


def load_rules(path: Path) -> Rules:
    """Load and check the rules at `path`; raise ConfigError listing every problem found."""
    source = str(path)
    text, problem = read_rules_text(path)
    if problem is not None:
        raise ConfigError([problem])
    report = ProblemReport(source)
    data = parse_rules_yaml(text, report)
    if report.problems:
        raise ConfigError(report.sorted())
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            report_schema_error(report, error, data)
        raise ConfigError(report.sorted()) from None
    cross_check(rules, report, base=path.parent)
    if report.problems:
        raise ConfigError(report.sorted())
    return rules


def rule_warnings(path: Path) -> list[ConfigProblem]:
    """What valid rules will get wrong at run time, located like problems; ConfigError if invalid.

    A sign-off whose quorum needs every member of its roster but one fewer cannot pass a
    request one of those members filed: the requester never decides, not even by delegate.
    """
    rules = load_rules(path)
    text, _ = read_rules_text(path)
    report = ProblemReport(str(path))
    parse_rules_yaml(text, report)
    for i, route in enumerate(rules.routing):
        for j, signoff in enumerate(route.signoff):
            team = rules.teams.get(signoff.team)
            # `any` and `all` only fail a team of one, a roster choice routing cannot change;
            # intake says so on each request it affects.
            if team is None or signoff.quorum.kind is not QuorumKind.N_OF:
                continue
            size = len(team.roster)
            needed = required_approvals(signoff.quorum, team.roster[1:])
            if size < 2 or needed <= size - 1:
                continue
            report.add(
                ("routing", i, "signoff", j, "quorum"),
                f"`n_of: {needed}` needs every one of {signoff.team}'s {size} approvers, so a "
                f"request one of them files can never pass {signoff.team} sign-off on route "
                f"{route.name}: the requester never decides on their own request",
                f"add an approver to teams.{signoff.team}.roster, or ask for n_of: {size - 1}",
            )
    return report.sorted()
