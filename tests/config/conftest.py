"""Shared helpers for config tests: a small valid rule set and ways to break it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config.loader import load_rules
from config.settings import Settings, env_name
from domain.errors import ConfigError, ConfigProblem

# Small but complete: every cross-reference check passes on it.
MINIMAL = """\
version: 1
jira:
  projects: [MODREQ]
  status_mapping:
    RECEIVED: Open
    NEEDS_INFO: Waiting for requester
    EXPERT_REVIEW: In review
    SIGN_OFF: Awaiting approval
    SOP_UPDATE: Implementing
    DONE: Done
    REJECTED: Rejected
    CANCELLED: Cancelled
fields:
  request_type: {jira: Request type, label: Request type, kind: option}
  domain: {jira: Domain, label: Domain, kind: option}
  market: {jira: Market, label: Market, kind: option}
  summary: {jira: summary, label: Summary}
request_types:
  listing_policy_change:
    label: Listing policy change
    jira_value: Listing policy change
    required_fields: [request_type, domain, market, summary]
  qa_dispute:
    label: QA dispute
    jira_value: QA dispute
    required_fields: [request_type, domain, market]
domains:
  product_listing: {label: Product listing, jira_value: Product listing}
  content: {label: Content, jira_value: Content}
markets: [MY, SG]
calendars:
  kuala_lumpur: {timezone: Asia/Kuala_Lumpur, country: MY}
teams:
  qa:
    name: QA
    slack_channel: C0QA00001
    roster: [U0QA00001, U0QA00002]
    leads: [U0QA00001]
    calendar: kuala_lumpur
  listing_experts:
    name: Listing experts
    slack_channel: C0EX00001
    roster: [U0EX00001]
    leads: [U0EX00001]
    calendar: kuala_lumpur
sla_policies:
  standard:
    targets:
      EXPERT_REVIEW: {P1: 4h, P2: 1d, P3: 5d, P4: 10d}
      SIGN_OFF: {P1: 8h, P2: 2d, P3: 5d, P4: 10d}
      SOP_UPDATE: {P1: 1d, P2: 2d, P3: 5d, P4: 10d}
    escalation:
      - {at: 0.5, actions: [remind_assignee]}
      - {at: 0.75, actions: [dm_lead]}
      - {at: 1.0, actions: [channel_post, jira_breach], jira_label: sla-breached}
routing:
  - name: listing-policy
    match: {request_type: listing_policy_change}
    expert_team: listing_experts
    signoff:
      - {team: qa, quorum: {n_of: 2}}
    sla_policy: standard
  - name: catch-all
    expert_team: listing_experts
    signoff:
      - {team: qa, quorum: any}
    sla_policy: standard
out_of_office:
  - {approver: U0QA00002, delegate: U0QA00001, start: 2026-12-21, until: 2027-01-01}
"""


def edit(text: str, old: str, new: str) -> str:
    """`text` with its one occurrence of `old` replaced (fails loudly if the fixture drifts)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the one line containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[[str], Path]:
    """Write rules text to a file beside an existing `sops/` folder; return its path."""
    (tmp_path / "sops").mkdir(exist_ok=True)

    def write(text: str) -> Path:
        path = tmp_path / "rules.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def problems_in(write_rules: Callable[[str], Path]) -> Callable[[str], list[ConfigProblem]]:
    """Load rules text and return the problems it raises (fails if it loads cleanly)."""

    def problems(text: str) -> list[ConfigProblem]:
        with pytest.raises(ConfigError) as caught:
            load_rules(write_rules(text))
        return caught.value.problems

    return problems


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No GOVFLOW_* variables and no `.env` file, whatever the developer's shell holds."""
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)
    monkeypatch.chdir(tmp_path)
    yield
