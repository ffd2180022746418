"""Text from outside (Jira issues and comments, Slack inputs) made safe to store and send."""

from __future__ import annotations

import re

# C0 controls but tab, newline and carriage return, and DEL: PostgreSQL refuses NUL in text,
# and none of the others means anything in a Jira comment or a Slack message.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A lone surrogate (JSON's "\ud800" escape) cannot be encoded as UTF-8 for the ledger or HTTP.
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` without control characters and with lone surrogates replaced: storable, sendable."""
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))
