"""SLA clocks of requests: where each part lives, and the names callers have long imported.

- `govflow.clock_sync`: `sync_clocks` keeps a request's clocks in step with its lifecycle.
- `govflow.sla_watchdog`: `fire_due`, `sweep_due` and `redrive_stalled`, the watchdog's
  use cases; each threshold reached is a `SlaThresholdReached` notice, worded by the Slack
  and Jira renderers.
- `govflow.clock_schedules`: a clock's thresholds from the rules and its stored schedule.
- `govflow.clock_text`: `clock_lines`, `explain_request` and `describe`, for people.
- `integrations.calendars`: `CalendarBook`, the rules' calendars built once.

New code imports from those modules. These names stay while the Prefect UI publishers
(`integrations/prefect_ui/`), edited by others this turn, still import them from here.
"""

from __future__ import annotations

from govflow.clock_schedules import derived_columns as derived_columns
from govflow.clock_schedules import escalation_steps as escalation_steps
from govflow.clock_schedules import thresholds_of as thresholds_of
from govflow.clock_sync import sync_clocks as sync_clocks
from govflow.clock_sync import wanted_clocks as wanted_clocks
from govflow.clock_text import clock_lines as clock_lines
from govflow.clock_text import describe as describe
from govflow.clock_text import explain_request as explain_request
from govflow.clock_text import wall_clock_text as wall_clock_text
from govflow.sla_watchdog import WatchdogReport as WatchdogReport
from govflow.sla_watchdog import fire_due as fire_due
from govflow.sla_watchdog import redrive_stalled as redrive_stalled
from govflow.sla_watchdog import sweep_due as sweep_due
from integrations.calendars import CalendarBook as CalendarBook
