"""The expert's assessment of a request: what they recommend, how risky it is, and why."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.people import Person
from domain.sla import UtcDateTime

# Slack's multi-line plain-text input holds at most 3000 characters; the modal is where
# assessments are written, so a longer text could only come from a bug or a forged payload.
MAX_TEXT = 3000
MAX_SOPS = 20
SOP_ID = re.compile(r"^SOP(?:-[A-Z0-9]+)+$")


class Recommendation(StrEnum):
    """What the expert recommends doing with the request."""

    PROCEED = "PROCEED"
    REJECT = "REJECT"
    NEEDS_INFO = "NEEDS_INFO"


class Risk(StrEnum):
    """The expert's view of the change's risk to moderation quality."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class Assessment(BaseModel):
    """An expert's assessment; a PROCEED must say what changes in which SOPs.

    `rationale` is the reason for every recommendation: the case for proceeding, the reason
    for rejecting, or (NEEDS_INFO) the question put to the requester.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    recommendation: Recommendation
    risk: Risk
    proposed_change: str = Field(default="", max_length=MAX_TEXT)
    affected_sops: tuple[str, ...] = Field(default=(), max_length=MAX_SOPS)
    rationale: str = Field(min_length=1, max_length=MAX_TEXT)
    # Optional worked examples for the training case of the SOP version this leads to.
    example_passes: str = Field(default="", max_length=MAX_TEXT)
    example_fails: str = Field(default="", max_length=MAX_TEXT)
    author: Person
    submitted_at: UtcDateTime

    @field_validator(
        "proposed_change", "rationale", "example_passes", "example_fails", mode="before"
    )
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("affected_sops", mode="before")
    @classmethod
    def _normalise_sops(cls, value: object) -> object:
        # SOP ids are typed by hand ("sop-lst-014 "); one spelling keeps diffs and links stable.
        if isinstance(value, list | tuple):
            cleaned = (v.strip().upper() if isinstance(v, str) else v for v in value)
            return tuple(dict.fromkeys(cleaned))
        return value

    @field_validator("affected_sops")
    @classmethod
    def _sop_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [v for v in value if not SOP_ID.match(v)]
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: SOP ids look like SOP-LST-014")
        return value

    @model_validator(mode="after")
    def _proceed_is_concrete(self) -> Assessment:
        if self.recommendation is Recommendation.PROCEED:
            if not self.proposed_change:
                raise ValueError("a PROCEED assessment needs the proposed change")
            if not self.affected_sops:
                raise ValueError("a PROCEED assessment needs at least one affected SOP")
        return self
