"""Prefect tasks of SOP training: thin wrappers over `govflow.training`."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from govflow.runtime import Runtime, utc_now
from govflow.training import remind_attesters


@task(name="remind-attesters", cache_policy=NO_CACHE)
def remind_attesters_task(runtime: Runtime) -> int:
    """Queue today's reminders to people who have not attested to an open training case."""
    with runtime.sessions.begin() as session:
        return remind_attesters(session, runtime.rules, utc_now())
