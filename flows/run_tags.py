"""Naming and tagging the current flow run after the fact, so the Prefect UI can filter by key."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from prefect import get_client
from prefect.runtime import flow_run

# A run should not carry an unbounded list of tags (a sign-off can wait on many teams).
MAX_KEY_TAGS = 50


def label_run(name: str, tags: Iterable[str]) -> None:
    """Rename the running flow run and set its tags, in one API call."""
    run_id = flow_run.get_id()
    if run_id is None:
        return
    wanted = [t for t in dict.fromkeys(tags) if t][:MAX_KEY_TAGS]
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(run_id), name=name, tags=wanted)
