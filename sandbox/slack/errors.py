"""How a stand-in method says no: Slack's `{"ok": false, "error": ...}` as an exception."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApiFailure(Exception):
    """A Web API call answered `ok: false` with `code` (HTTP 200 unless `status` says not)."""

    def __init__(
        self,
        code: str,
        *,
        status: int = 200,
        messages: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.messages = list(messages)
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body Slack sends for this failure."""
        body: dict[str, Any] = {"ok": False, "error": self.code, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body
