"""Publishing an SOP version: the number it gets after the latest, or why it is refused."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from domain.errors import PublicationRefused, StaleBase
from domain.sop import SopVersion


class Publication(NamedTuple):
    """The version a publication gets, and whether it is new or a retry of the same one."""

    version: int
    new: bool


def plan_publication(
    latest: SopVersion,
    *,
    text_hash: str,
    based_on_version: int,
    effective_date: date,
    jira_key: str | None,
    today: date,
) -> Publication:
    """Decide the number of a new version after `latest`, or refuse with the reason."""
    sop = latest.sop_id
    if based_on_version != latest.version:
        # A publish retried after its commit (a double click, a re-run task) is not stale.
        if (
            jira_key is not None
            and latest.jira_key == jira_key
            and latest.based_on_version == based_on_version
            and latest.content_hash == text_hash
        ):
            return Publication(latest.version, new=False)
        if not 1 <= based_on_version < latest.version:
            raise PublicationRefused(f"{sop} has no version {based_on_version} to build on")
        raise StaleBase(sop, based_on=based_on_version, latest=latest.version)
    if text_hash == latest.content_hash:
        raise PublicationRefused(
            f"{sop}: the text is the same as version {latest.version}'s: nothing to publish"
        )
    if effective_date < today:
        # Backdating would rewrite which SOP was in force when past decisions were made.
        raise PublicationRefused(
            f"{sop}: effective date {effective_date} is in the past (today is {today})"
        )
    if effective_date < latest.effective_date:
        raise PublicationRefused(
            f"{sop}: effective date {effective_date} is before {latest.effective_date}, when "
            f"version {latest.version}, which this one builds on, takes effect"
        )
    return Publication(latest.version + 1, new=True)
