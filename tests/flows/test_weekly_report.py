"""The weekly digest: the report as a Prefect artifact and, once a week, in Slack with its chart."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from govflow.digest import DIGEST_KEY, send_weekly_digest
from govflow.runtime import Runtime
from sandbox.slack.sandbox import SlackSandbox
from tests.govflow.test_report import fill, utc

pytestmark = pytest.mark.prefect
GOVERNANCE = "C0GV00001"


def test_digest_is_published_and_posted_once_a_week(
    pipeline_env: dict[str, str], prefect_api: str, ledger: Engine, slack: SlackSandbox
) -> None:
    """Artifact with both tables; one Slack post with the PNG; the same week not again."""
    with Session(ledger) as session, session.begin():
        fill(session)
    runtime = Runtime.load()
    now = utc(11, 5, 0)  # the week from Thu 29 Oct: clocks B and C finished in it, A before
    first = send_weekly_digest(runtime, now)
    again = send_weekly_digest(runtime, now)
    assert (first.stages, first.posted, again.posted) == (2, True, False)

    with httpx.Client(base_url=prefect_api) as api:
        page = api.get(f"/artifacts/{DIGEST_KEY}/latest").json()["data"]
    assert "# Cycle time by stage, Thu 29 Oct to Thu 05 Nov 2026 (UTC)" in page
    assert "| Expert review | 1 | 11.0 | 11.0 | 9.0 | 9.0 | 2.0 | 2.0 |" in page
    assert (
        "| Stakeholder sign-off | 1 | 4.0 | 4.0 | 4.0 | 4.0 | 0.0 | 0.0 | 0.0 | 0.0 | 0 | 1 | 1 |"
        in page
    )
    assert "| Policy Governance | 1 |" in page

    uploads = httpx.get(f"{slack.url}/_sandbox/files").json()["files"]
    assert len(uploads) == 1
    [upload] = uploads
    assert upload["id"] == first.file_id and upload["channels"] == [GOVERNANCE]
    assert upload["name"] == "cycle-time-2026-11-05.png" and upload["size"] > 1000
    [post] = [m for m in slack.messages(GOVERNANCE) if m.text.startswith("Cycle time")]
    assert post.text == (
        "Cycle time Thu 29 Oct to Thu 05 Nov: 2 stages finished, SLA met 1, breached 1. "
        "Slowest p90: Expert review 11.0 h (9.0 h working)."
    )
