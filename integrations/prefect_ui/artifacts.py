"""Prefect artifacts: the open-requests board and a timeline per request, each under one key.

Each key holds one artifact that is updated in place (`PATCH /artifacts/{id}`, which Prefect
also applies to the key's collection), rather than a new version per publication: the board
is republished after every change, and a version each time grew Prefect's database with
every click (26 versions in 10 minutes at rest) and buried the board behind a version list.
So `<UI>/artifacts/key/open-requests` always shows the board as last published (`board_url`).
Keys and the run tags read here are the installation's (`urls.in_namespace`, `urls.run_tag`):
installations sharing a Prefect server never show or overwrite each other's artifacts.

Artifacts are written with the client, not `create_markdown_artifact`: the board is
published from wherever a change happens, inside a flow run or not, and Prefect deprecates
the helper outside runs. An artifact first created inside a run stays linked to that run.

What is published when (the board's debounce, the journeys after a change) is decided in
`govflow.publishing`; here are the writes to Prefect and the journey read off the ledger,
each given plain arguments (a session, the rules, URLs, the installation, `now`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    FlowRunFilter,
    FlowRunFilterTags,
)
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.runtime import flow_run
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.rules import Rules
from integrations.calendars import CalendarBook
from integrations.db.audit import audit_trail
from integrations.db.models import IdentityRow, RequestRow
from integrations.prefect_ui.board import (
    state_of,
    waiting_on_text,
)
from integrations.prefect_ui.journey import Links, journey_markdown, names_for, steps_of, waits_of
from integrations.prefect_ui.urls import DEFAULT_INSTALLATION, in_namespace, run_tag, ui_url


def artifact_key(jira_key: str, installation: str = DEFAULT_INSTALLATION) -> str:
    """The artifact key of a request's timeline (Prefect keys: lowercase, digits, dashes)."""
    key = "request-" + re.sub(r"[^a-z0-9-]+", "-", jira_key.lower()).strip("-")
    return in_namespace(installation, key)


# ---- keeping one artifact per key --------------------------------------------------------

# The artifact id behind each key this process has published, so a publication is one PATCH.
_ids: dict[tuple[str, str], UUID] = {}
_ids_lock = threading.Lock()


def put_markdown(key: str, markdown: str, description: str) -> UUID:
    """Make the artifact under `key` show `markdown`: update it in place, or create it."""
    with get_client(sync_client=True) as client:
        where = (str(client.api_url), key)
        with _ids_lock:
            known = _ids.get(where)
        if known is None:
            found = client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(any_=[key])
                ),
                limit=1,
            )
            known = found[0].latest_id if found else None
        if known is not None:
            try:
                # The PATCH itself, not `client.update_artifact`: that also emits a
                # `prefect.artifact.updated` event carrying the whole text, which would grow
                # Prefect's event table by a board per publication (and a 10,000-row board
                # is over the 1.5 MB event limit).
                change = ArtifactUpdate(data=markdown, description=description)
                client.request(
                    "PATCH",
                    "/artifacts/{id}",
                    json=change.model_dump(mode="json", exclude_unset=True),
                    path_params={"id": known},
                )
            except (ObjectNotFound, PrefectHTTPStatusError) as error:
                if not _not_found(error):
                    raise
                known = None  # deleted in the UI since: create it again
        if known is None:
            run_id = flow_run.get_id()
            created = client.create_artifact(
                ArtifactCreate(
                    key=key,
                    type="markdown",
                    data=markdown,
                    description=description,
                    flow_run_id=UUID(run_id) if run_id else None,
                )
            )
            known = created.id
        with _ids_lock:
            _ids[where] = known
        return known


def _not_found(error: Exception) -> bool:
    # The sync client raises ObjectNotFound for some calls and a plain 404 for this one.
    if isinstance(error, PrefectHTTPStatusError):
        return error.response.status_code == 404
    return True


# ---- request journeys --------------------------------------------------------------------

# The request's latest runs linked from its journey.
RUN_LINKS = 10


def journey_of(
    session: Session,
    request: RequestRow,
    rules: Rules,
    browse_url: str,
    runs: Sequence[tuple[str, str]] = (),
    *,
    now: datetime,
) -> str:
    """The journey markdown of one request as the ledger has it at `now`."""
    state = state_of(request.state)
    trail = audit_trail(session, request.id)
    actors = {row.actor for row in trail if row.actor and "@" not in row.actor}
    emails = {
        slack_id: email
        for slack_id, email in session.execute(
            select(IdentityRow.slack_user_id, IdentityRow.email).where(
                IdentityRow.slack_user_id.in_(sorted(actors))
            )
        )
        if slack_id is not None
    }
    names = names_for(state, emails)
    steps = steps_of(trail, rules, names)
    book = CalendarBook(rules)
    waits = waits_of(steps, state, rules, book)
    team = rules.teams.get(request.expert_team or "")
    return journey_markdown(
        key=request.jira_key,
        summary=request.summary,
        stage=request.stage,
        held_by=waiting_on_text(state, rules) if state is not None else "",
        steps=steps,
        waits=waits,
        links=Links(
            jira=f"{browse_url.rstrip('/')}/browse/{request.jira_key}" if browse_url else "",
            thread=str((request.facts or {}).get("thread_url") or ""),
            runs=tuple(runs),
        ),
        calendar=book.get(team.calendar) if team is not None else None,
        now=now,
        created_at=request.created_at,
    )


def run_links(jira_key: str, installation: str) -> list[tuple[str, str]]:
    """The request's latest flow runs (tagged with its key) as (name, UI URL), newest first.

    Only the installation's runs: another installation on the server may have a request with
    the same Jira key (staging mirrors production's project).
    """
    tags = [installation, run_tag(installation, jira_key)]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=tags)),
            sort=FlowRunSort.START_TIME_DESC,
            limit=RUN_LINKS,
        )
        base = ui_url(str(client.api_url))
    return [(run.name, f"{base}/runs/flow-run/{run.id}") for run in runs]
