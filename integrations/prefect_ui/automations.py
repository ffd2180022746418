"""A Prefect Automation that acts on govflow's SLA breaches (docs/prefect-events.md).

Prefect calls a webhook (a `Webhook` block: an on-call pager, a Slack incoming webhook, any
HTTP endpoint) with the request's key, the team and the due time as soon as a
`govflow.sla.breached` event arrives. govflow already escalates breaches itself (thread
reminders, lead DMs, channel posts, a Jira label); this is for whoever watches Prefect.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast
from uuid import UUID

from prefect.automations import Automation
from prefect.blocks.webhook import Webhook
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import EventTrigger, Posture
from pydantic import SecretStr

from integrations.prefect_ui.urls import DEFAULT_INSTALLATION, in_namespace

AUTOMATION_NAME = "govflow: SLA breached"
# Prefect renders this Jinja template with the triggering event.
BREACH_PAYLOAD = (
    '{"text": "SLA breached on {{ event.resource.get(\'prefect.resource.name\') }}: '
    '{{ event.payload.reason }}", '
    '"request": "{{ event.resource.get(\'prefect.resource.name\') }}", '
    '"team": "{{ event.payload.team }}", "due_at": "{{ event.payload.due_at }}"}'
)


def sla_breach_automation(
    webhook_block_id: UUID, installation: str = DEFAULT_INSTALLATION
) -> Automation:
    """The Automation: on each of `installation`'s `govflow.sla.breached`, call the webhook."""
    return Automation(
        name=in_namespace(installation, AUTOMATION_NAME),
        description=f"Calls a webhook for every SLA breach of govflow installation {installation}.",
        trigger=EventTrigger(
            expect={"govflow.sla.breached"},
            # Installations sharing the server each have their own requests (and their own
            # MODREQ-1); the label keeps this one's breaches.
            match={
                "prefect.resource.id": "govflow.request.*",
                "govflow.installation": installation,
            },
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[CallWebhook(block_document_id=webhook_block_id, payload=BREACH_PAYLOAD)],
    )


def install_breach_webhook(
    url: str,
    *,
    installation: str = DEFAULT_INSTALLATION,
    block_name: str = "govflow-sla-breached",
) -> Automation:
    """Save a Webhook block for `url` and create the Automation calling it; returns it."""
    block = Webhook(method="POST", url=SecretStr(url))
    # `save` and `create` are sync-or-async by context; called from sync code they return values.
    block_id = cast(UUID, block.save(in_namespace(installation, block_name), overwrite=True))
    return cast(Automation, sla_breach_automation(block_id, installation).create())
