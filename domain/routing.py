"""Choosing a request's route from the rules: first matching route wins."""

from __future__ import annotations

from domain.rules import Match, Route, Rules


def matches(match: Match, request_type: str, domain: str, market: str) -> bool:
    """Whether a route's match applies; an omitted key matches anything."""
    return (
        (match.request_type is None or request_type in match.request_type)
        and (match.domain is None or domain in match.domain)
        and (match.market is None or market in match.market)
    )


def route_request(rules: Rules, request_type: str, domain: str, market: str) -> Route | None:
    """The first route in rule order matching the request, or None when none does."""
    for route in rules.routing:
        if matches(route.match, request_type, domain, market):
            return route
    return None
