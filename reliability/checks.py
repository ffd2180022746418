"""What the soak checks at the end, each a plain function over the evidence it gathered.

- completed: every filed request is DONE in the ledger;
- duplicated Jira comments: no `govflow ref` marker (one per outbox effect) appears twice;
- duplicated Slack messages: no effect reference (message metadata) appears on two messages;
- lost decisions: every acknowledged click or submission is an event in the ledger, applied;
- reply order: each request's thread shows govflow's replies in the order the outbox wrote them;
- secrets: no configured secret appears in anything captured (`scan_secrets`).
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.slack.action_ids import OPENS_MODAL
from integrations.slack.interaction_parsing import ButtonClick, parse_interaction
from reliability.people import Interaction

JIRA_REF = re.compile(r"govflow ref ([0-9a-f]{16})")
METADATA_EVENT = "govflow_effect"


@dataclass
class Check:
    """One named check: its figure and whether it passed."""

    name: str
    value: object
    ok: bool
    detail: list[str] = field(default_factory=list)


def duplicated_jira_comments(bodies: Iterable[tuple[str, str]]) -> Check:
    """(issue key, comment body) pairs: a govflow reference seen twice is a duplicate."""
    refs = Counter(
        (key, match.group(1)) for key, body in bodies for match in JIRA_REF.finditer(body)
    )
    twice = {ref: n for ref, n in refs.items() if n > 1}
    extra = sum(n - 1 for n in twice.values())
    return Check(
        "duplicated Jira comments",
        extra,
        extra == 0,
        [f"{k} ref {r} x{n}" for (k, r), n in twice.items()],
    )


def message_ref(metadata: Mapping[str, Any] | None) -> str | None:
    """The outbox reference a govflow message carries in its metadata."""
    if not metadata or metadata.get("event_type") != METADATA_EVENT:
        return None
    ref = (metadata.get("event_payload") or {}).get("ref")
    return str(ref) if ref else None


def duplicated_slack_messages(metadata: Iterable[Mapping[str, Any] | None]) -> Check:
    """Metadata of every stored message: an effect reference on two messages is a duplicate."""
    refs = Counter(ref for m in metadata if (ref := message_ref(m)) is not None)
    twice = {ref: n for ref, n in refs.items() if n > 1}
    extra = sum(n - 1 for n in twice.values())
    return Check(
        "duplicated Slack messages", extra, extra == 0, [f"ref {r} x{n}" for r, n in twice.items()]
    )


def reply_order(expected: Mapping[str, Sequence[str]], seen: Mapping[str, Sequence[str]]) -> Check:
    """Per request: the refs of the outbox's replies in outbox order against the thread's."""
    wrong = [
        f"{key}: outbox {list(refs)} thread {list(seen.get(key, ()))}"
        for key, refs in expected.items()
        if list(refs) != list(seen.get(key, ()))
    ]
    value = f"{len(expected) - len(wrong)}/{len(expected)} threads in order"
    return Check("thread reply order preserved", value, not wrong, wrong)


@dataclass(frozen=True)
class LedgerEvent:
    """What the lost-decision check needs of one ledger event."""

    key: str
    dedupe_key: str
    actor: str
    kind: str
    applied: bool


def lost_decisions(
    interactions: Sequence[Interaction],
    events: Sequence[LedgerEvent],
    refused: Mapping[str, int],
) -> Check:
    """Every acknowledged decision is an applied event in the ledger, or a refused repeat.

    A person repeats a click whose answer never came; if the first one was recorded after
    all, the repeat is refused (one decision per member) and audited as `action_refused`. So
    an acknowledged interaction without an event of its own counts as lost only when its
    request has fewer refusals on record than such interactions.
    """
    by_key = {e.dedupe_key: e for e in events}
    without_event: Counter[str] = Counter()
    lost: list[str] = []
    for interaction in interactions:
        if not interaction.acknowledged:
            continue
        parsed = parse_interaction(interaction.payload)
        if isinstance(parsed, ButtonClick) and parsed.action in OPENS_MODAL:
            continue  # it only opens a form; the decision comes with the submission
        event = by_key.get(parsed.dedupe_key)
        who = f"{interaction.key} {interaction.action} by {interaction.user}"
        if event is None:
            without_event[interaction.key] += 1
            if without_event[interaction.key] > refused.get(interaction.key, 0):
                lost.append(f"lost: {who}")
        elif not event.applied:
            lost.append(f"recorded, never applied: {who}")
    return Check("lost decisions", len(lost), not lost, lost)


def secret_forms(name: str, value: str, user: str | None = None) -> dict[str, str]:
    """A secret and the encodings it could leak in (Basic auth for the Jira token)."""
    forms = {name: value}
    if user is not None:
        forms[f"{name} (Basic auth)"] = base64.b64encode(f"{user}:{value}".encode()).decode()
    return forms


def scan_secrets(secrets: Mapping[str, str], sources: Mapping[str, str]) -> Check:
    """Every (secret, source) pair where the secret's text occurs in the source."""
    found = [
        f"{name} in {where}"
        for where, text in sources.items()
        for name, value in secrets.items()
        if value and value in text
    ]
    value = f"{len(found)} leaks in {len(sources)} sources ({_size(sources)})"
    return Check("secrets found in captured output", value, not found, found)


def _size(sources: Mapping[str, str]) -> str:
    total = sum(len(text) for text in sources.values())
    return f"{total / 1_000_000:.1f} MB scanned"


def as_text(data: object) -> str:
    """Anything captured, as text to search (JSON for structures)."""
    return data if isinstance(data, str) else json.dumps(data, default=str)
