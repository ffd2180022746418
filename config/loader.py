"""Read the rules YAML into `Rules`, reporting every problem with its file, line and place.

Three passes, each collecting every problem it finds before the next runs:

1. YAML: syntax errors, duplicate keys (which YAML would silently resolve to the last one),
   and documents that expand beyond any sane size through aliases.
2. Schema: the pydantic models of `config.rules`; each error's `loc` is walked down the
   composed YAML nodes to find its line.
3. Cross-references the schema cannot see: routes and teams naming teams, calendars, SLA
   policies and fields that exist, quorums their rosters can meet, routing that covers every
   request type x domain x market, SLA targets for every working stage and priority.

Whatever the input, `load_rules` returns `Rules` or raises `ConfigError`: an admin's typo must
give a located message, never a traceback.
"""

from __future__ import annotations

import difflib
import itertools
import re
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from config.rules import PRIORITIES, EscalationAction, EscalationStep, QuorumKind, Rules
from domain.errors import ConfigError, ConfigProblem
from domain.routing import matches
from domain.signoff import required_approvals
from domain.stages import TERMINAL, TIMED_STAGES, Stage

# A rules file has a few thousand values; more means aliases multiplying or referring to
# themselves, which would make validation take forever.
MAX_VALUES = 100_000
Loc = Sequence[str | int]
Combo = tuple[str, str, str]  # request type, domain, market

# Which top-level section a reference field names.
REFERENCES = {
    "team": "teams",
    "expert_team": "teams",
    "sop_owner_team": "teams",
    "calendar": "calendars",
    "sla_policy": "sla_policies",
    "request_type_field": "fields",
    "required_fields": "fields",
    "attest_teams": "teams",
}

FIELD_HINTS = {
    "timezone": "use an IANA zone name such as Asia/Kuala_Lumpur or Europe/Dublin",
    "country": "use a two-letter country code the holidays package knows, e.g. MY, SG, ID, TH, "
    "PH, VN or IE",
    "subdivision": "use a subdivision code of that country from the holidays package "
    "(MY 14 is Kuala Lumpur), or remove the key",
    "slack_channel": "use the channel id (channel details > About > Channel ID, like "
    "C0QA00001), not the #name",
    "announce_channels": "list channel ids (channel details > About > Channel ID, like "
    "C0QA00001), not #names",
    "roster": "list Slack member ids (profile > More > Copy member ID, like U0QA00001) or emails",
    "leads": "list Slack member ids (like U0QA00001) or emails",
    "approver": "use a Slack member id (like U0QA00001) or an email",
    "delegate": "use a Slack member id (like U0QA00001) or an email",
    "targets": "write working-time durations like 30m, 4h or 5d per priority P1..P4",
    "sla": "write a working-time duration like 30m, 4h or 5d",
    "quorum": "write `any`, `all` or `{n_of: 2}`",
    "Quorum.kind": "write `any`, `all` or `{n_of: 2}`",
    "n": "write `{n_of: 2}`: a whole number of approvers, at least 1",
    "at": "a fraction of the SLA elapsed: 0.5 is halfway, 1.0 is the breach, at most 2",
    "warn_at": "list fractions between 0 and 1, e.g. [0.5, 0.75]",
    "actions": "use remind_assignee, dm_lead, channel_post or jira_breach",
    "hours": 'write 24-hour local times like {start: "09:00", end: "18:00"}, end after start',
    "start": 'write a 24-hour local time like "09:00" (or a date YYYY-MM-DD out of office)',
    "end": 'write a 24-hour local time like "18:00", after start',
    "half_days": 'map dates to hours, e.g. 2026-12-24: {start: "09:00", end: "13:00"}',
    "closed_dates": "list dates as YYYY-MM-DD",
    "until": "write a date as YYYY-MM-DD, not before start",
    "workdays": "list mon, tue, wed, thu, fri, sat, sun",
    "version": "write `version: 1`",
    "projects": "list Jira project keys, e.g. [MODREQ]",
    "on_reject": "write end or return_to_expert",
    "TicketField.kind": "write text, option, options, number, date or user",
    "min_length": "whole numbers with 0 <= min_length <= max_length",
    "max_length": "whole numbers with 0 <= min_length <= max_length",
    "status_mapping": "map each stage (RECEIVED, NEEDS_INFO, EXPERT_REVIEW, SIGN_OFF, "
    "SOP_UPDATE, DONE, REJECTED, CANCELLED) to a Jira status name",
    "priority_mapping": "map Jira priority names to P1, P2, P3 or P4",
    "default_priority": "write P1, P2, P3 or P4",
    "[key]": "rename the key in lower_snake_case (e.g. bpo_ops) and update what refers to it",
}
TYPE_HINTS = {
    "list_type": "write a YAML list: `- item` lines or [a, b]",
    "dict_type": "write a mapping: `key: value` lines",
    "model_type": "write a mapping: `key: value` lines",
    "model_attributes_type": "write a mapping: `key: value` lines",
    "string_type": "write text; quote it if YAML reads it as a number, date or true/false",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "float_type": "write a number",
    "float_parsing": "write a number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "date_type": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_from_datetime_inexact": "write a date as YYYY-MM-DD, without a time",
    "time_type": 'write a time as "HH:MM"',
    "time_parsing": 'write a time as "HH:MM"',
    "literal_error": "use one of the values listed",
    "enum": "use one of the values listed",
}


class RulesYamlLoader(yaml.SafeLoader):
    """A SafeLoader that reads plain scalars the YAML 1.2 way.

    YAML 1.1 turns `18:00` into the number 1080 and `NO` (Norway) into false; here both stay
    text, and only true/false, decimal numbers and YYYY-MM-DD dates are read as such.
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":int", ":float"))]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node: Node) -> int:
        """A decimal integer (YAML 1.1 would read `010` as octal 8)."""
        return int(str(self.construct_scalar(node)))  # type: ignore[arg-type]

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Construct as SafeLoader does, but give a bad scalar (`2026-13-45`) its YAML mark."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            what = _short(node.value) if isinstance(node, ScalarNode) else node.tag
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {what}: {exc}", node.start_mark
            ) from exc


RulesYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
RulesYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
RulesYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
RulesYamlLoader.add_constructor("tag:yaml.org,2002:int", RulesYamlLoader.construct_yaml_int)


def load_rules(path: Path) -> Rules:
    """Load and check the rules at `path`; raise ConfigError listing every problem found."""
    source = str(path)
    text, problem = _read(path)
    if problem is not None:
        raise ConfigError([problem])
    report = _Report(source)
    data = _parse(text, report)
    if report.problems:
        raise ConfigError(report.sorted())
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            report.schema_error(error, data)
        raise ConfigError(report.sorted()) from None
    _cross_check(rules, report, base=path.parent)
    if report.problems:
        raise ConfigError(report.sorted())
    return rules


def rule_warnings(path: Path) -> list[ConfigProblem]:
    """What valid rules will get wrong at run time, located like problems; ConfigError if invalid.

    A sign-off whose quorum needs every member of its roster but one fewer cannot pass a
    request one of those members filed: the requester never decides, not even by delegate.
    """
    rules = load_rules(path)
    text, _ = _read(path)
    report = _Report(str(path))
    _parse(text, report)
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


def _read(path: Path) -> tuple[str, ConfigProblem | None]:
    """The file's text, or the one problem that stops us reading it."""
    source = str(path)
    hint = "set GOVFLOW_RULES to the rules YAML, or unset it to use the packaged config/rules.yaml"
    try:
        raw = path.read_bytes()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return "", ConfigProblem(source, None, "", f"cannot read the rules file: {reason}", hint)
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return "", ConfigProblem(
            source, line, "", "is not UTF-8 text", "save the file as UTF-8 (it must be YAML)"
        )


def _parse(text: str, report: _Report) -> Any:
    """The document's data, with its node tree kept in `report` to locate later problems."""
    try:
        loader = RulesYamlLoader(text)  # checks for unprintable characters up front
    except yaml.YAMLError as exc:
        report.add_at(*_yaml_problem(exc, text))
        return None
    try:
        root = loader.get_single_node()
        if root is None:
            report.add_at(1, "", "the rules file is empty", "start from the packaged rules.yaml")
            return None
        report.root = root
        _scan(root, report)
        return None if report.problems else loader.construct_document(root)
    except yaml.YAMLError as exc:
        report.add_at(*_yaml_problem(exc, text))
    except RecursionError:
        report.add_at(None, "", "values are nested too deeply", "a rules file nests a few levels")
    finally:
        loader.dispose()
    return None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[int | None, str, str, str]:
    """Line, where, message and hint for a YAML syntax or construction error."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return line, "", f"character {char} is not allowed in YAML", "remove it"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return None, "", f"cannot parse YAML: {exc}", "check the file is YAML"
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or "cannot parse YAML"
    if exc.context:
        at = exc.context_mark
        elsewhere = at is not None and mark is not None and at.line != mark.line
        message += f" ({exc.context}" + (f" on line {at.line + 1})" if at and elsewhere else ")")
    hint = (
        "check indentation (spaces, not tabs), and quote values that contain ': ' or ' #' "
        "or start with * & ! % @ `"
    )
    if "\\t" in message:  # PyYAML shows a tab as '\t'
        hint = "YAML does not allow tabs for indentation: use spaces"
    elif "mapping values are not allowed" in message:
        hint = "quote the value: it contains ': ' (or fix the indentation of this line)"
    elif "could not determine a constructor" in message:
        hint = "remove the tag (!something): rules take plain YAML values"
    return (mark.line + 1 if mark else None), "", message, hint


def _scan(root: Node, report: _Report) -> None:
    """Report duplicate keys, and documents that aliases make enormous or self-referring."""
    seen: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    values = 0
    while stack:
        node, where = stack.pop()
        values += 1
        if values > MAX_VALUES:
            report.add_at(
                None,
                "",
                f"the document expands to more than {MAX_VALUES} values",
                "look for aliases (*name) that refer to themselves or multiply each other",
            )
            return
        first_visit = id(node) not in seen
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: dict[str, Node] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "?"
                if first_visit and isinstance(key, ScalarNode) and name in keys and name != "<<":
                    earlier = keys[name].start_mark.line + 1
                    report.add_at(
                        key.start_mark.line + 1,
                        _join(where, name),
                        f"duplicate key (also on line {earlier}); YAML would keep only this one",
                        "merge the two entries, or rename one of them",
                    )
                if isinstance(key, ScalarNode):
                    keys[name] = key
                stack.append((value, _join(where, name)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node.value))


class _Report:
    """Collects problems for one rules file, locating each in the composed YAML."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.root: Node | None = None
        self.problems: list[ConfigProblem] = []

    def add_at(self, line: int | None, where: str, message: str, hint: str) -> None:
        """Record a problem at a known line."""
        self.problems.append(ConfigProblem(self.source, line, where, message, hint))

    def add(self, loc: Loc, message: str, hint: str = "") -> None:
        """Record a problem at a place in the rules, e.g. ("routing", 3, "signoff", 1, "team")."""
        where, line = _locate(self.root, loc)
        self.add_at(line, where, message, hint)

    def schema_error(self, error: ErrorDetails, data: Any) -> None:
        """Record one pydantic error with a message and hint an admin can act on."""
        loc = tuple(error["loc"])
        model, field = _schema_at(loc)
        message, hint = _explain(error, model, field, data)
        self.add(loc, message, hint)

    def sorted(self) -> list[ConfigProblem]:
        """The problems in file order; problems without a line come last."""
        return sorted(self.problems, key=lambda p: (p.line is None, p.line or 0))


def _locate(root: Node | None, loc: Loc) -> tuple[str, int | None]:
    """The dotted place of `loc` and the line of the deepest YAML node it reaches.

    A key missing from the YAML takes the line of the mapping that lacks it.
    """
    node = root
    line = root.start_mark.line + 1 if root is not None else None
    where = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for an error in a dict key, not a place
            continue
        if isinstance(node, SequenceNode) and isinstance(part, int):
            where += f"[{part}]"
            node = node.value[part] if 0 <= part < len(node.value) else None
            if node is not None:
                line = node.start_mark.line + 1
        elif isinstance(node, MappingNode):
            where = _join(where, part)
            entry = _entry(node, str(part))
            node = entry[1] if entry is not None else None
            if entry is not None:
                line = entry[0].start_mark.line + 1
        else:
            # Past what the YAML holds: a missing key, or a value of another shape.
            where = f"{where}[{part}]" if isinstance(part, int) else _join(where, part)
            node = None
    return where, line


def _entry(node: MappingNode, key: str) -> tuple[Node, Node] | None:
    """The last `key: value` pair of a mapping with this key, as YAML itself resolves it."""
    found = None
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found = (key_node, value)
    return found


def _join(where: str, key: str | int) -> str:
    return f"{where}.{key}" if where else str(key)


def _schema_at(loc: Loc) -> tuple[type[BaseModel] | None, str | None]:
    """The model whose field `loc` ends in, and that field (or the unknown key) name."""
    annotation: Any = Rules
    model: type[BaseModel] | None = None
    field: str | None = None
    for part in loc:
        annotation = _unwrap(annotation)
        if part == "[key]":
            return model, "[key]"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model, field = annotation, str(part)
            if field not in annotation.model_fields:
                return model, field
            annotation = annotation.model_fields[field].annotation
        elif get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            break
    return model, field


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` as plain X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _explain(
    error: ErrorDetails, model: type[BaseModel] | None, field: str | None, data: Any
) -> tuple[str, str]:
    """A message and hint for one pydantic error."""
    kind = str(error["type"])
    name = model.__name__ if model else "Rules"
    hint = (
        FIELD_HINTS.get(f"{name}.{field}")
        or FIELD_HINTS.get(field or "")
        or TYPE_HINTS.get(kind, "")
    )
    if field == "[key]" and kind != "value_error":  # a stage or priority key, not a name
        hint = TYPE_HINTS.get(kind, "")
    if kind == "missing":
        about = model.model_fields[field].description if model and field else None
        hint = f"add `{field}:`" + (f" ({about})" if about else "")
        known = _known(data, REFERENCES.get(field or ""))
        return "is required", hint + (f"; one of: {_names(known)}" if known else "")
    if kind == "extra_forbidden":
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(field or "", allowed, n=1)
        guess = f"did you mean `{close[0]}`? " if close else ""
        return f"unknown key in {name}", f"{guess}{name} takes: {', '.join(allowed)}"
    if not error["loc"]:
        sections = ", ".join(Rules.model_fields)
        return "the rules file must be a mapping of sections", f"sections: {sections}"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = error.get("input")
    if kind not in ("value_error", "assertion_error") and isinstance(value, str | int | float):
        message += f" (got {_short(value)})"
    return message, hint


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known(data: Any, section: str | None) -> list[str]:
    """The keys of a top-level section of the raw data, for "one of: ..." hints."""
    if section is None or not isinstance(data, dict):
        return []
    found = data.get(section)
    return [str(k) for k in found] if isinstance(found, dict) else []


def _names(names: Iterable[str], limit: int = 12) -> str:
    listed = list(names)
    more = f" and {len(listed) - limit} more" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def _unknown(report: _Report, loc: Loc, what: str, value: str, known: Iterable[str]) -> None:
    """Report a reference to something that is not defined, suggesting the closest name."""
    names = list(known)
    close = difflib.get_close_matches(value, names, n=1)
    guess = f"did you mean `{close[0]}`? " if close else ""
    report.add(loc, f"no {what} `{value}` is defined", f"{guess}known: {_names(names) or 'none'}")


def _cross_check(rules: Rules, report: _Report, *, base: Path) -> None:
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


def _check_fields(rules: Rules, report: _Report) -> None:
    """Triage reads the request type, domain and market from fields of these names."""
    if rules.jira.request_type_field not in rules.fields:
        _unknown(
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


def _check_request_types(rules: Rules, report: _Report) -> None:
    """Required fields exist, and no two request types or domains share a Jira value."""
    for key, request_type in rules.request_types.items():
        for i, name in enumerate(request_type.required_fields):
            if name not in rules.fields:
                _unknown(
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


def _check_markets(rules: Rules, report: _Report) -> None:
    """At least one market, each listed once."""
    if not rules.markets:
        report.add(("markets",), "is empty", "list the markets served, e.g. [MY, SG]")
    seen: set[str] = set()
    for i, market in enumerate(rules.markets):
        if market.casefold() in seen:
            report.add(("markets", i), f"`{market}` is listed twice", "remove the repeat")
        seen.add(market.casefold())


def _check_teams(rules: Rules, report: _Report) -> None:
    """Every team has a calendar, people to act, and an ordered escalation."""
    for key, team in rules.teams.items():
        if team.calendar not in rules.calendars:
            _unknown(report, ("teams", key, "calendar"), "calendar", team.calendar, rules.calendars)
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


def _check_escalation(report: _Report, loc: Loc, steps: list[EscalationStep]) -> None:
    """Steps must climb: each `at` later than the one before."""
    for i in range(1, len(steps)):
        if steps[i].at <= steps[i - 1].at:
            report.add(
                (*loc, i, "at"),
                f"{steps[i].at} is not after the previous step's {steps[i - 1].at}",
                "order the steps by increasing `at`, and merge steps with the same `at`",
            )


def _check_routes(rules: Rules, report: _Report) -> None:
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
                _unknown(report, ("routing", i, field), "team", team, rules.teams)
        if route.sla_policy not in rules.sla_policies:
            _unknown(
                report,
                ("routing", i, "sla_policy"),
                "SLA policy",
                route.sla_policy,
                rules.sla_policies,
            )
        _check_match(rules, report, i)
        _check_signoff(rules, report, i)
    _check_leads(rules, report)


def _check_match(rules: Rules, report: _Report, i: int) -> None:
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
                _unknown(report, ("routing", i, "match", key, j), what, value, names)


def _check_signoff(rules: Rules, report: _Report, i: int) -> None:
    """Sign-off teams exist, appear once, and have enough people for their quorum."""
    seen: set[str] = set()
    for k, signoff in enumerate(rules.routing[i].signoff):
        loc = ("routing", i, "signoff", k)
        team = rules.teams.get(signoff.team)
        if team is None:
            _unknown(report, (*loc, "team"), "team", signoff.team, rules.teams)
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


def _check_leads(rules: Rules, report: _Report) -> None:
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
            f"escalation messages the leads (dm_lead) on routes {_names(routes, 4)}, "
            "but the team has none",
            "add `leads: [U...]`, or give the team its own `escalation` without dm_lead",
        )


def _check_coverage(rules: Rules, report: _Report) -> None:
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


def _check_reachable(rules: Rules, report: _Report, first_of: dict[Combo, int]) -> None:
    """Routes apply first-match-wins: one whose every request an earlier route takes is dead."""
    for i, route in enumerate(rules.routing):
        # Combinations no route covers are reported already and cannot be matched by this one.
        mine = [combo for combo in first_of if matches(route.match, *combo)]
        if not mine:
            if _match_names_known(rules, i):
                report.add(("routing", i, "match"), "matches no request at all", "fix the match")
            continue
        if all(first_of[combo] != i for combo in mine):
            names = [rules.routing[j].name for j in sorted({first_of[c] for c in mine})]
            report.add(
                ("routing", i),
                f"never applies: earlier routes ({_names(names, 4)}) take every request it matches",
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


def _check_sla_policies(rules: Rules, report: _Report) -> None:
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


def _check_jira(rules: Rules, report: _Report) -> None:
    """Every stage has a Jira status to show."""
    missing = [stage for stage in Stage if stage not in rules.jira.status_mapping]
    if missing:
        report.add(
            ("jira", "status_mapping"),
            f"has no Jira status for {', '.join(missing)}",
            f"map every stage to a status of the {', '.join(rules.jira.projects)} workflow, "
            f"e.g. `{missing[0]}: <status name as Jira shows it>`",
        )


def _check_out_of_office(rules: Rules, report: _Report) -> None:
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


def _check_sops(rules: Rules, report: _Report, base: Path) -> None:
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
            _unknown(report, ("sops", "training", "attest_teams", i), "team", team, rules.teams)
    if not (training.channels or rules.sops.announce_channels):
        report.add(
            ("sops", "training", "channels"),
            "no channel to post the training case in",
            "name one under `sops.training.channels`, or set `sops.announce_channels`",
        )
