"""Triage: check a ticket against its request type's rules and pick its route."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import TicketInvalid, TicketProblem
from domain.routing import route_request
from domain.rules import FieldKind, Priority, Route, Rules, TicketField
from domain.ticket import FieldValue, Ticket

# Routing needs these whatever the request type lists as required; the request type is read
# from the field `jira.request_type_field` names.
ROUTING_FIELDS = ("domain", "market")
# How much of a wrong value a problem quotes back: enough to recognise it, and short enough
# that a pasted essay keeps the comment listing every problem inside Jira's 32,767 characters.
QUOTE_MAX = 60


@dataclass(frozen=True)
class Triaged:
    """A complete ticket: its request type, domain, market, priority and route."""

    request_type: str
    domain: str
    market: str
    priority: Priority
    route: Route


def triage(ticket: Ticket, rules: Rules) -> Triaged:
    """Validate `ticket` and route it; raise TicketInvalid listing every problem found."""
    problems: list[TicketProblem] = []
    request_type = _lookup_request_type(ticket, rules, problems)
    type_field = rules.jira.request_type_field
    required = [type_field, *ROUTING_FIELDS]
    if request_type is not None:
        required += [
            f for f in rules.request_types[request_type].required_fields if f not in required
        ]
    for name in required:
        if name == type_field:
            continue
        problem = _check_field(name, rules.fields.get(name), ticket, rules)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise TicketInvalid(problems)
    assert request_type is not None
    domain = _domain_key(rules, _text(ticket.values.get("domain")))
    market = _canonical(_text(ticket.values.get("market")), rules.markets)
    assert domain is not None and market is not None
    route = route_request(rules, request_type, domain, market)
    if route is None:
        raise TicketInvalid(
            [
                TicketProblem(
                    field="routing",
                    label="Routing",
                    message=f"no route is configured for {request_type} / {domain} / {market}",
                    fix="Nothing to change on the ticket: the moderation-strategy admins have been "
                    "told to add a route; govflow picks the ticket up again once they have.",
                )
            ]
        )
    return Triaged(
        request_type=request_type,
        domain=domain,
        market=market,
        priority=priority_of(ticket, rules),
        route=route,
    )


def priority_of(ticket: Ticket, rules: Rules) -> Priority:
    """The request's P1-P4 priority from the Jira priority name, else the default."""
    if ticket.priority_name is None:
        return rules.jira.default_priority
    return rules.jira.priority_mapping.get(ticket.priority_name, rules.jira.default_priority)


def _lookup_request_type(ticket: Ticket, rules: Rules, problems: list[TicketProblem]) -> str | None:
    name = rules.jira.request_type_field
    field = rules.fields.get(name)
    label = field.label if field else "Request type"
    if name in ticket.malformed:
        problems.append(_malformed(name, label, ticket.malformed[name]))
        return None
    value = _text(ticket.values.get(name))
    known = {rt.jira_value.casefold(): key for key, rt in rules.request_types.items()}
    choices = ", ".join(rt.jira_value for rt in rules.request_types.values())
    if not value:
        problems.append(
            TicketProblem(
                field=name,
                label=label,
                message="is empty",
                fix=f"Choose one of: {choices}.",
            )
        )
        return None
    if value.casefold() not in known:
        problems.append(
            TicketProblem(
                field=name,
                label=label,
                message=f"{quoted(value)} is not a request type we handle",
                fix=f"Choose one of: {choices}.",
            )
        )
        return None
    return known[value.casefold()]


def _check_field(
    name: str, field: TicketField | None, ticket: Ticket, rules: Rules
) -> TicketProblem | None:
    label = field.label if field else name.replace("_", " ").capitalize()
    if name in ticket.malformed:
        return _malformed(name, label, ticket.malformed[name])
    value = ticket.values.get(name)
    hint = f" {field.help}" if field and field.help else ""
    if value is None or value == "" or value == []:
        return TicketProblem(
            field=name, label=label, message="is missing", fix=f"Fill in {label}.{hint}"
        )
    allowed = _allowed_values(name, field, rules)
    values = value if isinstance(value, list) else [value]
    if allowed is not None:
        wrong = [v for v in values if v.casefold() not in {a.casefold() for a in allowed}]
        if wrong:
            return TicketProblem(
                field=name,
                label=label,
                message=f"{', '.join(map(quoted, wrong[:5]))} is not an accepted value",
                fix=f"Choose one of: {', '.join(allowed)}.",
            )
    if field is not None and field.kind is FieldKind.TEXT and isinstance(value, str):
        if len(value.strip()) < field.min_length:
            return TicketProblem(
                field=name,
                label=label,
                message=f"is too short ({len(value.strip())} characters)",
                fix=f"Write at least {field.min_length} characters.{hint}",
            )
        if len(value) > field.max_length:
            return TicketProblem(
                field=name,
                label=label,
                message=f"is too long ({len(value)} characters)",
                fix=f"Keep it under {field.max_length} characters; link a document for the rest.",
            )
    return None


def _allowed_values(name: str, field: TicketField | None, rules: Rules) -> list[str] | None:
    if name == "domain":
        return [d.jira_value for d in rules.domains.values()]
    if name == "market":
        return list(rules.markets)
    return field.allowed if field else None


def _domain_key(rules: Rules, value: str | None) -> str | None:
    if value is None:
        return None
    for key, domain in rules.domains.items():
        if domain.jira_value.casefold() == value.casefold():
            return key
    return None


def _canonical(value: str | None, allowed: list[str]) -> str | None:
    """The configured spelling of `value` (markets are matched without regard to case)."""
    if value is None:
        return None
    return next((a for a in allowed if a.casefold() == value.casefold()), None)


def quoted(value: str) -> str:
    """A requester's value as a problem quotes it: repr'd, cut to QUOTE_MAX characters."""
    return repr(value if len(value) <= QUOTE_MAX else value[: QUOTE_MAX - 1] + "…")


def _malformed(name: str, label: str, what: str) -> TicketProblem:
    return TicketProblem(
        field=name,
        label=label,
        message=f"could not be read ({what})",
        fix=f"Clear {label} and set it again using the field's own picker.",
    )


def _text(value: FieldValue) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value
