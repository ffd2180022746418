"""Tagging the current flow run after the fact, so the Prefect UI can filter by Jira key."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from prefect import get_client
from prefect.runtime import flow_run

# A run touching hundreds of tickets should not carry hundreds of tags; the keys are still on
# each task run (`record MODREQ-12`) and in the request's artifact.
MAX_KEY_TAGS = 50


def add_run_tags(new_tags: Iterable[str]) -> None:
    """Add tags to the running flow run (no-op outside a flow run)."""
    run_id = flow_run.get_id()
    wanted = list(dict.fromkeys(new_tags))[:MAX_KEY_TAGS]
    if run_id is None or not wanted:
        return
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(UUID(run_id)).tags
        client.update_flow_run(UUID(run_id), tags=list(dict.fromkeys([*current, *wanted])))


def rename_run(name: str) -> None:
    """Rename the running flow run, so the UI shows the request and its stage."""
    run_id = flow_run.get_id()
    if run_id is None:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(run_id), name=name)


def label_run(name: str, tags: Iterable[str]) -> None:
    """Rename the running flow run and set its tags, in one API call."""
    run_id = flow_run.get_id()
    if run_id is None:
        return
    wanted = [t for t in dict.fromkeys(tags) if t][:MAX_KEY_TAGS]
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(run_id), name=name, tags=wanted)
