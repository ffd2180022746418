"""A Jira ticket as govflow reads it: logical field values, already normalised."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict

FieldValue = str | list[str] | None


class Ticket(BaseModel):
    """The requester's ticket: who filed it and the values of the fields the rules name."""

    model_config = ConfigDict(frozen=True)

    key: str
    id: str
    project: str
    summary: str
    status: str | None = None
    priority_name: str | None = None
    reporter_account_id: str | None = None
    reporter_email: str | None = None
    reporter_name: str = ""
    updated: datetime
    values: dict[str, FieldValue] = {}
    malformed: dict[str, str] = {}

    def fingerprint(self) -> str:
        """A digest of what triage reads, to notice when the requester changed something."""
        content = {
            "summary": self.summary,
            "priority": self.priority_name,
            "values": self.values,
            "malformed": self.malformed,
        }
        encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()
