"""The pydantic schema of the YAML rules: request types, teams, calendars, routing, SLAs.

The schema is the whole contract between the admin's YAML and the pipeline; `config.loader`
reads the YAML, validates it against these models and reports problems with file and line.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.stages import Stage

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>m|h|d)$")
KEY = re.compile(r"^[a-z][a-z0-9_]*$")
JIRA_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,9}$")


def _slack_channel(value: str) -> str:
    if not SLACK_CHANNEL_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack channel id (C..., G...)")
    return value


def _person(value: str) -> str:
    if not (SLACK_USER_ID.match(value) or EMAIL.match(value)):
        raise ValueError(f"{value!r} is not a Slack user id (U...) or an email address")
    return value


def _duration(value: str) -> str:
    if not DURATION.match(value.strip()):
        raise ValueError(f"{value!r} is not a duration like 30m, 4h or 5d")
    return value


def _key(value: str) -> str:
    if not KEY.match(value):
        raise ValueError(f"{value!r} is not a key: use lower_snake_case, starting with a letter")
    return value


def _project_key(value: str) -> str:
    if not JIRA_PROJECT_KEY.match(value):
        raise ValueError(f"{value!r} is not a Jira project key (capitals and digits, e.g. MODREQ)")
    return value


# Checked per item (not per list) so an error points at the one bad entry and its YAML line.
ChannelId = Annotated[str, AfterValidator(_slack_channel)]
Person = Annotated[str, AfterValidator(_person)]
Duration = Annotated[str, AfterValidator(_duration)]
ProjectKey = Annotated[str, AfterValidator(_project_key)]
Key = Annotated[str, AfterValidator(_key)]


class Strict(BaseModel):
    """Base for rule models: unknown keys are errors, values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldKind(StrEnum):
    """How a Jira field's raw value is read."""

    TEXT = "text"
    OPTION = "option"
    OPTIONS = "options"
    NUMBER = "number"
    DATE = "date"
    USER = "user"


class TicketField(Strict):
    """A logical ticket field and where it lives in Jira."""

    jira: str = Field(description="Jira field id (customfield_10050) or display name")
    label: str
    kind: FieldKind = FieldKind.TEXT
    min_length: int = 0
    max_length: int = 32_000
    allowed: list[str] | None = None
    help: str = ""

    @model_validator(mode="after")
    def _lengths(self) -> TicketField:
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError(
                f"min_length {self.min_length} must be between 0 and max_length {self.max_length}"
            )
        return self


class RequestType(Strict):
    """A kind of business request and what its ticket must carry."""

    label: str
    jira_value: str = Field(description="the value of the request-type field in Jira")
    required_fields: list[str]
    description: str = ""


class Domain(Strict):
    """A moderation domain a request belongs to."""

    label: str
    jira_value: str


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Hours(Strict):
    """A daily working window in local time, start inclusive, end exclusive."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        # Comparing an offset time with a naive one raises TypeError, which pydantic would not
        # report as a validation error; the calendar's zone gives the offset anyway.
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("times are local to the calendar's time zone: drop the UTC offset")
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class Calendar(Strict):
    """When a team works: time zone, weekly hours, public holidays and closures."""

    timezone: str
    country: str | None = Field(default=None, description="ISO country code for `holidays`")
    subdivision: str | None = None
    workdays: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    hours: Hours = Hours(start=time(9), end=time(18))
    closed_dates: list[date] = []
    half_days: dict[date, Hours] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        # OSError: a zone *directory* ("Asia") or an over-long name reaches the file system.
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import holidays

        if value.upper() not in holidays.list_supported_countries():
            raise ValueError(f"the holidays package knows no country {value!r}")
        return value.upper()

    @model_validator(mode="after")
    def _known_subdivision(self) -> Calendar:
        if self.subdivision is None:
            return self
        if self.country is None:
            raise ValueError("a subdivision needs a country")
        import holidays

        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision)
        except NotImplementedError as exc:
            raise ValueError(
                f"the holidays package knows no subdivision {self.subdivision!r} of {self.country}"
            ) from exc
        return self


class EscalationAction(StrEnum):
    """What a warning or breach does."""

    REMIND_ASSIGNEE = "remind_assignee"
    DM_LEAD = "dm_lead"
    CHANNEL_POST = "channel_post"
    JIRA_BREACH = "jira_breach"


class EscalationStep(Strict):
    """One rung of an escalation chain: at a fraction of the SLA, do these things."""

    at: float = Field(gt=0, le=2, description="fraction of the SLA elapsed, 1.0 = breach")
    actions: list[EscalationAction]
    jira_label: str | None = None
    bump_priority: bool = False


class Team(Strict):
    """A team: where it talks, who may act for it, and its working calendar."""

    name: str
    slack_channel: ChannelId
    roster: list[Person] = Field(description="Slack user ids or emails of people who may act")
    leads: list[Person] = []
    calendar: str
    escalation: list[EscalationStep] | None = None


class QuorumKind(StrEnum):
    """How many of a team's approvers must approve."""

    ANY = "any"
    ALL = "all"
    N_OF = "n_of"


class Quorum(Strict):
    """A team's quorum: any one approver, all of the roster, or n of them."""

    kind: QuorumKind
    n: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # YAML may say `any`, `all`, or `{n_of: 2}`.
        if isinstance(value, str):
            return {"kind": value}
        if isinstance(value, dict) and set(value) == {"n_of"}:
            return {"kind": "n_of", "n": value["n_of"]}
        return value

    @model_validator(mode="after")
    def _n_given(self) -> Quorum:
        if self.kind is QuorumKind.N_OF and (self.n is None or self.n < 1):
            raise ValueError("n_of needs a whole number of approvers of at least 1")
        if self.kind is not QuorumKind.N_OF and self.n is not None:
            raise ValueError(f"quorum {self.kind} takes no n")
        return self


class SignOff(Strict):
    """One team whose sign-off a route needs."""

    team: str
    quorum: Quorum = Quorum(kind=QuorumKind.ANY)
    sla: Duration | None = Field(default=None, description="overrides the policy's SIGN_OFF target")


class RejectOutcome(StrEnum):
    """What a rejection in sign-off does."""

    END = "end"
    RETURN_TO_EXPERT = "return_to_expert"


class Match(Strict):
    """Which requests a route applies to; an omitted key matches anything."""

    request_type: list[str] | None = None
    domain: list[str] | None = None
    market: list[str] | None = None

    @field_validator("request_type", "domain", "market", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Route(Strict):
    """Where matching requests go: expert team, sign-off teams, SLA policy, channel."""

    name: str
    match: Match = Match()
    expert_team: str
    signoff: list[SignOff]
    sla_policy: str
    slack_channel: ChannelId | None = None
    on_reject: RejectOutcome = RejectOutcome.END
    sop_owner_team: str | None = None


Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")


class SlaPolicy(Strict):
    """Business-time targets per stage and priority, and when to warn."""

    targets: dict[Stage, dict[Priority, Duration]]
    warn_at: list[Annotated[float, Field(gt=0, lt=1)]] = [0.5, 0.75]
    escalation: list[EscalationStep] = []


class OutOfOffice(Strict):
    """An approver away on given dates, and who may act for them then."""

    approver: Person
    delegate: Person
    start: date
    until: date

    @model_validator(mode="after")
    def _ordered(self) -> OutOfOffice:
        if self.until < self.start:
            raise ValueError(f"until {self.until} is before start {self.start}")
        return self


class JiraRules(Strict):
    """How govflow reads and writes the Jira side."""

    projects: list[ProjectKey] = Field(min_length=1)
    request_type_field: str = "request_type"
    status_mapping: dict[Stage, str] = {}
    priority_mapping: dict[str, Priority] = {
        "Highest": "P1",
        "High": "P2",
        "Medium": "P3",
        "Low": "P4",
        "Lowest": "P4",
    }
    default_priority: Priority = "P3"
    due_date_field: str | None = "duedate"
    breach_label: str = "sla-breached"


class TrainingRules(Strict):
    """Who must attest to each published SOP version, and how they are reminded (issue 15)."""

    attest_teams: list[str] = Field(
        min_length=1, description="teams whose roster attests: e.g. [bpo_ops, qa]"
    )
    channels: list[ChannelId] = Field(
        default=[], description="where the training case is posted; [] = sops.announce_channels"
    )
    remind_before: Duration = Field(
        default="2d", description="working time before the effective date reminders start"
    )


class SopRules(Strict):
    """Where SOP documents come from and where publications are announced."""

    directory: str = "sops"
    announce_channels: list[ChannelId] = []
    training: TrainingRules | None = None


class Rules(Strict):
    """The whole rule set an admin maintains in `config/`."""

    version: Literal[1] = 1
    jira: JiraRules
    fields: dict[Key, TicketField]
    request_types: dict[Key, RequestType]
    domains: dict[Key, Domain]
    markets: list[str]
    calendars: dict[Key, Calendar]
    teams: dict[Key, Team]
    sla_policies: dict[Key, SlaPolicy]
    routing: list[Route]
    out_of_office: list[OutOfOffice] = []
    sops: SopRules = SopRules()
