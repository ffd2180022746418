"""Flow runs govflow makes Prefect create: per idle hour, and per request, before and after.

    python -m bench runs

Idle: the housekeeping deployments' schedules as `flows.runner.deployments` builds them,
read off the deployment objects: before, the fixed 30 s intake and 60 s watchdog intervals
(GOVFLOW_INTAKE_INTERVAL_SECONDS=30, GOVFLOW_WATCHDOG_INTERVAL_SECONDS=60, what every
installation ran); after, the defaults with a Jira webhook secret configured (intake a
reconciliation poll, the watchdog a safety run; `govflow.schedules`). A weekly report run is
added after (Mondays), 1/168 of a run per hour.

Per request: `advance` runs are one per batch of a request's events in both cases (the
dispatcher folds events that arrive together). Watchdog runs: before, none were caused by a
request (the timer ran anyway); after, at most one per distinct threshold instant of the
request's clocks, since each is scheduled for when a threshold falls due. The figure is that
upper bound for the shipped rules' routes: the request's clocks (expert review, one per
sign-off team, the SOP update) times the thresholds of their policy (warnings, escalation
steps and the breach); requests whose work finishes early never reach most of them, and
clocks of one request falling due together share a run.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

from config.loader import load_rules
from config.settings import DEFAULT_RULES, Settings
from domain.rules import Rules
from domain.sla import policy_thresholds
from flows.runner import deployments
from govflow.clock_schedules import escalation_steps

HOUR = timedelta(hours=1)


def run(*, quick: bool) -> list[dict[str, object]]:
    """Idle runs per hour and per day, and watchdog runs per request, before and after."""
    before = Settings(intake_interval_seconds=30, watchdog_interval_seconds=60)
    after = Settings(jira_webhook_secret="configured")
    rules = load_rules(DEFAULT_RULES)
    rows = []
    for label, settings in (("before", before), ("after", after)):
        per_hour = idle_runs_per_hour(settings)
        rows.append(
            {
                "case": f"{label}: idle",
                "runs/hour": round(per_hour, 2),
                "runs/day": round(per_hour * 24, 1),
            }
        )
    worst = max(watchdog_runs_per_request(rules, r.name) for r in rules.routing)
    typical = sorted(watchdog_runs_per_request(rules, r.name) for r in rules.routing)
    rows.append(
        {
            "case": "after: watchdog runs per request (upper bound)",
            "median route": typical[len(typical) // 2],
            "worst route": worst,
        }
    )
    return rows


def idle_runs_per_hour(settings: Settings) -> float:
    """Runs per hour the served deployments' schedules create when nothing happens."""
    total = 0.0
    for deployment in deployments(settings):
        for schedule in deployment.schedules or []:
            found = schedule.schedule
            if isinstance(found, IntervalSchedule):
                total += HOUR / found.interval
            elif isinstance(found, CronSchedule):
                total += 1 / 168  # the weekly report: once a week
    return total


def watchdog_runs_per_request(rules: Rules, route_name: str) -> int:
    """Distinct threshold instants of a request of this route: one watchdog run each, at most."""
    route = next(r for r in rules.routing if r.name == route_name)
    policy = rules.sla_policies.get(route.sla_policy)
    warn_at = policy.warn_at if policy is not None else ()
    teams = [route.expert_team, *(s.team for s in route.signoff)]
    teams.append(route.sop_owner_team or route.expert_team)
    return sum(
        len(policy_thresholds(warn_at, [s.at for s in escalation_steps(rules, policy, team)]))
        for team in teams
    )
