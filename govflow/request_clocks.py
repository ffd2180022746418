"""After a request's state changes: reconcile its SLA clocks and refresh its thread's root."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from domain.lifecycle import RequestState
from govflow.clock_sync import sync_clocks
from govflow.clock_text import clock_lines
from govflow.effects import EffectContext, EffectWriter
from integrations.db.requests import lock_request_by_id


def reconcile_request(
    session: Session, request_id: int, context: EffectContext, now: datetime
) -> list[str]:
    """Start, pause, resume or stop the request's clocks to match its state; show them.

    Runs in the transaction that changed the state (the row is locked again, a no-op there).
    The root card is refreshed only when a clock changed, since the card shows the clocks.
    """
    row = lock_request_by_id(session, request_id)
    if row.state is None:
        return []
    state = RequestState.model_validate(row.state)
    changes = sync_clocks(session, row, state, [], context.rules, now)
    if changes:
        EffectWriter(session, row, context, now).refresh_root(
            state, clocks=clock_lines(session, request_id, context.rules, now)
        )
    return changes


def refresh_roots(
    session: Session, request_ids: Sequence[int], context: EffectContext, now: datetime
) -> int:
    """Re-render the root card of each request, e.g. after the watchdog moved a clock's state."""
    refreshed = 0
    for request_id in request_ids:
        row = lock_request_by_id(session, request_id)
        if row.state is None:
            continue
        state = RequestState.model_validate(row.state)
        EffectWriter(session, row, context, now).refresh_root(
            state, clocks=clock_lines(session, request_id, context.rules, now)
        )
        refreshed += 1
    return refreshed
