"""Naming and tagging the current flow run after the fact, so the Prefect UI can filter by key."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from prefect import get_client
from prefect.runtime import flow_run

from integrations.prefect_ui.urls import run_tag

# A run should not carry an unbounded list of tags (a sign-off can wait on many teams).
MAX_KEY_TAGS = 50


def advance_tags(installation: str, jira_key: str, stage: str, holders: str | None) -> list[str]:
    """The tags of an `advance` run: its installation's, then the rest in its namespace.

    The installation's own tag marks the run as its own (its zombie automation matches it);
    "advance", the request's Jira key, the stage reached and the teams holding it (`holders`,
    comma-separated) are namespaced by `run_tag`, so two installations sharing a Prefect
    server, with the same Jira keys and teams, never find each other's runs by tag. The
    default installation's tags are those it always had: govflow, advance, MODREQ-12, ...
    """
    mine = ["advance", jira_key, stage, *(holders or "").split(",")]
    return [installation, *(run_tag(installation, tag) for tag in mine if tag)]


def label_run(name: str, tags: Iterable[str]) -> None:
    """Rename the running flow run and set its tags, in one API call."""
    run_id = flow_run.get_id()
    if run_id is None:
        return
    wanted = [t for t in dict.fromkeys(tags) if t][:MAX_KEY_TAGS]
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(run_id), name=name, tags=wanted)
