"""The weekly cycle-time digest: a Prefect markdown artifact and a post with the chart in Slack.

Once a week (the `weekly-report` deployment, Mondays 08:00 UTC) the report of the last seven
days, by stage and by team, is published as the artifact `cycle-time-weekly` (updated in
place, so its page in the Prefect UI is stable) and posted to the governance team's channel
(`DIGEST_TEAM` in the rules) as a short summary with the chart uploaded as a PNG.

A week is posted once: the post is recorded in the audit trail (`weekly_digest_posted`, keyed
by the week's end) and a run that finds the record does not post again. A run that dies
between the upload and the record would post that week twice; Slack uploads do not go
through the outbox, whose effects belong to one request.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from govflow.report import GroupBy, Row, as_markdown, read_finished, report_rows
from govflow.runtime import Runtime
from integrations.db.audit import record_audit
from integrations.db.models import AuditRow

DIGEST_KEY = "cycle-time-weekly"
DIGEST_TEAM = "governance"
POSTED = "weekly_digest_posted"
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Digest:
    """What one weekly run did."""

    since: datetime
    until: datetime
    stages: int
    posted: bool
    file_id: str = ""


def summary_text(rows: list[Row], since: datetime, until: datetime) -> str:
    """The Slack message: counts, SLA, and the slowest stage by p90."""
    finished = sum(r.count for r in rows)
    if not finished:
        return f"Cycle time {since:%a %d %b} to {until:%a %d %b}: no stage finished this week."
    met = sum(r.sla_met for r in rows)
    breached = sum(r.sla_breached for r in rows)
    slowest = max(rows, key=lambda r: r.p90_total)
    return (
        f"Cycle time {since:%a %d %b} to {until:%a %d %b}: {finished} stages finished, "
        f"SLA met {met}, breached {breached}. Slowest p90: {slowest.group} "
        f"{slowest.p90_total:.1f} h ({slowest.p90_working:.1f} h working)."
    )


def send_weekly_digest(runtime: Runtime, now: datetime) -> Digest:
    """Publish the week's report as an artifact and post it once to the governance channel."""
    from govflow.report_chart import write_chart  # matplotlib only for this run
    from integrations.prefect_ui.artifacts import put_markdown

    since, until = now - WEEK, now
    week = f"{until:%Y-%m-%d}"
    with runtime.sessions.begin() as session:
        times = read_finished(session, runtime.rules, since, until)
        already = session.scalar(
            select(AuditRow.id).where(AuditRow.action == POSTED, AuditRow.reason == week)
        )
    by_stage = report_rows(times, GroupBy.STAGE, runtime.rules)
    by_team = report_rows(times, GroupBy.TEAM, runtime.rules)
    markdown = as_markdown(by_stage, since=since, until=until, by=GroupBy.STAGE)
    markdown += "\n" + as_markdown(by_team, since=since, until=until, by=GroupBy.TEAM)
    put_markdown(DIGEST_KEY, markdown, "Cycle time of the last seven days")
    team = runtime.rules.teams.get(DIGEST_TEAM)
    if already is not None or team is None:
        return Digest(since, until, len(times), posted=False)
    with tempfile.TemporaryDirectory(prefix="govflow-digest-") as directory:
        chart = write_chart(
            by_stage, Path(directory) / "chart.png", f"Cycle time by stage, week to {week}"
        )
        content = chart.read_bytes()
    text = summary_text(by_stage, since, until)
    file_id = runtime.slack.upload_file(
        team.slack_channel,
        content,
        filename=f"cycle-time-{week}.png",
        title=f"Cycle time by stage, week to {week}",
        initial_comment=text,
        alt_txt="p50 hours per stage: working, off-hours and paused",
    )
    with runtime.sessions.begin() as session:
        record_audit(
            session,
            at=now,
            actor="govflow",
            action=POSTED,
            reason=week,
            detail={"channel": team.slack_channel, "file_id": file_id},
        )
    return Digest(since, until, len(times), posted=True, file_id=file_id)
