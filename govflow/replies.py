"""Requester replies read by the intake poll: the safety net for missed `comment_created` hooks.

The dedupe key is the one the webhook receiver uses (`jira:comment:<id>`), so a reply seen by
both the poll and a webhook is recorded once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from domain.lifecycle import RequesterReplied, RequestState
from domain.people import Person
from domain.stages import Stage
from integrations.db.audit import record_audit
from integrations.db.events import record_event
from integrations.db.models import RequestRow
from integrations.jira.mapping import adf_text, parse_jira_time

MAX_BODY = 32_767


def awaiting_reply(row: RequestRow | None) -> bool:
    """Whether the request (past triage) waits in NEEDS_INFO for its requester."""
    return row is not None and row.state is not None and row.stage == Stage.NEEDS_INFO


def record_replies(
    session: Session,
    row: RequestRow,
    comments: Sequence[Mapping[str, Any]],
    *,
    api_user: str | None,
    now: datetime,
) -> int:
    """Record each comment written since the question as a reply event; how many were new."""
    state = RequestState.model_validate(row.state)
    asked_at = state.question.asked_at if state.question else None
    new = 0
    for comment in comments:
        author = comment.get("author")
        author = author if isinstance(author, Mapping) else {}
        email = author.get("emailAddress")
        if api_user and isinstance(email, str) and email.casefold() == api_user.casefold():
            continue
        if asked_at is not None and parse_jira_time(comment.get("created")) < asked_at:
            continue
        try:
            event = _reply(comment, author, now)
        except ValidationError:
            continue  # anonymous or empty: nothing a person could be waiting on
        if record_event(
            session,
            request_id=row.id,
            kind=event.kind,
            actor=event.actor.email or event.actor.jira_account_id,
            payload=event.model_dump(mode="json"),
            dedupe_key=event.event_id,
            now=now,
        ):
            new += 1
            record_audit(
                session,
                at=now,
                actor=event.actor.email or "jira",
                action="event_received",
                request_id=row.id,
                detail={"kind": event.kind, "dedupe_key": event.event_id, "via": "poll"},
            )
    return new


def _reply(
    comment: Mapping[str, Any], author: Mapping[str, Any], now: datetime
) -> RequesterReplied:
    body = comment.get("body")
    text = body if isinstance(body, str) else adf_text(body)
    account = author.get("accountId")
    email = author.get("emailAddress")
    return RequesterReplied(
        event_id=f"jira:comment:{comment.get('id')}",
        actor=Person(
            jira_account_id=account if isinstance(account, str) else None,
            email=email if isinstance(email, str) else None,
            name=str(author.get("displayName") or ""),
        ),
        at=now,
        body=text[:MAX_BODY],
        comment_id=str(comment.get("id")),
    )
