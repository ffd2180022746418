"""Delegations from both places they are kept: config `out_of_office` and `/govflow ooo`."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from domain.entitlement import Delegation, as_delegations
from domain.people import person_from_entry
from domain.rules import Rules
from integrations.db.delegations import recent_delegations

# Events are applied shortly after the click, but a re-driven one may be days old; keep the
# window wide enough that a delegation valid at click time is still known.
LOOKBACK = timedelta(days=14)


def known_delegations(session: Session, rules: Rules, today: date) -> list[Delegation]:
    """Config and ledger delegations that may matter for events of the last two weeks."""
    since = today - LOOKBACK
    from_ledger = [
        Delegation(
            approver=person_from_entry(row.approver),
            delegate=person_from_entry(row.delegate),
            start=row.start,
            until=row.until,
        )
        for row in recent_delegations(session, since)
    ]
    return [*as_delegations(rules.out_of_office), *from_ledger]
