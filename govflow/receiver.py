"""The receiver process: Slack interactivity and Jira webhooks in one Starlette app.

    python -m govflow.receiver [--host 127.0.0.1] [--port N]

Routes:
    POST /slack/events   Slack clicks, modal submissions, `/govflow` (integrations.slack.receiver)
    POST /jira/webhook   Jira issue and comment webhooks (`govflow.jira_webhook`)
    GET  /healthz        liveness
    GET  /readyz         readiness: the ledger answers (govflow.health)
    GET  /metrics        Prometheus: the ledger's backlog, ack latency (govflow.metrics)
With `GOVFLOW_SLACK_APP_TOKEN` set, Slack is received over Socket Mode instead (the same
handlers); the HTTP app still serves Jira's webhooks.

Both receivers verify, record in the ledger and answer at once; the work that follows a
recorded event runs in `advance`, which the runners' dispatchers start for every request
whose events wait in the ledger (`govflow.dispatch`; on PostgreSQL the event's commit
NOTIFYs them). The injected `AdvanceTrigger` is called after each answer: in production it
does nothing (`ledger_only`), tests use it to apply events at once. DESIGN decision 2.

The Jira webhook endpoint is `govflow.jira_webhook`; the Slack listeners are
`govflow.slack_handlers`; what they record is worked out by the use cases they call.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from config.settings import load_settings
from domain.errors import ConfigError
from govflow.health import LedgerCheck, Readiness, health_routes, prefect_check
from govflow.jira_webhook import JiraWebhookEndpoint
from govflow.metrics import AckTimer, ack_histogram, ledger_registry
from govflow.runtime import Runtime, slack_lookups, utc_now
from govflow.slack_handlers import FOLLOW_UP_WORKERS, AdvanceTrigger, SlackHandlers
from govflow.training import TrainingDesk
from integrations.follow_ups import FollowUps
from integrations.jira.gateway import JiraGateway
from integrations.slack.identity import IdentityResolver, JiraAccounts, RequesterSlackIds
from integrations.slack.receiver import (
    SlackEndpoint,
    build_bolt_app,
    socket_mode_handler,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# How long a click waits for Jira's user search (the ack is due within Slack's 3 seconds).
JIRA_LOOKUP_TIMEOUT_SECONDS = 1.5
# How long a Jira webhook waits for Slack to match its requester (Jira gives up after 10 s).
SLACK_LOOKUP_TIMEOUT_SECONDS = 2.0

__all__ = ["AdvanceTrigger", "JiraWebhookEndpoint", "create_app", "ledger_only", "main"]


# --- the app -----------------------------------------------------------------------------


def jira_lookups(runtime: Runtime) -> JiraGateway:
    """A Jira gateway for look-ups made before Slack is answered: no retries, a short wait.

    Slack wants its answer within 3 seconds; the library's retries would sleep for up to a
    minute, and a click refused with "try again" is better than one Slack gave up on.
    """
    wait = min(JIRA_LOOKUP_TIMEOUT_SECONDS, runtime.settings.http_timeout_seconds)
    return JiraGateway.from_settings(runtime.settings, timeout=wait, max_retries=0)


def slack_handlers(
    runtime: Runtime, *, advance: AdvanceTrigger, now: Clock, after: FollowUps | None = None
) -> SlackHandlers:
    """The Slack handlers over this runtime's ledger, gateway and rules."""
    rules = runtime.rules
    return SlackHandlers(
        rules=rules,
        sessions=runtime.sessions,
        slack=runtime.slack,
        identities=IdentityResolver(runtime.sessions, runtime.slack, now),
        jira_accounts=JiraAccounts(runtime.sessions, jira_lookups(runtime), now),
        advance=advance,
        now=now,
        after=after,
        training=TrainingDesk(runtime.sessions, rules, runtime.intake_context().issue_url),
    )


def create_app(
    runtime: Runtime,
    *,
    advance: AdvanceTrigger,
    now: Clock = utc_now,
    wall_clock: Callable[[], float] = time.time,
    in_threadpool: bool = True,
) -> Starlette:
    """The receiver's ASGI app; `app.state` holds the Bolt app (for Socket Mode) and follow-ups."""
    settings = runtime.settings
    bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    # One queue of follow-ups for both endpoints: each yields to every answer still owed.
    follow_ups = FollowUps(workers=FOLLOW_UP_WORKERS, name="receiver-after")
    bolt = build_bolt_app(
        slack_handlers(runtime, advance=advance, now=now, after=follow_ups),
        bot_token=bot_token,
        api_url=str(settings.slack_api_url),
    )
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    slack = SlackEndpoint(
        bolt,
        signing_secret=secret,
        sessions=runtime.sessions,
        now=now,
        wall_clock=wall_clock,
        in_threadpool=in_threadpool,
        follow_ups=follow_ups,
    )
    webhook_secret = (
        settings.jira_webhook_secret.get_secret_value() if settings.jira_webhook_secret else None
    )
    jira = JiraWebhookEndpoint(
        secret=webhook_secret,
        rules=runtime.rules,
        sessions=runtime.sessions,
        jira=runtime.jira,
        context=runtime.intake_context(),
        projects=runtime.projects,
        api_user_email=settings.jira_user,
        advance=advance,
        now=now,
        follow_ups=follow_ups,
        requester_ids=RequesterSlackIds(
            runtime.sessions, slack_lookups(settings, SLACK_LOOKUP_TIMEOUT_SECONDS), now
        ),
    )

    # Health and metrics (govflow.health): ready while the ledger answers.
    registry = ledger_registry(runtime.engine, now)
    readiness = Readiness(
        required={"ledger": LedgerCheck(runtime.engine)}, reported={"prefect": prefect_check()}
    )
    timed = {"/slack/events": "slack", "/jira/webhook": "jira"}
    app = Starlette(
        routes=[
            Route("/slack/events", slack.endpoint, methods=["POST"]),
            Route("/jira/webhook", jira.endpoint, methods=["POST"]),
            *health_routes(readiness, registry),
        ],
        middleware=[Middleware(AckTimer, histogram=ack_histogram(registry), paths=timed)],
    )
    app.state.bolt = bolt
    app.state.follow_ups = follow_ups
    return app


def ledger_only(request_id: int) -> None:
    """The production trigger: none. The event is in the ledger, where the runners find it."""


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the receiver until interrupted (Socket Mode for Slack when an app token is set)."""
    parser = argparse.ArgumentParser(prog="python -m govflow.receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=None, help="default: GOVFLOW_RECEIVER_PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        runtime = Runtime.from_settings(load_settings())
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    app = create_app(runtime, advance=ledger_only)
    settings = runtime.settings
    port = args.port or settings.receiver_port
    handler = None
    if settings.slack_app_token is not None:
        handler = socket_mode_handler(app.state.bolt, settings.slack_app_token.get_secret_value())
        handler.connect()
        print("receiver    Slack over Socket Mode", flush=True)
    print(
        f"receiver    listening on http://{args.host}:{port} (/slack/events, /jira/webhook)",
        flush=True,
    )
    try:
        uvicorn.run(app, host=args.host, port=port, log_level="warning", access_log=False)
    finally:
        if handler is not None:
            handler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
