"""Runs whose process is gone are marked CRASHED by Prefect, and only those (Prefect's zombie
detection: flow-run heartbeats and an automation).

A runner killed mid-run (kill -9, OOM, a machine lost) leaves its flow run RUNNING, holding
its deployment's one concurrency slot, and every new intake or sla-watchdog run is cancelled
until the slot's lease expires (300 s). Crashing "my deployments' runs" when a runner starts
would also crash the runs other runners are running. Instead, every flow-run process sends a
heartbeat event every `HEARTBEAT_SECONDS` (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, set by the
runner for the processes it starts), and an automation on the Prefect server marks CRASHED a
run of this installation whose heartbeats stopped for `ZOMBIE_AFTER` without a final state:
that frees the slot. This is the recipe of Prefect's guide "How to detect and respond to
zombie flows"; the automation is created, or brought up to date, by every runner at start.

The automation matches the installation's tag only: installations sharing a Prefect server
each judge their own runs.
"""

from __future__ import annotations

import os
from datetime import timedelta
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

# Prefect's minimum heartbeat frequency; three missed beats make a zombie.
HEARTBEAT_SECONDS = 30
ZOMBIE_AFTER = timedelta(seconds=90)
HEARTBEAT_SETTING = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
FINAL_EVENTS = (
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
)


def automation_name(installation: str) -> str:
    """The name of an installation's zombie automation on the Prefect server."""
    return f"{installation}: crash runs whose process is gone"


def zombie_automation(installation: str, after: timedelta = ZOMBIE_AFTER) -> AutomationCore:
    """The automation: a run tagged `installation` without a heartbeat for `after` is CRASHED."""
    return AutomationCore(
        name=automation_name(installation),
        description=(
            "Marks CRASHED a flow run whose heartbeats stopped without a final state: its "
            "process is gone, and its deployment's concurrency slot is freed (govflow.zombies)."
        ),
        enabled=True,
        trigger=EventTrigger(
            # A run left PENDING (its runner died before starting its process) holds the
            # slot too: it must start beating within the same time.
            after={"prefect.flow-run.heartbeat", "prefect.flow-run.Pending"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Running", *FINAL_EVENTS},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {
                    "prefect.resource.role": "tag",
                    "prefect.resource.id": f"prefect.tag.{installation}",
                }
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=after,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {after.total_seconds():g} s: its process is gone",
            )
        ],
    )


def _tag(installation: str) -> str:
    """The resource id of the installation's tag, as flow-run events name it."""
    return f"prefect.tag.{installation}"


def watch_for_zombies(installation: str, after: timedelta = ZOMBIE_AFTER) -> UUID:
    """Create or update this installation's zombie automation; its id."""
    wanted = zombie_automation(installation, after)
    with get_client(sync_client=True) as client:
        found = client.read_automations_by_name(wanted.name)
        # Several runners may start at once and each create one; the first found is kept
        # up to date, and any twin does the same thing (crashing a crashed run changes nothing).
        if not found:
            return client.create_automation(wanted)
        kept = found[0]
        # Rewritten only when it changed: an update restarts the trigger's watch over the
        # runs already beating, and runners start often.
        if _essence(kept) != _essence(wanted):
            client.update_automation(kept.id, wanted)
        return kept.id


def _essence(automation: AutomationCore) -> tuple[object, ...]:
    """What the automation does, without the ids the server gives its parts."""
    trigger = automation.trigger.model_dump(mode="json", exclude={"id"})
    actions = [a.model_dump(mode="json") for a in automation.actions]
    return (automation.enabled, trigger, actions)


def send_heartbeats(seconds: int = HEARTBEAT_SECONDS) -> None:
    """Have the flow-run processes this runner starts send heartbeats (unless set already)."""
    # The runner passes its environment on to each flow-run process it starts.
    os.environ.setdefault(HEARTBEAT_SETTING, str(seconds))
