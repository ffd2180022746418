"""The ledger's tables: requests, their inbound events, the audit trail, the outbox, SOPs.

The ledger is the source of truth (DESIGN decision 1). Prefect runs only observe it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from integrations.db.types import UtcDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for busy tables.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base carrying the ledger's metadata."""

    type_annotation_map = {dict[str, Any]: JSON, datetime: UtcDateTime}


class RequestRow(Base):
    """One business request, one per Jira issue."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    jira_key: Mapped[str] = mapped_column(String(64), unique=True)
    jira_id: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    request_type: Mapped[str | None] = mapped_column(String(64))
    domain: Mapped[str | None] = mapped_column(String(64))
    market: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(4), default="P3")
    requester_account_id: Mapped[str | None] = mapped_column(String(128))
    requester_email: Mapped[str | None] = mapped_column(String(320))
    stage: Mapped[str] = mapped_column(String(32), index=True)
    resume_stage: Mapped[str | None] = mapped_column(String(32))
    route_name: Mapped[str | None] = mapped_column(String(128))
    expert_team: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64))
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_thread_ts: Mapped[str | None] = mapped_column(String(32))
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The lifecycle state (domain.lifecycle.RequestState as JSON) once the request is routed.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    jira_updated: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Outbox delivery lease: one deliverer per request at a time keeps thread order.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class EventRow(Base):
    """An inbound fact about a request (click, comment, edit) waiting to be applied."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_unprocessed", "request_id", "processed_at"),
        # Only the few events not yet applied: the runners' queue query reads nothing else.
        Index(
            "ix_events_pending",
            "request_id",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class AuditRow(Base):
    """Who did what, when and why; rows are only ever appended."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxRow(Base):
    """An external effect (Jira comment, Slack message...) to deliver exactly once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class CursorRow(Base):
    """A named high-water mark, e.g. the intake poll's last seen `updated`."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[datetime]
    updated_at: Mapped[datetime]


class IdentityRow(Base):
    """A person known by email, with their Slack user id and Jira account id once looked up."""

    __tablename__ = "identities"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    jira_account_id: Mapped[str | None] = mapped_column(String(128), index=True)
    looked_up_at: Mapped[datetime]
    # Every active Jira account `user/search` finds for the email ([]: none; NULL: never
    # asked), and when: what tells a clicker from a requester whose email Jira hides.
    jira_account_ids: Mapped[list[str] | None] = mapped_column(JSON)
    jira_looked_up_at: Mapped[datetime | None]
    # When Slack's users.lookupByEmail last answered for the email (NULL: never asked); with
    # no slack_user_id it is a cached "Slack has no such user".
    slack_looked_up_at: Mapped[datetime | None]


class SopRow(Base):
    """An SOP document: what it covers and who owns it; its text lives in its versions."""

    __tablename__ = "sops"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    owner_team: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(64), index=True)
    markets: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where an imported SOP came from, and the sha256 of that file as imported: a later
    # difference on disk is reported, never applied (SOPs change only through requests).
    source_path: Mapped[str | None] = mapped_column(String(1024))
    source_hash: Mapped[str | None] = mapped_column(String(64))
    # The last on-disk hash already reported as ignored, so each disk edit is audited once.
    ignored_disk_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class SopVersionRow(Base):
    """One published version of an SOP's text; the database refuses UPDATE and DELETE."""

    __tablename__ = "sop_versions"
    __table_args__ = (
        UniqueConstraint("sop_id", "version", name="uq_sop_versions_sop_id_version"),
        CheckConstraint("version >= 1", name="ck_sop_versions_version_positive"),
        Index("ix_sop_versions_effective", "sop_id", "effective_date"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sop_id: Mapped[str] = mapped_column(ForeignKey("sops.id"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(320))
    effective_date: Mapped[date] = mapped_column(Date)
    changelog: Mapped[str] = mapped_column(Text, default="")
    # No foreign key to requests: SOP history may cite Jira issues from before govflow.
    jira_key: Mapped[str | None] = mapped_column(String(64), index=True)
    based_on_version: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime]


class DelegationRow(Base):
    """An approver away on given dates and who may act for them (`/govflow ooo`)."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    approver: Mapped[str] = mapped_column(String(320), index=True)
    delegate: Mapped[str] = mapped_column(String(320))
    start: Mapped[date] = mapped_column(Date)
    until: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]


class SlaClockRow(Base):
    """One SLA clock of one request: a stage (and team, and round) timed on a team calendar.

    `clock` is the domain's `SlaClock` as JSON and the truth; the other columns are copies
    kept for querying and display. `next_due_at` is when the watchdog must look at the clock
    next (NULL: nothing left to fire, or paused short of the next threshold); its index lets a
    sweep read only the clocks that are due, however many are open. `schedule` is every
    threshold's instant, worked out when the clock last changed (see
    `govflow.clock_schedules`), so a sweep needs no calendar arithmetic; NULL until then.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint(
            "request_id", "stage", "team", "round", name="uq_sla_clocks_request_stage_team_round"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer, default=0)
    calendar: Mapped[str] = mapped_column(String(64))
    sla_policy: Mapped[str] = mapped_column(String(64))
    clock: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    next_due_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# Partial: stopped and fully fired clocks (most of them, over time) stay out of the index.
Index(
    "ix_sla_clocks_next_due_at",
    SlaClockRow.next_due_at,
    postgresql_where=SlaClockRow.next_due_at.is_not(None),
    sqlite_where=SlaClockRow.next_due_at.is_not(None),
)
