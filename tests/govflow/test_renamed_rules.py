"""Every name a rules file may choose is honoured: the shipped rules, renamed, still work.

The shipped `config/rules.yaml` is rewritten with every renameable key and name changed
(teams and their display names, calendars, SLA policies, request types and their Jira
values, domains, route names, ticket fields, the request type field), written to a file,
loaded and checked like any admin's, and a request is walked from ticket to DONE on it.
A name used literally anywhere in the code instead of read from the rules breaks the walk.
The `domain` and `market` field keys are fixed by the schema (routing reads them), so they
keep their names.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.assessment import Assessment, Recommendation, Risk
from domain.lifecycle import Claim, Decide, Event, PublishSop, RequestState, SubmitAssessment
from domain.people import Person
from domain.rules import SLACK_USER_ID, Rules
from domain.signoff import Verdict
from domain.stages import Stage
from domain.ticket import FieldValue, Ticket
from govflow.advance import advance_request
from govflow.effects import EffectContext
from govflow.intake import IntakeContext, IntakeOutcome, record_ticket
from govflow.sop_import import import_sops
from integrations.db.engine import make_sessionmaker
from integrations.db.events import record_event
from integrations.db.models import OutboxRow, RequestRow

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # a Monday
SOP = "SOP-LST-001"
FIXED_FIELDS = {"domain", "market"}
CHANGE = (
    "### 4.2 Identify the item\n\n"
    "1. Decide what the item actually is from the images first.\n"
    "2. A refurbished phone is listed as refurbished only with a grading certificate.\n"
)


def new(key: str) -> str:
    """The renamed form of a rules key (still a valid key)."""
    return f"our_{key}"


def renamed(data: dict[str, Any]) -> dict[str, Any]:
    """The rules, as plain data, with every renameable key and name changed."""
    teams = {t: new(t) for t in data["teams"]}
    fields = {f: (f if f in FIXED_FIELDS else new(f)) for f in data["fields"]}
    types = {t: new(t) for t in data["request_types"]}
    domains = {d: new(d) for d in data["domains"]}
    calendars = {c: new(c) for c in data["calendars"]}
    policies = {p: new(p) for p in data["sla_policies"]}
    out = dict(data)
    out["jira"] = {**data["jira"], "request_type_field": fields[data["jira"]["request_type_field"]]}
    out["fields"] = {
        fields[k]: {**v, "label": f"Our {v['label']}"} for k, v in data["fields"].items()
    }
    out["request_types"] = {
        types[k]: {
            **v,
            "jira_value": f"Ours: {v['jira_value']}",
            "label": f"Our {v['label']}",
            "required_fields": [fields[f] for f in v["required_fields"]],
        }
        for k, v in data["request_types"].items()
    }
    out["domains"] = {
        domains[k]: {**v, "jira_value": f"Ours: {v['jira_value']}", "label": f"Our {v['label']}"}
        for k, v in data["domains"].items()
    }
    out["calendars"] = {calendars[k]: v for k, v in data["calendars"].items()}
    out["teams"] = {
        teams[k]: {**v, "name": f"Our {v['name']}", "calendar": calendars[v["calendar"]]}
        for k, v in data["teams"].items()
    }
    out["sla_policies"] = {policies[k]: v for k, v in data["sla_policies"].items()}
    out["routing"] = [
        {
            **route,
            "name": new(route["name"]),
            "match": {
                "request_type": [types[t] for t in route["match"]["request_type"]]
                if route["match"].get("request_type") is not None
                else None,
                "domain": [domains[d] for d in route["match"]["domain"]]
                if route["match"].get("domain") is not None
                else None,
                "market": route["match"].get("market"),
            },
            "expert_team": teams[route["expert_team"]],
            "signoff": [{**s, "team": teams[s["team"]]} for s in route["signoff"]],
            "sla_policy": policies[route["sla_policy"]],
            "sop_owner_team": teams[route["sop_owner_team"]]
            if route.get("sop_owner_team")
            else None,
        }
        for route in data["routing"]
    ]
    training = (data.get("sops") or {}).get("training")
    if training:
        attest = [teams[t] for t in training["attest_teams"]]
        out["sops"] = {**data["sops"], "training": {**training, "attest_teams": attest}}
    return out


@pytest.fixture(scope="module")
def shipped() -> Rules:
    return load_rules(DEFAULT_RULES)


@pytest.fixture(scope="module")
def ours(shipped: Rules, tmp_path_factory: pytest.TempPathFactory) -> tuple[Rules, Path]:
    """The renamed rules, written to a file beside a copy of the SOPs (renamed too), loaded."""
    folder = tmp_path_factory.mktemp("rules")
    sops = folder / shipped.sops.directory
    shutil.copytree(DEFAULT_RULES.parent / shipped.sops.directory, sops)
    for document in sops.glob("*.md"):
        # SOP documents name their owner team and domain by the rules' keys.
        text = document.read_text()
        for name in ("owner_team", "domain"):
            text = re.sub(rf"^{name}: (\w+)$", rf"{name}: {new('')}\1", text, flags=re.M)
        document.write_text(text)
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(renamed(shipped.model_dump(mode="json")), sort_keys=False))
    return load_rules(path), sops


def person(entry: str) -> Person:
    """The person a roster entry names."""
    return Person(slack_id=entry) if SLACK_USER_ID.match(entry) else Person(email=entry)


class Walk:
    """One request recorded, routed and advanced through the ledger, as the runner would."""

    ids = count(1)

    def __init__(
        self, ledger: Engine, rules: Rules, sops: Path, values: dict[str, FieldValue]
    ) -> None:
        self.sessions = make_sessionmaker(ledger)
        self.rules = rules
        self.now = NOW
        ticket = Ticket(
            key="MODREQ-77",
            id="77",
            project="MODREQ",
            summary="Refurbished phones need grading proof",
            priority_name="Medium",
            reporter_account_id="acc-chloe",
            reporter_email="chloe.tan@example.com",
            reporter_name="Chloe",
            updated=NOW,
            values=values,
        )
        with self.sessions.begin() as session:
            assert SOP in import_sops(session, sops, NOW, rules=rules).new
            context = IntakeContext(rules=rules, jira_browse_url="https://jira.example")
            assert record_ticket(session, ticket, context, NOW) is IntakeOutcome.ROUTED
            found = session.scalar(select(RequestRow.id).where(RequestRow.jira_key == "MODREQ-77"))
            assert found is not None
            self.request_id: int = found

    def state(self) -> RequestState:
        with self.sessions.begin() as session:
            row = session.get(RequestRow, self.request_id)
            assert row is not None and row.state is not None
            return RequestState.model_validate(row.state)

    def do(self, *events: Event) -> None:
        """Record `events` and advance; every one must be applied."""
        with self.sessions.begin() as session:
            for event in events:
                record_event(
                    session,
                    request_id=self.request_id,
                    kind=event.kind,
                    actor=event.actor.slack_id or event.actor.email,
                    payload=event.model_dump(mode="json"),
                    dedupe_key=event.event_id,
                    now=self.now,
                )
        self.now += timedelta(minutes=5)
        context = EffectContext(rules=self.rules, jira_browse_url="https://jira.example")
        with self.sessions.begin() as session:
            summary = advance_request(session, self.request_id, context, self.now)
        assert (summary.applied, summary.refused) == (len(events), 0)

    def meta(self, who: Person) -> dict[str, object]:
        return {"event_id": f"evt-{next(self.ids)}", "actor": who, "at": self.now}

    def to_done(self) -> list[Stage]:
        """Claim, assess, every team approves, the owner publishes; the stages passed."""
        state = self.state()
        stages = [state.stage]
        expert = person(self.rules.teams[state.expert_team].roster[0])
        assessment = Assessment(
            recommendation=Recommendation.PROCEED,
            risk=Risk.MEDIUM,
            proposed_change=CHANGE,
            affected_sops=(SOP,),
            rationale="Appeals doubled.",
            author=expert,
            submitted_at=self.now,
        )
        self.do(
            Claim.model_validate(self.meta(expert)),
            SubmitAssessment.model_validate({**self.meta(expert), "assessment": assessment}),
        )
        state = self.state()
        stages.append(state.stage)
        clicks = [
            Decide.model_validate(
                {**self.meta(person(entry)), "team": p.team, "verdict": Verdict.APPROVE}
            )
            for p in state.waiting_on(self.rules).signoff
            for entry in self.rules.teams[p.team].roster[: p.required]
        ]
        self.do(*clicks)
        state = self.state()
        stages.append(state.stage)
        owner = person(self.rules.teams[state.owner_team].roster[0])
        self.do(PublishSop.model_validate(self.meta(owner)))
        stages.append(self.state().stage)
        return stages


SHIPPED_TICKET: dict[str, FieldValue] = {
    "request_type": "Review standard change",
    "domain": "Product listing",
    "market": "SG",
    "summary": "Refurbished phones need grading proof",
    "description": "Refurbished phones are rejected inconsistently across BPO sites.",
    "business_justification": "Appeals on refurbished phones doubled this quarter.",
    "affected_sop": SOP,
    "proposed_change": "Accept refurbished phones that carry a grading certificate.",
}
WALK = [Stage.EXPERT_REVIEW, Stage.SIGN_OFF, Stage.SOP_UPDATE, Stage.DONE]


def test_the_shipped_rules_walk_to_done(ledger: Engine, shipped: Rules) -> None:
    """The baseline: the walk works on the rules as shipped."""
    sops = DEFAULT_RULES.parent / shipped.sops.directory
    assert Walk(ledger, shipped, sops, SHIPPED_TICKET).to_done() == WALK


def test_renamed_rules_walk_to_done(ledger: Engine, ours: tuple[Rules, Path]) -> None:
    """Every key and name changed: the same ticket, in our words, walks the same way."""
    rules, sops = ours
    assert not set(rules.teams) & {"qa", "bpo_ops", "listing_experts"}
    values = {
        (k if k in FIXED_FIELDS else new(k)): (
            f"Ours: {v}" if k in {"request_type", "domain"} else v
        )
        for k, v in SHIPPED_TICKET.items()
    }
    walk = Walk(ledger, rules, sops, values)
    assert walk.state().expert_team == "our_listing_experts"
    assert walk.to_done() == WALK
    with walk.sessions.begin() as session:
        query = select(OutboxRow.payload).where(OutboxRow.request_id == walk.request_id)
        said = json.dumps(list(session.scalars(query)))
    shipped_names = [t.name for t in load_rules(DEFAULT_RULES).teams.values()]
    # Every team is named as the rules name it: no message carries a shipped team's name.
    found = [m for n in shipped_names for m in re.finditer(rf"(?<!Our ){re.escape(n)}", said)]
    assert [said[m.start() - 60 : m.end() + 20] for m in found] == []
