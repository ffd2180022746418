"""The one error tree of govflow.

    GovflowError
    ├── ConfigError            settings or rules are invalid; carries every problem found
    ├── TicketInvalid          a Jira ticket lacks or mangles what its request type needs
    ├── InvalidTransition      the lifecycle does not allow this move from this stage
    ├── NotEntitled            this person may not take this action on this request
    ├── SignatureInvalid       an inbound Slack or Jira delivery failed verification
    ├── PayloadInvalid         an inbound delivery is not of a shape we accept
    │   └── BodyTooLarge       its body is larger than govflow reads (HTTP 413)
    ├── IntegrationError       a call to Jira or Slack failed (service, status, retry_after)
    │   ├── JiraError
    │   └── SlackError
    ├── UnknownSop             no such SOP, or no such version of it, in the registry
    ├── ProposedChangeInvalid  an expert's proposed SOP change cannot be applied as typed
    └── LedgerError            the ledger refused or lost a write
        └── PublicationRefused the registry will not publish this SOP version
            └── StaleBase      the draft's base is no longer the latest version: rebase first

Integration code raises these `from` the library error at the edge, so nothing above the
gateways sees a `requests`, `jira` or `slack_sdk` exception.
"""

from __future__ import annotations

from dataclasses import dataclass


class GovflowError(Exception):
    """Root of every error govflow raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in settings or rules, located as precisely as we can."""

    source: str
    line: int | None
    where: str
    message: str
    hint: str = ""

    def render(self) -> str:
        """Format as `file:line: where: message (hint)` for a terminal."""
        place = f"{self.source}:{self.line}" if self.line is not None else self.source
        text = (
            f"{place}: {self.where}: {self.message}" if self.where else f"{place}: {self.message}"
        )
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class ConfigError(GovflowError):
    """Settings or rules are invalid; `problems` lists every one found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


@dataclass(frozen=True)
class TicketProblem:
    """One missing or malformed field on a ticket, phrased for the requester."""

    field: str
    label: str
    message: str
    fix: str


class TicketInvalid(GovflowError):
    """A ticket cannot be triaged as filed; `problems` says exactly what to fix."""

    def __init__(self, problems: list[TicketProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.label}: {p.message}" for p in problems))


class InvalidTransition(GovflowError):
    """The lifecycle does not allow this move from the request's current stage."""


class NotEntitled(GovflowError):
    """The acting person may not take this action; the message says why, for them."""


class SignatureInvalid(GovflowError):
    """An inbound delivery is forged, stale or unsigned."""


class PayloadInvalid(GovflowError):
    """An inbound delivery is malformed or of a kind we do not accept."""


class BodyTooLarge(PayloadInvalid):
    """An inbound body is larger than govflow reads; refused before it is read whole."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the body is larger than the {limit} bytes govflow reads")


class IntegrationError(GovflowError):
    """A call to an outside service failed after the client's own retries."""

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"{service}: {message}" + (f" (HTTP {status})" if status else ""))

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (rate limits, 5xx, no answer)."""
        return self.status is None or self.status == 429 or self.status >= 500


class JiraError(IntegrationError):
    """A Jira call failed."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__("jira", message, status=status, retry_after=retry_after)


class SlackError(IntegrationError):
    """A Slack call failed."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__("slack", message, status=status, retry_after=retry_after)


class LedgerError(GovflowError):
    """The ledger refused a write or holds something inconsistent."""


class UnknownSop(GovflowError):
    """No SOP (or no such version of it) is in the registry."""


@dataclass(frozen=True)
class ChangeProblem:
    """One thing wrong with an expert's proposed SOP change, located by line of their text."""

    line: int | None
    message: str
    hint: str = ""

    def render(self) -> str:
        """Format as `line N: message (hint)` for a Slack modal or a terminal."""
        text = f"line {self.line}: {self.message}" if self.line is not None else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ProposedChangeInvalid(GovflowError):
    """A proposed SOP change cannot be applied as typed; `problems` says what to fix."""

    def __init__(self, problems: list[ChangeProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.render() for p in problems))


class PublicationRefused(LedgerError):
    """The registry will not publish this SOP version (bad effective date, no change...)."""


class StaleBase(PublicationRefused):
    """The SOP moved on since the draft's base version: rebase the draft, then publish."""

    def __init__(self, sop_id: str, *, based_on: int, latest: int) -> None:
        self.sop_id = sop_id
        self.based_on = based_on
        self.latest = latest
        super().__init__(
            f"{sop_id}: the draft is based on version {based_on} but version {latest} is the "
            "latest; rebase the draft onto it before publishing"
        )
