"""SLA notices rendered to each audience, word for word as the watchdog has always said them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain.notices import SlaThresholdReached
from domain.sla_words import sla_headline, wall_clock
from domain.stages import Stage
from integrations.jira.notices import sla_comment
from integrations.slack.notices import sla_reminder, sla_to_channel, sla_to_lead
from tests.govflow.test_clocks_usecase import make_rules

RULES = make_rules()
DUE = datetime(2026, 12, 3, 9, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Kuala_Lumpur"))
WHO = [("U0QA00001", "U0QA00001"), ("qa@example.com", None)]


def notice(fraction: float, due: datetime | None = DUE) -> SlaThresholdReached:
    return SlaThresholdReached(
        jira_key="MODREQ-7",
        team="qa",
        stage=Stage.SIGN_OFF,
        round=1,
        target="2d",
        fraction=fraction,
        due=due,
    )


def test_a_warning_in_each_audience() -> None:
    """A warning: headline, thread reminder, lead's DM and channel post."""
    warn = notice(0.5)
    head = "QA sign-off used 50% of its 2d SLA: due Thu 3 Dec 17:00 UTC+8"
    assert not warn.breached
    assert sla_headline(warn, RULES) == head
    assert sla_reminder(warn, RULES, WHO) == (
        ":hourglass_flowing_sand: <@U0QA00001> qa@example.com MODREQ-7: QA sign-off is due "
        "Thu 3 Dec 17:00 UTC+8 (50% of the 2d SLA used)."
    )
    assert sla_to_lead(warn, RULES) == f"{head}. MODREQ-7 needs your team's attention."
    assert sla_to_channel(warn, RULES, WHO) == (
        f":rotating_light: <@U0QA00001> qa@example.com {head}."
    )


def test_a_breach_in_each_audience() -> None:
    """A breach, and one past it, including the requester's note on Jira."""
    breach, later = notice(1.0), notice(1.5)
    assert breach.breached and later.breached
    assert sla_headline(breach, RULES) == (
        "QA sign-off passed its 2d SLA: due Thu 3 Dec 17:00 UTC+8"
    )
    assert sla_headline(later, RULES) == (
        "QA sign-off passed its 2d SLA (150% of it): due Thu 3 Dec 17:00 UTC+8"
    )
    assert sla_reminder(breach, RULES, WHO[:1]) == (
        ":rotating_light: <@U0QA00001> MODREQ-7: QA sign-off is overdue "
        "(was due Thu 3 Dec 17:00 UTC+8)."
    )
    assert sla_comment(breach, RULES) == (
        "The QA sign-off step has passed its service level of 2d working time "
        "(it was due Thu 3 Dec 17:00 UTC+8). The team has been alerted."
    )


def test_a_paused_clock_has_no_due_time_and_zones_keep_their_names() -> None:
    """No due time while paused; a zone with an abbreviation keeps it."""
    assert "due not known while paused" in sla_headline(notice(0.5, due=None), RULES)
    berlin = datetime(2026, 12, 3, 9, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert wall_clock(berlin) == "Thu 3 Dec 10:00 CET"
    # The same instant in another zone is another reading, however often it is asked for.
    assert wall_clock(DUE) == "Thu 3 Dec 17:00 UTC+8" and berlin == DUE
    assert wall_clock(berlin.astimezone(UTC)) == "Thu 3 Dec 09:00 UTC"


def test_a_notice_is_a_plain_value() -> None:
    """It survives a round trip through JSON, as every notice does."""
    warn = notice(0.75)
    again = SlaThresholdReached.model_validate_json(warn.model_dump_json())
    assert again.fraction == warn.fraction and again.due == warn.due
