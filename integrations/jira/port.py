"""What the pipeline needs from Jira, as a Protocol: `JiraGateway` implements it, fakes may too.

Issues and comments come back as Jira's own JSON (REST v2: rich text as wiki-markup
strings); `integrations.jira.mapping` reads them. Every method raises `JiraError` (with
`status` and `retry_after` when Jira gave them) and nothing else from the client library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class JiraPort(Protocol):
    """Reading and writing Jira issues for govflow."""

    def search(self, jql: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        """Every issue matching `jql` (all pages), with the given field ids."""
        ...

    def fields(self) -> list[dict[str, Any]]:
        """Jira's field list (`GET field`): ids, names, schemas."""
        ...

    def field_ids(self) -> dict[str, str]:
        """Field display name -> field id (`Market` -> `customfield_10052`)."""
        ...

    def get_issue(self, key: str, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """One issue by key, with all fields unless `fields` narrows them."""
        ...

    def add_comment(self, key: str, body: str) -> str:
        """Comment (wiki markup) as the API user; returns the comment id."""
        ...

    def comments(self, key: str) -> list[dict[str, Any]]:
        """Every comment of an issue, oldest first."""
        ...

    def transition(self, key: str, status: str) -> bool:
        """Move an issue to the status named `status`; False if it was already there."""
        ...

    def update_fields(self, key: str, fields: Mapping[str, Any]) -> None:
        """Set fields by id, values in Jira's REST form (`{"value": "MY"}` for an option)."""
        ...

    def add_label(self, key: str, label: str) -> None:
        """Add a label (a no-op if the issue has it already)."""
        ...

    def user_email(self, account_id: str) -> str | None:
        """The email of an account, or None where the user's privacy settings hide it."""
        ...

    def account_ids(self, email: str) -> list[str]:
        """The active Jira accounts `user/search` finds for an email (hidden emails included)."""
        ...

    def timezone(self) -> str:
        """The API user's time zone, the one JQL dates are read in."""
        ...
