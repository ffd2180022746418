"""The SOP registry: SOP documents and their published, immutable versions.

Versions are only ever added: there is no function here that updates or deletes one, and
the database refuses UPDATE and DELETE on `sop_versions` by trigger (migration 0002).
"Latest" is the highest version number, the one a new draft must be based on; "current on
a date" is the latest version whose effective date has come, the one reviewers apply.
Effective dates never decrease from one version to the next
(`domain.sop_publication.plan_publication`), so the two orders agree. Nothing here
commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from domain.errors import UnknownSop
from domain.sop import SopMeta, SopVersion, content_hash, normalize_text
from domain.sop_publication import plan_publication
from integrations.db.models import SopRow, SopVersionRow
from integrations.db.upsert import insert_ignore


@dataclass(frozen=True)
class SopRecord:
    """An SOP as the registry holds it: its metadata and, if imported, where from."""

    meta: SopMeta
    source_path: str | None
    source_hash: str | None
    ignored_disk_hash: str | None
    created_at: datetime


def register_sop(
    session: Session,
    meta: SopMeta,
    text: str,
    *,
    author: str,
    effective_date: date,
    changelog: str,
    now: datetime,
    jira_key: str | None = None,
    source_path: str | None = None,
    source_hash: str | None = None,
) -> bool:
    """Add an SOP with `text` as version 1 unless the id exists; True when this call added it."""
    values: dict[str, Any] = {
        "id": meta.id,
        "title": meta.title,
        "owner_team": meta.owner_team,
        "domain": meta.domain,
        "markets": list(meta.markets),
        "source_path": source_path,
        "source_hash": source_hash,
        "ignored_disk_hash": None,
        "created_at": now,
    }
    # Two importers starting together: one inserts, the other sees the row and adds nothing.
    if not insert_ignore(session, SopRow.__table__, values, ["id"]):  # type: ignore[arg-type]
        return False
    _add_version(
        session,
        meta.id,
        1,
        text,
        author=author,
        effective_date=effective_date,
        changelog=changelog,
        jira_key=jira_key,
        based_on_version=None,
        now=now,
    )
    return True


def publish_version(
    session: Session,
    sop_id: str,
    text: str,
    *,
    based_on_version: int,
    author: str,
    effective_date: date,
    changelog: str,
    jira_key: str | None,
    now: datetime,
) -> int:
    """Publish `text` as the SOP's next version; StaleBase unless `based_on_version` is latest.

    Retrying a publication that already went through (same Jira key, base and text) returns
    the version it made instead of refusing, so a re-run task or a double click is harmless.
    """
    # The row lock serialises publishers of one SOP on PostgreSQL; SQLite's write lock
    # (BEGIN IMMEDIATE) already does. Without it two could both compute version N+1.
    locked = session.scalar(select(SopRow).where(SopRow.id == sop_id).with_for_update())
    if locked is None:
        raise UnknownSop(f"no SOP {sop_id} in the registry")
    normal = normalize_text(text)
    plan = plan_publication(
        latest_version(session, sop_id),
        text_hash=content_hash(normal),
        based_on_version=based_on_version,
        effective_date=effective_date,
        jira_key=jira_key,
        today=now.astimezone(UTC).date(),
    )
    if plan.new:
        _add_version(
            session,
            sop_id,
            plan.version,
            normal,
            author=author,
            effective_date=effective_date,
            changelog=changelog,
            jira_key=jira_key,
            based_on_version=based_on_version,
            now=now,
        )
    return plan.version


def _add_version(
    session: Session,
    sop_id: str,
    version: int,
    text: str,
    *,
    author: str,
    effective_date: date,
    changelog: str,
    jira_key: str | None,
    based_on_version: int | None,
    now: datetime,
) -> None:
    normal = normalize_text(text)
    session.add(
        SopVersionRow(
            sop_id=sop_id,
            version=version,
            text=normal,
            content_hash=content_hash(normal),
            author=author,
            effective_date=effective_date,
            changelog=changelog,
            jira_key=jira_key,
            based_on_version=based_on_version,
            published_at=now,
        )
    )
    session.flush()


def lock_sops(session: Session, sop_ids: Iterable[str]) -> list[str]:
    """Lock the SOPs' rows for this transaction, in id order; the ids the registry holds.

    A publisher reads the latest versions after this, so they cannot move before it
    publishes; the fixed order keeps two publishers of overlapping SOPs from deadlocking.
    """
    wanted = sorted(set(sop_ids))
    query = select(SopRow.id).where(SopRow.id.in_(wanted)).order_by(SopRow.id).with_for_update()
    return list(session.scalars(query))


def latest_versions(session: Session, sop_ids: Iterable[str]) -> dict[str, SopVersion]:
    """The latest version of each of `sop_ids` the registry holds (unknown ids left out)."""
    found: dict[str, SopVersion] = {}
    for sop_id in dict.fromkeys(sop_ids):
        row = session.scalar(_versions(sop_id).order_by(SopVersionRow.version.desc()).limit(1))
        if row is not None:
            found[sop_id] = _version(row)
    return found


def find_sop(session: Session, sop_id: str) -> SopRecord | None:
    """The SOP with `sop_id`, or None."""
    row = session.get(SopRow, sop_id)
    return _record(row) if row is not None else None


def get_sop(session: Session, sop_id: str) -> SopRecord:
    """The SOP with `sop_id`; UnknownSop if the registry has none."""
    record = find_sop(session, sop_id)
    if record is None:
        raise UnknownSop(f"no SOP {sop_id} in the registry")
    return record


def list_sops(session: Session) -> list[SopRecord]:
    """Every SOP in the registry, by id."""
    return [_record(row) for row in session.scalars(select(SopRow).order_by(SopRow.id))]


def latest_version(session: Session, sop_id: str) -> SopVersion:
    """The SOP's highest-numbered version, in effect or not: what a new draft builds on."""
    query = _versions(sop_id).order_by(SopVersionRow.version.desc()).limit(1)
    row = session.scalar(query)
    if row is None:
        raise UnknownSop(f"no SOP {sop_id} in the registry")
    return _version(row)


def current_version(session: Session, sop_id: str, on: date) -> SopVersion | None:
    """The version in effect on `on` (latest with effective date <= on); None before any."""
    query = (
        _versions(sop_id)
        .where(SopVersionRow.effective_date <= on)
        .order_by(SopVersionRow.version.desc())
        .limit(1)
    )
    row = session.scalar(query)
    if row is None:
        get_sop(session, sop_id)  # an unknown SOP is an error, a not-yet-effective one is not
        return None
    return _version(row)


def get_version(session: Session, sop_id: str, version: int) -> SopVersion:
    """Version `version` of the SOP; UnknownSop if there is no such SOP or version."""
    row = session.scalar(_versions(sop_id).where(SopVersionRow.version == version))
    if row is None:
        get_sop(session, sop_id)
        raise UnknownSop(f"{sop_id} has no version {version}")
    return _version(row)


def list_versions(session: Session, sop_id: str) -> list[SopVersion]:
    """Every version of the SOP, oldest first; UnknownSop if there is no such SOP."""
    rows = session.scalars(_versions(sop_id).order_by(SopVersionRow.version)).all()
    if not rows:
        get_sop(session, sop_id)
    return [_version(row) for row in rows]


def version_hashes(session: Session, sop_id: str) -> set[str]:
    """The content hashes of every version of the SOP."""
    query = select(SopVersionRow.content_hash).where(SopVersionRow.sop_id == sop_id)
    return set(session.scalars(query))


def note_ignored_disk_hash(session: Session, sop_id: str, disk_hash: str) -> bool:
    """Remember that this on-disk state was reported as ignored; True the first time only."""
    row = session.scalar(select(SopRow).where(SopRow.id == sop_id).with_for_update())
    if row is None:
        raise UnknownSop(f"no SOP {sop_id} in the registry")
    if row.ignored_disk_hash == disk_hash:
        return False
    row.ignored_disk_hash = disk_hash
    session.flush()
    return True


def _versions(sop_id: str) -> Select[SopVersionRow]:
    return select(SopVersionRow).where(SopVersionRow.sop_id == sop_id)


def _record(row: SopRow) -> SopRecord:
    meta = SopMeta(
        id=row.id,
        title=row.title,
        owner_team=row.owner_team,
        domain=row.domain,
        markets=tuple(row.markets),
    )
    return SopRecord(meta, row.source_path, row.source_hash, row.ignored_disk_hash, row.created_at)


def _version(row: SopVersionRow) -> SopVersion:
    return SopVersion(
        sop_id=row.sop_id,
        version=row.version,
        text=row.text,
        content_hash=row.content_hash,
        author=row.author,
        effective_date=row.effective_date,
        changelog=row.changelog,
        jira_key=row.jira_key,
        based_on_version=row.based_on_version,
        published_at=row.published_at,
    )
