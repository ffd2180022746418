"""The weekly report flow: the cycle-time digest as a Prefect artifact and in Slack."""

from __future__ import annotations

from typing import Any

from prefect import flow

from govflow.digest import send_weekly_digest
from govflow.runtime import Runtime, utc_now


@flow(name="weekly-report", log_prints=True)
def weekly_report() -> dict[str, Any]:
    """Publish the last seven days' cycle times and post them to the governance channel."""
    digest = send_weekly_digest(Runtime.load(), utc_now())
    return {
        "since": digest.since.isoformat(),
        "until": digest.until.isoformat(),
        "stages": digest.stages,
        "posted": digest.posted,
        "file_id": digest.file_id,
    }
